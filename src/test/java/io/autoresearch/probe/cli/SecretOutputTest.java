package io.autoresearch.probe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoresearch.probe.run.FakeProject;
import io.autoresearch.probe.support.ExitCode;
import io.autoresearch.probe.uv.UvLocator;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A script that prints NDIF_API_KEY and HF_TOKEN on stdout and stderr and then fails with an
 * error that quotes one of them. The run's output, its failure report and its log files show
 * {@code [redacted]} in their place, while the script itself still receives the real values.
 */
@Tag("uv")
class SecretOutputTest {
    static final String NDIF_KEY = "ndif-dummy-secret-0123456789";
    static final String HF_TOKEN = "hf_dummySecretToken0123456789";

    @TempDir
    Path root;

    @Test
    void scriptOutputHidesSecrets() throws IOException {
        Path codeDir = FakeProject.create(root, List.of("lens_a"));
        FakeProject.writeScript(codeDir, "lens_a", """
                import os, sys
                key, token = os.environ["NDIF_API_KEY"], os.environ["HF_TOKEN"]
                print("key is", key)
                print("token is", token, file=sys.stderr)
                print("lengths", len(key), len(token))
                raise RuntimeError(f"remote call failed with key {key}")
                """);
        Map<String, String> environment = new HashMap<>(System.getenv());
        environment.put(UvLocator.TOOL_HOME_VARIABLE, FakeProject.TEST_TOOL_HOME.toString());
        environment.put("NDIF_API_KEY", NDIF_KEY);
        environment.put("HF_TOKEN", HF_TOKEN);
        ProbeContext context = new ProbeContext(environment, root, root, CliRun.FIXED_CLOCK);

        CliRun run = CliRun.execute(context, "probe", "run", "fake-study", "--verbose", "--root", root.toString());

        assertEquals(ExitCode.SCRIPT_FAILED.code(), run.exitCode(), run.err());
        String output = run.out() + run.err();
        assertFalse(output.contains(NDIF_KEY), output);
        assertFalse(output.contains(HF_TOKEN), output);
        assertTrue(output.contains("key is [redacted]"), output);
        assertTrue(output.contains("token is [redacted]"), output);
        assertTrue(output.contains("RuntimeError: remote call failed with key [redacted]"), output);
        // The script saw the real values, which are longer than the placeholder.
        assertTrue(output.contains("lengths " + NDIF_KEY.length() + " " + HF_TOKEN.length()), output);
        assertNoSecretIn(root);
    }

    /** Fails when any file below {@code folder} contains one of the dummy secrets. */
    static void assertNoSecretIn(Path folder) throws IOException {
        List<Path> files;
        try (Stream<Path> paths = Files.walk(folder)) {
            files = paths.filter(Files::isRegularFile).toList();
        }
        for (Path file : files) {
            String content = new String(Files.readAllBytes(file), java.nio.charset.StandardCharsets.ISO_8859_1);
            assertFalse(content.contains(NDIF_KEY), "NDIF_API_KEY in " + file);
            assertFalse(content.contains(HF_TOKEN), "HF_TOKEN in " + file);
        }
    }
}
