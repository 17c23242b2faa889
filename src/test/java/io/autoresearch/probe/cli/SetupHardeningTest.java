package io.autoresearch.probe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoresearch.probe.setup.Fixtures;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Setup options that decide what the generated scripts may do: {@code --trust-remote-code},
 * which lets the model run its own Python code and is off unless given, and {@code --layers}
 * given in any order.
 */
class SetupHardeningTest {
    private static final String SCRIPT = "analysis/logit_lens_20261204.py";

    @TempDir
    Path root;

    private Path code;
    private Path model;
    private Path prompts;

    @BeforeEach
    void createProject() throws IOException {
        code = Fixtures.project(root, "lens-study", "lens-study");
        model = Fixtures.modelFolder(root.resolve("models/tiny"), 2);
        prompts = Fixtures.promptsFile(root.resolve("inputs/prompts.jsonl"));
    }

    private CliRun setup(String... extra) {
        List<String> args = new ArrayList<>(List.of("probe", "setup", "lens-study", "--intervention", "logit_lens",
                "--model", model.toString(), "--prompts", prompts.toString(), "--root", root.toString()));
        args.addAll(List.of(extra));
        return CliRun.execute(new ProbeContext(Map.of("PATH", ""), root, root, CliRun.FIXED_CLOCK),
                args.toArray(String[]::new));
    }

    @Test
    void remoteCodeIsOffByDefault() throws IOException {
        CliRun run = setup();

        assertEquals(0, run.exitCode(), run.err());
        assertFalse(Files.readString(code.resolve(SCRIPT)).contains("trust_remote_code"));
        assertFalse(run.err().contains("trust-remote-code"), run.err());
    }

    @Test
    void trustRemoteCodeIsRenderedAndWarned() throws Exception {
        CliRun run = setup("--trust-remote-code");

        assertEquals(0, run.exitCode(), run.err());
        String script = Files.readString(code.resolve(SCRIPT));
        assertTrue(script.contains("        script_path=__file__,\n        # WARNING: set up with --trust-remote-code."),
                script);
        assertTrue(script.contains("        trust_remote_code=True,\n    )\n"), script);
        assertTrue(run.err().contains("warning: *** --trust-remote-code: the script " + SCRIPT + " lets model '"
                + model + "' run Python code"), run.err());
        assertTrue(run.err().contains("read it before `probe run`"), run.err());
        assertByteCompiles(code.resolve(SCRIPT));
    }

    @Test
    void rerunWithoutFlagTurnsRemoteCodeOff() throws IOException {
        assertEquals(0, setup("--trust-remote-code").exitCode());

        CliRun run = setup();

        assertEquals(0, run.exitCode(), run.err());
        assertFalse(Files.readString(code.resolve(SCRIPT)).contains("trust_remote_code"));
    }

    @Test
    void layersGivenBackwardsAreSorted() throws IOException {
        CliRun run = setup("--layers", "2,0,1");

        assertEquals(0, run.exitCode(), run.err());
        String script = Files.readString(code.resolve(SCRIPT));
        assertTrue(script.contains("PROBE_ID = 'logit_lens_layers_0_to_2'"), script);
        assertTrue(script.contains("LAYERS = [0, 1, 2]"), script);
    }

    private static void assertByteCompiles(Path script) throws Exception {
        Process python = new ProcessBuilder("python3", "-c",
                "import sys; compile(open(sys.argv[1], 'rb').read(), sys.argv[1], 'exec')", script.toString())
                .redirectErrorStream(true).start();
        String output = new String(python.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, python.waitFor(), output);
    }
}
