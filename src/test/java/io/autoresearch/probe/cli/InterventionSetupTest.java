package io.autoresearch.probe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.autoresearch.probe.setup.Fixtures;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Setup of the attention-pattern, activation-patching and path-patching probes: each renders
 * its own template with the inputs it reads, copies its input file and byte-compiles.
 */
class InterventionSetupTest {
    @TempDir
    Path root;

    private Path code;
    private Path model;
    private Path pairs;

    @BeforeEach
    void createProject() throws IOException {
        code = Fixtures.project(root, "circuit-study", "circuit-study");
        model = Fixtures.modelFolder(root.resolve("models").resolve("tiny"), 3);
        pairs = Fixtures.pairsFile(root.resolve("inputs").resolve("swap pairs.jsonl"));
    }

    private CliRun setup(String intervention, String... extra) {
        List<String> args = new ArrayList<>(List.of("probe", "setup", "circuit-study", "--intervention", intervention,
                "--model", model.toString(), "--root", root.toString(), "--hypothesis", "it's K-composition"));
        args.addAll(List.of(extra));
        return CliRun.execute(root, args.toArray(String[]::new));
    }

    @Test
    void attentionPatternNeedsNoInputFile() throws IOException {
        CliRun run = setup("attention_pattern", "--seq-len", "12", "--layers", "1-2");

        assertEquals(0, run.exitCode(), run.err());
        Path script = code.resolve("analysis/attention_pattern_20261204.py");
        String text = Files.readString(script);
        assertTrue(text.contains("PROBE_ID = 'attention_pattern_layers_1_to_2'"), text);
        assertTrue(text.contains("SEQ_LEN = 12"), text);
        assertTrue(text.contains("LAYERS = [1, 2]"), text);
        assertTrue(text.contains("HYPOTHESIS = 'it\\'s K-composition'"), text);
        assertTrue(text.contains("run_attention_pattern"), text);
        assertFalse(Files.exists(code.resolve("data")), "attention_pattern copied an input file");
        assertCompiles(script);
    }

    @Test
    void activationPatchingCopiesPairs() throws IOException {
        CliRun run = setup("activation_patching", "--pairs", pairs.toString());

        assertEquals(0, run.exitCode(), run.err());
        Path script = code.resolve("analysis/activation_patching_20261204.py");
        String text = Files.readString(script);
        assertTrue(text.contains("PROBE_ID = 'activation_patching_layers_0_to_2'"), text);
        assertTrue(text.contains("PAIRS_PATH = 'data/swap pairs.jsonl'"), text);
        assertTrue(text.contains("LAYERS = None"), text);
        assertTrue(text.contains("run_activation_patching"), text);
        assertEquals(Files.readString(pairs), Files.readString(code.resolve("data/swap pairs.jsonl")));
        assertCompiles(script);
    }

    @Test
    void pathPatchingNamesReceiverAndReusesPairs() throws IOException {
        Fixtures.pairsFile(code.resolve("data/pairs.jsonl"));

        CliRun run = setup("path_patching", "--receiver", "l2h3");

        assertEquals(0, run.exitCode(), run.err());
        Path script = code.resolve("analysis/path_patching_20261204.py");
        String text = Files.readString(script);
        assertTrue(text.contains("PROBE_ID = 'path_patching_receiver_l2h3'"), text);
        assertTrue(text.contains("RECEIVER = 'L2H3'"), text);
        assertTrue(text.contains("PAIRS_PATH = 'data/pairs.jsonl'"), text);
        assertTrue(text.contains("run_path_patching"), text);
        assertCompiles(script);
    }

    @Test
    void everyProbeIsListedInTheManifestAndHypothesisScript() throws IOException {
        assertEquals(0, setup("attention_pattern").exitCode());
        assertEquals(0, setup("activation_patching", "--pairs", pairs.toString()).exitCode());
        CliRun last = setup("path_patching", "--pairs", pairs.toString());
        assertEquals(0, last.exitCode(), last.err());

        JsonNode manifest = new ObjectMapper().readTree(code.resolve(".auto-research/manifest.json").toFile());
        List<String> interventions = new ArrayList<>();
        manifest.path("probes").forEach(probe -> interventions.add(probe.path("intervention").asText()));
        assertEquals(List.of("attention_pattern", "activation_patching", "path_patching"), interventions);
        String main = Files.readString(code.resolve("analysis/circuit-study.py"));
        for (String probeId : List.of("attention_pattern_layers_0_to_2", "activation_patching_layers_0_to_2",
                "path_patching_receiver_auto")) {
            assertTrue(main.contains("('" + probeId + "', "), main);
        }
    }

    /** Byte-compiles {@code script} with python3, the check that the render is valid Python. */
    private static void assertCompiles(Path script) throws IOException {
        Process process = new ProcessBuilder("python3", "-m", "py_compile", script.toString())
                .redirectErrorStream(true).start();
        try {
            assertTrue(process.waitFor(60, TimeUnit.SECONDS), "py_compile did not finish");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
        String output = new String(process.getInputStream().readAllBytes());
        assertEquals(0, process.exitValue(), output);
    }

    @Test
    void probeIdOfAnotherInterventionIsRejected() throws IOException {
        assertEquals(0, setup("attention_pattern", "--probe-id", "shared").exitCode());
        String script = Files.readString(code.resolve("analysis/attention_pattern_20261204.py"));

        CliRun clash = setup("activation_patching", "--pairs", pairs.toString(), "--probe-id", "shared");

        assertEquals(2, clash.exitCode(), clash.err());
        assertTrue(clash.err().contains("probe id 'shared' already belongs to the attention_pattern probe"),
                clash.err());
        assertEquals(script, Files.readString(code.resolve("analysis/attention_pattern_20261204.py")));
    }
}
