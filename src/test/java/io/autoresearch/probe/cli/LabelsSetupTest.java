package io.autoresearch.probe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoresearch.probe.setup.Fixtures;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Setup of the probing and SAE feature lookup probes and the activation-patching method: each
 * option reaches the script, and each bad input is a usage error that leaves the project as it was.
 */
class LabelsSetupTest {
    @TempDir
    Path root;

    private Path code;
    private Path model;
    private Path labels;

    @BeforeEach
    void createProject() throws IOException {
        code = Fixtures.project(root, "repeat-study", "repeat-study");
        model = Fixtures.modelFolder(root.resolve("models").resolve("tiny"), 3);
        labels = writeLabels(root.resolve("inputs").resolve("repeat labels.jsonl"), 6, 6);
    }

    private static Path writeLabels(Path file, int repeats, int news) throws IOException {
        Files.createDirectories(file.getParent());
        StringBuilder lines = new StringBuilder();
        for (int i = 0; i < repeats; i++) {
            lines.append("{\"text\": \"a b c a").append(i).append("\", \"label\": 1}\n");
        }
        for (int i = 0; i < news; i++) {
            lines.append("{\"text\": \"a b c d").append(i).append("\", \"label\": \"0\"}\n");
        }
        Files.writeString(file, lines.toString());
        return file;
    }

    private CliRun setup(String intervention, String... extra) {
        List<String> args = new ArrayList<>(List.of("probe", "setup", "repeat-study", "--intervention", intervention,
                "--model", model.toString(), "--root", root.toString(), "--hypothesis", "repeats are encoded"));
        args.addAll(List.of(extra));
        return CliRun.execute(root, args.toArray(String[]::new));
    }

    @Test
    void probingRendersEveryOptionAndCopiesLabels() throws IOException {
        CliRun run = setup("probing", "--labels", labels.toString(), "--hook", "mlp_out", "--position", "mean",
                "--folds", "3", "--layers", "0,2");

        assertEquals(0, run.exitCode(), run.err());
        Path script = code.resolve("analysis/probing_20261204.py");
        String text = Files.readString(script);
        assertTrue(text.contains("PROBE_ID = 'probing_layers_0_to_2'"), text);
        assertTrue(text.contains("LABELS_PATH = 'data/repeat labels.jsonl'"), text);
        assertTrue(text.contains("HOOK = 'mlp_out'"), text);
        assertTrue(text.contains("POSITION = 'mean'"), text);
        assertTrue(text.contains("FOLDS = 3"), text);
        assertTrue(text.contains("LAYERS = [0, 2]"), text);
        assertTrue(text.contains("run_probing"), text);
        assertEquals(Files.readString(labels), Files.readString(code.resolve("data/repeat labels.jsonl")));
        assertCompiles(script);
    }

    @Test
    void saeSetupRendersTrainingOptions() throws IOException {
        CliRun run = setup("sae_feature_lookup", "--labels", labels.toString(), "--layers", "1",
                "--target-label", "1", "--target-token", " a", "--top-k", "5", "--sae-width", "128");

        assertEquals(0, run.exitCode(), run.err());
        Path script = code.resolve("analysis/sae_feature_lookup_20261204.py");
        String text = Files.readString(script);
        assertTrue(text.contains("PROBE_ID = 'sae_feature_lookup_layer_1'"), text);
        assertTrue(text.contains("LAYERS = [1]"), text);
        assertTrue(text.contains("SAE_PATH = None"), text);
        assertTrue(text.contains("SAE_WIDTH = 128"), text);
        assertTrue(text.contains("TARGET_LABEL = '1'"), text);
        assertTrue(text.contains("TARGET_TOKEN = ' a'"), text);
        assertTrue(text.contains("TOP_K = 5"), text);
        assertCompiles(script);
    }

    @Test
    void saeFolderInsideCodeIsRelative() throws IOException {
        Path sae = writeSae(code.resolve("saes/layer1"), 64);

        CliRun run = setup("sae_feature_lookup", "--labels", labels.toString(), "--layers", "1",
                "--sae", sae.toString());

        assertEquals(0, run.exitCode(), run.err());
        String text = Files.readString(code.resolve("analysis/sae_feature_lookup_20261204.py"));
        assertTrue(text.contains("SAE_PATH = 'saes/layer1'"), text);
        assertTrue(text.contains("SAE_WIDTH = None"), text);
    }

