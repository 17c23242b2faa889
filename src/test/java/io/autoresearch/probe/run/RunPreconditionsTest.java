package io.autoresearch.probe.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoresearch.probe.process.ProcessRunner;
import io.autoresearch.probe.results.ResultsValidator;
import io.autoresearch.probe.run.FakeProject.CapturedConsole;
import io.autoresearch.probe.setup.Backend;
import io.autoresearch.probe.support.ExitCode;
import io.autoresearch.probe.support.ProbeException;
import io.autoresearch.probe.uv.UvLocator;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Checks that run before uv is looked for, so these tests need no uv. */
class RunPreconditionsTest {
    private static final Clock CLOCK = Clock.fixed(Instant.parse("2026-12-04T10:15:30Z"), ZoneOffset.UTC);

    @TempDir
    Path root;

    private final CapturedConsole captured = new CapturedConsole();

    /** Creates a service whose locator has an empty PATH, so any step that reaches uv fails. */
    private RunService service() {
        UvLocator noUv = new UvLocator(root.resolve("tool-home"), Map.of("PATH", ""));
        return new RunService(noUv, new ProcessRunner(), new ResultsValidator(), captured.console, CLOCK,
                new Random(7));
    }

    private ProbeException runExpectingError(Path codeDir) {
        return assertThrows(ProbeException.class, () -> service().run(new RunRequest(codeDir, false, false, null)));
    }

    @Test
    void backendWithoutProbesIsUsageError() throws IOException {
        Path codeDir = FakeProject.create(root, List.of("lens_a", "lens_b"));
        FakeProject.setBackend(codeDir, "lens_b", "transformer_lens");

        ProbeException error = assertThrows(ProbeException.class,
                () -> service().run(new RunRequest(codeDir, false, false, null, Backend.NNSIGHT)));

        assertEquals(ExitCode.USAGE, error.exitCode());
        assertTrue(error.getMessage().contains("is set up for --backend nnsight"), error.getMessage());
        // lens_a's manifest entry predates backends, so it counts as transformer_lens.
        assertTrue(error.getMessage().contains("lens_a (transformer_lens), lens_b (transformer_lens)"),
                error.getMessage());
    }

    @Test
    void missingCodeFolderIsUsageError() {
        ProbeException error = runExpectingError(root.resolve(".research/absent/code"));

        assertEquals(ExitCode.USAGE, error.exitCode());
        assertTrue(error.getMessage().contains("research project not found"), error.getMessage());
    }

    @Test
    void missingManifestIsUsageError() throws IOException {
        Path codeDir = FakeProject.create(root, List.of("lens_a"));
        Files.delete(codeDir.resolve(".auto-research/manifest.json"));

        ProbeException error = runExpectingError(codeDir);

        assertEquals(ExitCode.USAGE, error.exitCode());
        assertTrue(error.getMessage().contains("setup manifest not found"), error.getMessage());
    }

    @Test
    void manifestWithoutProbesIsUsageError() throws IOException {
        Path codeDir = FakeProject.create(root, List.of());

        ProbeException error = runExpectingError(codeDir);

        assertEquals(ExitCode.USAGE, error.exitCode());
        assertTrue(error.getMessage().contains("lists no probes"), error.getMessage());
    }

    @Test
    void missingScriptIsUsageError() throws IOException {
        Path codeDir = FakeProject.create(root, List.of("lens_a"));

        ProbeException error = runExpectingError(codeDir);

        assertEquals(ExitCode.USAGE, error.exitCode());
        assertTrue(error.getMessage().contains("script not found"), error.getMessage());
        assertTrue(error.getMessage().contains("lens_a.py"), error.getMessage());
    }

    @Test
    void scriptOutsideCodeFolderIsUsageError() throws IOException {
        Path codeDir = FakeProject.create(root, List.of("lens_a"));
        Files.writeString(root.resolve("evil.py"), "print('outside')\n");
        Path manifest = codeDir.resolve(".auto-research/manifest.json");
        Files.writeString(manifest, Files.readString(manifest).replace("analysis/lens_a.py", "../../../evil.py"));

        ProbeException error = runExpectingError(codeDir);

        assertEquals(ExitCode.USAGE, error.exitCode());
        assertTrue(error.getMessage().contains("is not inside"), error.getMessage());
    }

    @Test
    void scriptLinkedOutsideCodeFolderIsUsageError() throws IOException {
        Path codeDir = FakeProject.create(root, List.of("lens_a"));
        Path outside = Files.writeString(root.resolve("evil.py"), "print('outside')\n");
        Files.createSymbolicLink(codeDir.resolve("analysis/lens_a.py"), outside);

        ProbeException error = runExpectingError(codeDir);

        assertEquals(ExitCode.USAGE, error.exitCode());
        assertTrue(error.getMessage().contains("symbolic link"), error.getMessage());
    }

    @Test
    void invalidManifestJsonIsUsageError() throws IOException {
        Path codeDir = FakeProject.create(root, List.of("lens_a"));
        Files.writeString(codeDir.resolve(".auto-research/manifest.json"), "{\"probes\": [");

        ProbeException error = runExpectingError(codeDir);

        assertEquals(ExitCode.USAGE, error.exitCode());
        assertTrue(error.getMessage().contains("invalid setup manifest"), error.getMessage());
    }

    @Test
    void missingUvWithoutInstallIsEnvironmentError() throws IOException {
        Path codeDir = FakeProject.create(root, List.of("lens_a"));
        FakeProject.writeScript(codeDir, "lens_a", "print('never runs')\n");

        ProbeException error = runExpectingError(codeDir);

        assertEquals(ExitCode.ENVIRONMENT, error.exitCode());
        assertTrue(error.getMessage().contains("uv not found"), error.getMessage());
        assertFalse(Files.exists(codeDir.resolve(".auto-research/logs")), "nothing may run");
    }

    @Test
    void scriptEnvironmentIsOfflineByDefault() {
        Map<String, String> environment = RunService.scriptEnvironment("20261204-101530-abcdef0-123456", false);

        assertEquals("20261204-101530-abcdef0-123456", environment.get("AUTO_RESEARCH_RUN_ID"));
        assertEquals("1", environment.get("HF_HUB_OFFLINE"));
        assertEquals("1", environment.get("TRANSFORMERS_OFFLINE"));
        assertEquals("1", environment.get("PYTHONUNBUFFERED"));
    }

    @Test
    void scriptEnvironmentOnlineLeavesHubReachable() {
        Map<String, String> environment = RunService.scriptEnvironment("20261204-101530-abcdef0-123456", true);

        assertFalse(environment.containsKey("HF_HUB_OFFLINE"));
        assertFalse(environment.containsKey("TRANSFORMERS_OFFLINE"));
        assertEquals("1", environment.get("PYTHONUNBUFFERED"));
    }

    @Test
    void logNameReplacesPyExtension() {
        assertEquals("logit_lens_20261204.log", RunService.logName(Path.of("analysis/logit_lens_20261204.py")));
        assertEquals("script.sh.log", RunService.logName(Path.of("analysis/script.sh")));
    }
}
