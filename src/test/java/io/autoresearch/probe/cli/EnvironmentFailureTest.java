package io.autoresearch.probe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoresearch.probe.run.FakeProject;
import io.autoresearch.probe.setup.Fixtures;
import io.autoresearch.probe.support.ExitCode;
import io.autoresearch.probe.uv.UvLocator;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A broken environment: uv missing with its install rejected, an attention extra that cannot
 * be resolved, and a full disk while the report is written. Each gives exit code 3 and one
 * clear error, and every file written before is kept as it was.
 */
class EnvironmentFailureTest {
    private static final String EARLIER = "{\"earlier\": \"results\"}\n";

    @TempDir
    Path root;

    @TempDir
    Path emptyToolHome;

    @Test
    void missingUvWithNoInstallExitsThree() throws IOException {
        Path codeDir = FakeProject.create(root, List.of("lens_a"));
        FakeProject.writeScript(codeDir, "lens_a", "print('must not run')\n");
        Files.writeString(codeDir.resolve("results/probe/lens_a.json"), EARLIER, StandardCharsets.UTF_8);
        Map<String, String> before = Fixtures.tree(root);
        ProbeContext context = new ProbeContext(Map.of("PATH", "/nonexistent",
                UvLocator.TOOL_HOME_VARIABLE, emptyToolHome.toString()), root, root, CliRun.FIXED_CLOCK);

        CliRun run = CliRun.execute(context, "probe", "run", "fake-study", "--no-install", "--root", root.toString());

        assertEquals(ExitCode.ENVIRONMENT.code(), run.exitCode(), run.err());
        assertTrue(run.err().contains("uv not found on PATH or at " + emptyToolHome.resolve("uv/bin/uv")), run.err());
        assertTrue(run.err().contains("run again without --no-install"), run.err());
        assertEquals(1, run.err().strip().lines().count(), run.err());
        assertEquals(before, Fixtures.tree(root), "something was written or lost");
        try (Stream<Path> files = Files.list(emptyToolHome)) {
            assertEquals(List.of(), files.toList(), "uv was installed although --no-install was given");
        }
    }

    @Test
    @Tag("uv")
    void unresolvableExtraExitsThree() throws IOException {
        Path codeDir = FakeProject.create(root, List.of("lens_a"));
        FakeProject.writeScript(codeDir, "lens_a", "print('must not run')\n");
        Files.writeString(codeDir.resolve("results/probe/lens_a.json"), EARLIER, StandardCharsets.UTF_8);
        Path pyproject = codeDir.resolve("pyproject.toml");
        Files.writeString(pyproject, Files.readString(pyproject).replace("attention = []",
                "attention = [\"auto-research-test-no-such-package==0.0.1\"]"));
        Map<String, String> environment = new HashMap<>(System.getenv());
        environment.put(UvLocator.TOOL_HOME_VARIABLE, FakeProject.TEST_TOOL_HOME.toString());
        // Offline, so the resolution fails here and never contacts the package index.
        environment.put("UV_OFFLINE", "1");
        ProbeContext context = new ProbeContext(environment, root, root, CliRun.FIXED_CLOCK);

        CliRun run = CliRun.execute(context, "probe", "run", "fake-study", "--root", root.toString());

        assertEquals(ExitCode.ENVIRONMENT.code(), run.exitCode(), run.err());
        assertTrue(run.err().contains("uv sync --extra attention failed with exit code"), run.err());
        assertTrue(run.err().contains("auto-research-test-no-such-package"), run.err());
        assertTrue(run.err().contains("Check the [project.optional-dependencies] attention list in " + pyproject),
                run.err());
        assertFalse(run.err().contains("must not run"), "a script ran after uv sync failed");
        assertEquals(EARLIER, Files.readString(codeDir.resolve("results/probe/lens_a.json")));
        assertFalse(Files.exists(codeDir.resolve("uv.lock")), "a lock file was written for a failed resolution");
    }

    /**
     * Writes the reports once, then requests new ones in a JVM whose file size limit
     * ({@code ulimit -f}) is 1 KiB. As on a full disk, a write past that limit fails, here with
     * "File too large".
     */
    @Test
    void fullDiskDuringReportExitsThree() throws Exception {
        Path code = root.resolve(".research/induction-demo/code");
        Fixtures.copyTree(Path.of("results/probe"), code.resolve("results/probe"));
        Fixtures.copyTree(Path.of("analysis"), code.resolve("analysis"));
        CliRun first = CliRun.execute(root, "probe", "report", "induction-demo", "--root", root.toString());
        assertEquals(0, first.exitCode(), first.err());
        Map<String, String> before = Fixtures.tree(root);

        List<String> command = new ArrayList<>(List.of("bash", "-c", "ulimit -f 1 && exec \"$@\"", "limited"));
        command.addAll(CliProcess.command("probe", "report", "induction-demo", "--root", root.toString(),
                "--hypothesis", "a new hypothesis, so that every report changes"));
        Process report = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(report.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(report.waitFor(2, TimeUnit.MINUTES), output);

        assertEquals(ExitCode.ENVIRONMENT.code(), report.exitValue(), output);
        assertTrue(output.contains("[auto-research] error: could not write "), output);
        assertTrue(output.contains("File too large"), output);
        assertTrue(output.contains("free space on the disk"), output);
        assertFalse(output.contains("internal error"), output);
        assertEquals(before, Fixtures.tree(root), "a file was changed, lost or left half-written");
    }

}