    @Test
    void attributionPatchingGetsItsOwnProbeId() throws IOException {
        Path pairs = Fixtures.pairsFile(root.resolve("inputs").resolve("pairs.jsonl"));

        CliRun run = setup("activation_patching", "--pairs", pairs.toString(), "--method", "attribution");

        assertEquals(0, run.exitCode(), run.err());
        String text = Files.readString(code.resolve("analysis/activation_patching_20261204.py"));
        assertTrue(text.contains("PROBE_ID = 'activation_patching_attribution_layers_0_to_2'"), text);
        assertTrue(text.contains("METHOD = 'attribution'"), text);
    }

    @Test
    void badInputIsRejectedBeforeAnythingIsWritten() throws IOException {
        Path oneClass = writeLabels(root.resolve("inputs/one-class.jsonl"), 8, 0);
        Path fewPerClass = writeLabels(root.resolve("inputs/few.jsonl"), 8, 3);
        Path noLabel = root.resolve("inputs/no-label.jsonl");
        Files.writeString(noLabel, "{\"text\": \"a b\", \"label\": 1}\n{\"text\": \"c d\"}\n");
        Path nullLabel = root.resolve("inputs/null-label.jsonl");
        Files.writeString(nullLabel, "{\"text\": \"a b\", \"label\": null}\n");
        Path badLabel = root.resolve("inputs/bad-label.jsonl");
        Files.writeString(badLabel, "{\"text\": \"a b\", \"label\": 1.5}\n");
        Path wideSae = writeSae(root.resolve("saes/wide"), 128);
        Path otherHookSae = writeSae(root.resolve("saes/layer1"), 64);
        Files.writeString(otherHookSae.resolve("cfg.json"), "{\"architecture\": \"standard\", \"d_in\": 64,"
                + " \"d_sae\": 256, \"metadata\": {\"hook_name\": \"blocks.1.hook_resid_post\"}}");
        Path pairs = Fixtures.pairsFile(root.resolve("inputs").resolve("pairs.jsonl"));
        Map<String, String> before = Fixtures.tree(code);

        Map<List<String>, String> cases = new java.util.LinkedHashMap<>();
        cases.put(List.of("probing", "--labels", oneClass.toString()), "has one class only ('1')");
        cases.put(List.of("probing", "--labels", fewPerClass.toString()),
                "fewer texts than --folds 5 in 1 of its 2 classes ('0': 3)");
        cases.put(List.of("probing", "--labels", noLabel.toString()), "line 2: missing key \"label\"");
        cases.put(List.of("probing", "--labels", badLabel.toString()), "\"label\" must be a non-empty string");
        cases.put(List.of("probing", "--labels", nullLabel.toString()), "line 1: \"label\" is null");
        cases.put(List.of("sae_feature_lookup", "--labels", labels.toString(), "--layers", "2", "--sae",
                otherHookSae.toString()), "was trained on blocks.1.hook_resid_post (hook_name in cfg.json), but this"
                        + " probe reads blocks.2.hook_resid_post");
        cases.put(List.of("probing", "--labels", labels.toString(), "--hook", "resid"), "invalid --hook 'resid'");
        cases.put(List.of("probing", "--labels", labels.toString(), "--position", "middle"),
                "invalid --position 'middle'");
        cases.put(List.of("probing", "--labels", labels.toString(), "--folds", "1"), "invalid --folds 1");
        cases.put(List.of("probing", "--labels", labels.toString(), "--sae", wideSae.toString()),
                "--sae applies to sae_feature_lookup only");
        cases.put(List.of("probing"), "missing --labels");
        cases.put(List.of("sae_feature_lookup", "--labels", labels.toString()),
                "sae_feature_lookup reads one layer, but --layers selects 3 layers");
        cases.put(List.of("sae_feature_lookup", "--labels", labels.toString(), "--layers", "1", "--sae",
                wideSae.toString()), "reads vectors of width 128 (d_in in cfg.json), but resid_post of model");
        cases.put(List.of("sae_feature_lookup", "--labels", labels.toString(), "--layers", "1", "--sae",
                root.resolve("inputs").toString()), "has no cfg.json");
        cases.put(List.of("sae_feature_lookup", "--labels", labels.toString(), "--layers", "1", "--target-label",
                "2"), "--target-label '2' does not occur in");
        cases.put(List.of("sae_feature_lookup", "--labels", labels.toString(), "--layers", "1", "--sae",
                wideSae.toString(), "--sae-width", "32"), "pass one of them");
        cases.put(List.of("activation_patching", "--pairs", pairs.toString(), "--method", "gradient"),
                "invalid --method 'gradient'");
        cases.put(List.of("logit_lens", "--method", "attribution"), "--method applies to activation_patching only");
        cases.put(List.of("attention_pattern", "--labels", labels.toString()),
                "--labels applies to probing and sae_feature_lookup only");
        for (Map.Entry<List<String>, String> entry : cases.entrySet()) {
            List<String> arguments = entry.getKey();
            CliRun run = setup(arguments.get(0), arguments.subList(1, arguments.size()).toArray(String[]::new));
            assertEquals(2, run.exitCode(), arguments + ": " + run.err());
            assertTrue(run.err().contains(entry.getValue()), arguments + ": " + run.err());
            assertEquals(before, Fixtures.tree(code), arguments + " changed the project");
        }
    }

