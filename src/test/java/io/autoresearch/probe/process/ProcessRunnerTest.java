package io.autoresearch.probe.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoresearch.probe.support.ExitCode;
import io.autoresearch.probe.support.ProbeException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ProcessRunnerTest {
    @TempDir
    Path tempDir;

    private final ProcessRunner runner = new ProcessRunner();

    private CommandSpec shell(String script) {
        return CommandSpec.of(tempDir, List.of("sh", "-c", script));
    }

    @Test
    void runStreamsStdoutLinesInOrder() {
        List<String> stdout = Collections.synchronizedList(new ArrayList<>());

        ProcessResult result = runner.run(shell("for i in 1 2 3 4 5; do echo line$i; done"),
                stdout::add, LineListener.IGNORE);

        assertEquals(List.of("line1", "line2", "line3", "line4", "line5"), stdout);
        assertEquals(0, result.exitCode());
        assertTrue(result.succeeded());
    }

    @Test
    void runDeliversLastLineWithoutNewline() {
        List<String> stdout = Collections.synchronizedList(new ArrayList<>());

        runner.run(shell("printf 'first\\nno newline at end'"), stdout::add, LineListener.IGNORE);

        assertEquals(List.of("first", "no newline at end"), stdout);
    }

    @Test
    void runStreamsLinesBeforeProcessExits() {
        List<Long> arrivals = Collections.synchronizedList(new ArrayList<>());
        long started = System.nanoTime();

        ProcessResult result = runner.run(shell("echo early; sleep 1; echo late"),
                line -> arrivals.add(System.nanoTime() - started), LineListener.IGNORE);

        assertEquals(2, arrivals.size());
        long gapMillis = Duration.ofNanos(arrivals.get(1) - arrivals.get(0)).toMillis();
        assertTrue(gapMillis >= 500, "the first line arrived only " + gapMillis + " ms before the second");
        assertTrue(result.elapsed().toMillis() >= 900, "elapsed " + result.elapsed());
    }

    @Test
    void runCapturesNonZeroExitCode() {
        ProcessResult result = runner.run(shell("exit 7"), LineListener.IGNORE, LineListener.IGNORE);

        assertEquals(7, result.exitCode());
        assertFalse(result.timedOut());
        assertFalse(result.succeeded());
    }

    @Test
    void runKeepsLastFortyStderrLines() {
        List<String> stderr = Collections.synchronizedList(new ArrayList<>());

        ProcessResult result = runner.run(shell("i=1; while [ $i -le 100 ]; do echo err$i >&2; i=$((i+1)); done; exit 1"),
                LineListener.IGNORE, stderr::add);

        assertEquals(100, stderr.size());
        assertEquals(ProcessRunner.STDERR_TAIL_LINES, result.stderrTail().size());
        assertEquals("err61", result.stderrTail().get(0));
        assertEquals("err100", result.stderrTail().get(39));
    }

    @Test
    void runPassesArgumentsWithoutShellParsing() {
        List<String> stdout = Collections.synchronizedList(new ArrayList<>());
        String hostile = "a b \"quoted\" 'single' $HOME ; rm -rf /";

        runner.run(CommandSpec.of(tempDir, List.of("printf", "%s\\n", hostile)), stdout::add, LineListener.IGNORE);

        assertEquals(List.of(hostile), stdout);
    }

    @Test
    void runAddsEnvironmentAndWorkingDirectory() {
        List<String> stdout = Collections.synchronizedList(new ArrayList<>());
        CommandSpec spec = shell("echo \"$PROBE_TEST_VALUE\"; pwd")
                .withEnvironment(Map.of("PROBE_TEST_VALUE", "from the spec"));

        runner.run(spec, stdout::add, LineListener.IGNORE);

        assertEquals("from the spec", stdout.get(0));
        assertEquals(tempDir.toAbsolutePath().toString(), Path.of(stdout.get(1)).toAbsolutePath().toString());
    }

    @Test
    void runKeepsNonAsciiOutputIntact() {
        List<String> stdout = Collections.synchronizedList(new ArrayList<>());

        runner.run(shell("printf 'Gr\\303\\274\\303\\237e \\342\\206\\222 \\360\\237\\247\\240\\n'"),
                stdout::add, LineListener.IGNORE);

        assertEquals(List.of("Grüße → \uD83E\uDDE0"), stdout);
    }

    @Test
    void runTimeoutKillsChildAndItsDescendants() {
        // The shell forks sleep as a child; only killing the tree releases the output pipes.
        CommandSpec spec = shell("echo started; sleep 30; echo finished").withTimeout(Duration.ofMillis(700));
        List<String> stdout = Collections.synchronizedList(new ArrayList<>());

        ProcessResult result = runner.run(spec, stdout::add, LineListener.IGNORE);

        assertTrue(result.timedOut());
        assertFalse(result.succeeded());
        assertTrue(result.elapsed().toSeconds() < 15, "elapsed " + result.elapsed());
        assertEquals(List.of("started"), stdout);
    }

    @Test
    void runWithinTimeoutIsNotTimedOut() {
        ProcessResult result = runner.run(shell("exit 0").withTimeout(Duration.ofSeconds(30)),
                LineListener.IGNORE, LineListener.IGNORE);

        assertFalse(result.timedOut());
        assertEquals(0, result.exitCode());
    }

    @Test
    void runWritesBothStreamsToLogFile() throws Exception {
        Path log = tempDir.resolve("logs/nested/script.log");

        ProcessResult result = runner.run(shell("echo out1; echo err1 >&2; sleep 0.2; echo out2"),
                LineListener.IGNORE, LineListener.IGNORE, log);

        List<String> logged = Files.readAllLines(log, StandardCharsets.UTF_8);
        assertEquals(log, result.logFile());
        assertEquals(3, logged.size());
        assertTrue(logged.containsAll(List.of("out1", "err1", "out2")), "log lines " + logged);
        assertEquals("out2", logged.get(2));
    }

    @Test
    void runMissingExecutableThrowsEnvironmentError() {
        CommandSpec spec = CommandSpec.of(tempDir, List.of(tempDir.resolve("no-such-program").toString()));

        ProbeException error = assertThrows(ProbeException.class,
                () -> runner.run(spec, LineListener.IGNORE, LineListener.IGNORE));

        assertEquals(ExitCode.ENVIRONMENT, error.exitCode());
        assertTrue(error.getMessage().contains("no-such-program"), error.getMessage());
    }
}
