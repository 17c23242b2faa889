package io.autoresearch.probe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoresearch.probe.run.FakeProject;
import io.autoresearch.probe.support.ExitCode;
import io.autoresearch.probe.uv.UvLocator;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code probe run} through picocli, with the same error handling as {@link Main}. */
class RunCommandTest {
    @TempDir
    Path root;

    /** Runs {@code run} with {@code args}, with uv found on PATH or installed into the shared test tool home. */
    private CliRun execute(String... args) {
        Map<String, String> environment = new HashMap<>(System.getenv());
        environment.put(UvLocator.TOOL_HOME_VARIABLE, FakeProject.TEST_TOOL_HOME.toString());
        ProbeContext context = new ProbeContext(environment, root, root, CliRun.FIXED_CLOCK);
        CommandLine commandLine = new CommandLine(new RunCommand(context), new ContextFactory(context));
        commandLine.setExecutionExceptionHandler(new ErrorHandler());
        commandLine.setParameterExceptionHandler(new ErrorHandler());
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        commandLine.setOut(new PrintWriter(out, true));
        commandLine.setErr(new PrintWriter(err, true));
        int exitCode = commandLine.execute(args);
        return new CliRun(exitCode, out.toString(), err.toString());
    }

    @Test
    void invalidSlugIsUsageError() {
        CliRun run = execute("../escape");

        assertEquals(ExitCode.USAGE.code(), run.exitCode(), run.err());
        assertTrue(run.err().contains("invalid slug '../escape'"), run.err());
        assertEquals("", run.out());
    }

    @Test
    void nonPositiveTimeoutIsUsageError() {
        CliRun run = execute("fake-study", "--timeout", "0");

        assertEquals(ExitCode.USAGE.code(), run.exitCode(), run.err());
        assertTrue(run.err().contains("invalid --timeout 0"), run.err());
    }

    @Test
    void unknownBackendIsUsageError() {
        CliRun run = execute("fake-study", "--backend", "pytorch");

        assertEquals(ExitCode.USAGE.code(), run.exitCode(), run.err());
        assertTrue(run.err().contains("invalid --backend 'pytorch'; use transformer_lens, nnsight or auto"),
                run.err());
        assertEquals("", run.out());
    }

    @Test
    void backendWithoutProbesNamesTheProbesBackends() throws IOException {
        Path codeDir = FakeProject.create(root, List.of("lens_a"));
        FakeProject.writeScript(codeDir, "lens_a", FakeProject.resultsScript("lens_a", ""));

        CliRun run = execute("fake-study", "--root", root.toString(), "--backend", "nnsight");

        assertEquals(ExitCode.USAGE.code(), run.exitCode(), run.err());
        assertTrue(run.err().contains("--backend nnsight; the probes and their backends are lens_a"
                + " (transformer_lens)"), run.err());
        assertFalse(Files.exists(codeDir.resolve("results/probe/lens_a.json")));
    }

    @Test
    void missingWorkspaceIsUsageError() {
        CliRun run = execute("fake-study");

        assertEquals(ExitCode.USAGE.code(), run.exitCode(), run.err());
        assertTrue(run.err().contains("research project not found"), run.err());
    }

    @Test
    @Tag("uv")
    void runPrintsValidResultsAndExitsZero() throws IOException {
        Path codeDir = FakeProject.create(root, List.of("lens_a"));
        FakeProject.writeScript(codeDir, "lens_a", FakeProject.resultsScript("lens_a", ""));

        CliRun run = execute("fake-study", "--root", root.toString(), "--timeout", "120");

        assertEquals(ExitCode.SUCCESS.code(), run.exitCode(), run.err());
        assertEquals(codeDir.resolve("results/probe/lens_a.json") + "\tvalid" + System.lineSeparator(), run.out());
        assertTrue(run.err().contains("probe lens_a starting"), run.err());
    }

