package io.autoresearch.probe.process;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ProcessFailureTest {
    @TempDir
    Path tempDir;

    @Test
    void describeReportsFailureDetails() {
        CommandSpec spec = CommandSpec.of(tempDir, List.of("uv", "run", "python", "analysis/my script.py"));
        Path log = tempDir.resolve("script.log");
        ProcessResult result = new ProcessResult(spec, 3, false, Duration.ofMillis(1500),
                List.of("Traceback (most recent call last):", "ValueError: bad layer 99"), log);

        String report = ProcessFailure.describe("analysis/my script.py", result);

        assertTrue(report.startsWith("analysis/my script.py failed with exit code 3"), report);
        assertTrue(report.contains("uv run python 'analysis/my script.py'"), report);
        assertTrue(report.contains("working directory: " + tempDir), report);
        assertTrue(report.contains("| ValueError: bad layer 99"), report);
        assertTrue(report.contains("full output: " + log), report);
        assertTrue(report.contains("1.5 s"), report);
    }

    @Test
    void describeTimeoutSaysTimedOut() {
        CommandSpec spec = CommandSpec.of(tempDir, List.of("sleep", "30")).withTimeout(Duration.ofSeconds(2));
        ProcessResult result = new ProcessResult(spec, 143, true, Duration.ofSeconds(2), List.of(), null);

        String report = ProcessFailure.describe("sleep", result);

        assertTrue(report.startsWith("sleep timed out after 2.0 s and was killed"), report);
        assertTrue(report.contains("stderr was empty"), report);
        assertTrue(!report.contains("full output"), report);
    }
}