    @Test
    void encoderAllowsProbingResidualHooksOnly() throws IOException {
        Path bert = root.resolve("models/bert");
        Files.createDirectories(bert);
        Files.write(bert.resolve("pytorch_model.bin"), new byte[0]);
        Files.writeString(bert.resolve("config.json"), "{\"model_type\": \"bert\", \"num_hidden_layers\": 6,"
                + " \"hidden_size\": 384, \"num_attention_heads\": 12, \"max_position_embeddings\": 512}");
        Path pairs = Fixtures.pairsFile(root.resolve("inputs").resolve("pairs.jsonl"));
        model = bert;

        CliRun patching = setup("activation_patching", "--pairs", pairs.toString());
        assertEquals(2, patching.exitCode(), patching.err());
        assertTrue(patching.err().contains("is a bert encoder, which TransformerLens cannot load"), patching.err());

        CliRun mlp = setup("probing", "--labels", labels.toString(), "--hook", "mlp_out");
        assertEquals(2, mlp.exitCode(), mlp.err());
        assertTrue(mlp.err().contains("use resid_pre or resid_post"), mlp.err());
        assertFalse(Files.exists(code.resolve("analysis/probing_20261204.py")));

        CliRun probing = setup("probing", "--labels", labels.toString(), "--position", "first");
        assertEquals(0, probing.exitCode(), probing.err());
        assertTrue(Files.readString(code.resolve("analysis/probing_20261204.py")).contains("LAYERS = None"));

        // Hidden state 6 of a 6-layer encoder is resid_pre of layer 6, the final residual stream.
        CliRun last = setup("probing", "--labels", labels.toString(), "--hook", "resid_pre", "--layers", "0-6",
                "--probe-id", "probing_embeddings_to_last");
        assertEquals(0, last.exitCode(), last.err());
        CliRun beyond = setup("probing", "--labels", labels.toString(), "--hook", "resid_post", "--layers", "6");
        assertEquals(2, beyond.exitCode(), beyond.err());
    }

    /** Writes an SAE folder in sae-lens's layout whose cfg.json declares input width {@code dIn}. */
    private static Path writeSae(Path folder, int dIn) throws IOException {
        Files.createDirectories(folder);
        Files.writeString(folder.resolve("cfg.json"), "{\"architecture\": \"standard\", \"d_in\": " + dIn
                + ", \"d_sae\": " + (4 * dIn) + "}");
        Files.write(folder.resolve("sae_weights.safetensors"), new byte[] {0});
        return folder;
    }

    private static void assertCompiles(Path script) throws IOException {
        Process process = new ProcessBuilder("python3", "-m", "py_compile", script.toString())
                .redirectErrorStream(true).start();
        try {
            assertTrue(process.waitFor(60, TimeUnit.SECONDS), "py_compile did not finish");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
        assertEquals(0, process.exitValue(), new String(process.getInputStream().readAllBytes()));
    }
}