    @Test
    @Tag("uv")
    void rejectedInputExitsUsage() throws IOException {
        Path codeDir = FakeProject.create(root, List.of("lens_a"));
        FakeProject.writeScript(codeDir, "lens_a",
                "import sys\nprint('error: pairs line 2: answer tokenizes to 2 tokens', file=sys.stderr)\nsys.exit(2)\n");

        CliRun run = execute("fake-study");

        assertEquals(ExitCode.USAGE.code(), run.exitCode(), run.err());
        assertTrue(run.err().contains("pairs line 2: answer tokenizes to 2 tokens"), run.err());
        assertTrue(run.err().contains("analysis/lens_a.py rejected its inputs"), run.err());
    }

    @Test
    @Tag("uv")
    void fileSystemErrorExitsEnvironment() throws IOException {
        Path codeDir = FakeProject.create(root, List.of("lens_a"));
        FakeProject.writeScript(codeDir, "lens_a",
                "import sys\nprint('error: cache folder cache/activations is not writable', file=sys.stderr)\nsys.exit(3)\n");

        CliRun run = execute("fake-study");

        assertEquals(ExitCode.ENVIRONMENT.code(), run.exitCode(), run.err());
        assertTrue(run.err().contains("analysis/lens_a.py hit an environment error (file system or network)"), run.err());
    }

    @Test
    @Tag("uv")
    void invalidRewriteRestoresPreviousResults() throws IOException {
        Path codeDir = FakeProject.create(root, List.of("lens_a"));
        FakeProject.writeScript(codeDir, "lens_a", FakeProject.resultsScript("lens_a", ""));
        assertEquals(0, execute("fake-study").exitCode());
        Path results = codeDir.resolve("results/probe/lens_a.json");
        String valid = Files.readString(results);
        FakeProject.writeScript(codeDir, "lens_a",
                FakeProject.resultsScript("lens_a", "doc[\"status\"] = \"result\""));

        CliRun run = execute("fake-study");

        assertEquals(ExitCode.VALIDATION_FAILED.code(), run.exitCode(), run.err());
        assertEquals(valid, Files.readString(results));
        assertTrue(run.err().contains("restored the previous results/probe/lens_a.json"), run.err());
        try (Stream<Path> rejected = Files.list(codeDir.resolve("results/probe/rejected"))) {
            List<Path> files = rejected.toList();
            assertEquals(1, files.size(), files.toString());
            assertTrue(Files.readString(files.get(0)).contains("\"status\": \"result\""));
        }
    }

    @Test
    @Tag("uv")
    void quietHidesScriptOutputButKeepsErrors() throws IOException {
        Path codeDir = FakeProject.create(root, List.of("lens_a"));
        FakeProject.writeScript(codeDir, "lens_a", "print('chatty line')\nraise SystemExit(4)\n");

        CliRun run = execute("fake-study", "--quiet");

        assertEquals(ExitCode.SCRIPT_FAILED.code(), run.exitCode(), run.err());
        assertFalse(run.err().contains("chatty line"), run.err());
        assertTrue(run.err().contains("error: analysis/lens_a.py failed with exit code 4"), run.err());
    }

    @Test
    @Tag("uv")
    void invalidResultsExitWithValidationFailed() throws IOException {
        Path codeDir = FakeProject.create(root, List.of("lens_a"));
        FakeProject.writeScript(codeDir, "lens_a",
                FakeProject.resultsScript("lens_a", "doc[\"status\"] = \"result\""));

        CliRun run = execute("fake-study");

        assertEquals(ExitCode.VALIDATION_FAILED.code(), run.exitCode(), run.err());
        assertTrue(run.out().matches("\\Q" + codeDir.resolve("results/probe/lens_a.json") + "\\E\tinvalid \\(\\d+ problems\\)\\R"),
                run.out());
        assertTrue(run.err().contains("$.n_examples"), run.err());
        assertTrue(run.err().contains("$.seeds"), run.err());
    }

    @Test
    void verboseAndQuietTogetherAreUsageError() {
        CliRun run = execute("fake-study", "--quiet", "--verbose");

        assertEquals(ExitCode.USAGE.code(), run.exitCode(), run.err());
    }
}
