package io.autoresearch.probe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoresearch.probe.process.ChildProcesses;
import io.autoresearch.probe.run.FakeProject;
import io.autoresearch.probe.uv.UvLocator;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Ctrl-C during {@code probe run}: the CLI runs in a JVM of its own ({@link CliProcess}) on a
 * project whose script starts a grandchild process, writes half a temporary results file and
 * sleeps. SIGINT goes to the CLI's JVM only, as {@code kill -INT} sends it, so the CLI itself
 * has to stop uv, the script and the grandchild.
 */
@Tag("uv")
class InterruptTest {
    /** The limit the CLI has after SIGINT to exit and leave no process of its tree running. */
    static final Duration STOP_LIMIT = Duration.ofSeconds(2);

    private static final String SCRIPT = """
            import os, subprocess, sys, time
            from pathlib import Path

            grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
            # Half of a results file, as an atomic write in progress leaves it.
            Path("results/probe/.lens_a.json.half.tmp").write_text('{"probe_id": "lens_a", ', encoding="utf-8")
            marker = Path(os.environ["INTERRUPT_TEST_MARKER"])
            marker.with_suffix(".partial").write_text(f"{os.getpid()} {grandchild.pid}\\n", encoding="utf-8")
            os.replace(marker.with_suffix(".partial"), marker)
            time.sleep(600)
            """;

    @TempDir
    Path root;

    @Test
    void ctrlCStopsProcessTreeQuickly() throws Exception {
        Path codeDir = FakeProject.create(root, List.of("lens_a"));
        Path resultsDir = codeDir.resolve("results/probe");
        Path previous = resultsDir.resolve("lens_a.json");
        Files.writeString(previous, "{\"earlier\": \"results\"}\n", StandardCharsets.UTF_8);
        FakeProject.writeScript(codeDir, "lens_a", SCRIPT);
        Path marker = root.resolve("script-started.txt");
        Path log = root.resolve("cli.log");

        ProcessBuilder builder = new ProcessBuilder(withDefaultSigint(CliProcess.command("probe", "run", "fake-study",
                "--root", root.toString()))).redirectErrorStream(true).redirectOutput(log.toFile());
        builder.environment().put(UvLocator.TOOL_HOME_VARIABLE, FakeProject.TEST_TOOL_HOME.toString());
        builder.environment().put("INTERRUPT_TEST_MARKER", marker.toString());
        Process cli = builder.start();
        List<ProcessHandle> tree = new ArrayList<>();
        try {
            waitForFile(marker, cli, Duration.ofMinutes(3), log);
            tree.addAll(cli.descendants().toList());
            String[] pids = Files.readString(marker).trim().split(" ");
            ProcessHandle script = ProcessHandle.of(Long.parseLong(pids[0])).orElseThrow();
            ProcessHandle grandchild = ProcessHandle.of(Long.parseLong(pids[1])).orElseThrow();
            assertTrue(tree.contains(script), "the script is not below the CLI: " + tree);
            assertTrue(tree.contains(grandchild), "the grandchild is not below the CLI: " + tree);

            long signalled = System.nanoTime();
            sendSignal(cli.pid(), "INT");
            Duration stopped = waitUntilStopped(cli, tree, Duration.ofSeconds(10), signalled);

            String output = Files.readString(log);
            System.out.println("InterruptTest: " + tree.size() + " processes below the CLI ("
                    + (CliProcess.jarIsCurrent() ? "jar" : "class path") + ") stopped " + stopped.toMillis()
                    + " ms after SIGINT");
            assertFalse(cli.isAlive(), "the CLI still runs 10 s after SIGINT:\n" + output);
            assertEquals(130, cli.exitValue(), output);
            assertTrue(stopped.compareTo(STOP_LIMIT) <= 0, "the tree took " + stopped.toMillis() + " ms to stop");
            List<ProcessHandle> survivors = tree.stream().filter(ChildProcesses::isRunning).toList();
            assertEquals(List.of(), survivors, "processes left running");
            assertTrue(output.contains("interrupted"), output);

            assertEquals("{\"earlier\": \"results\"}\n", Files.readString(previous), "the earlier results changed");
            try (Stream<Path> files = Files.list(resultsDir)) {
                assertEquals(List.of(previous), files.toList(), "a temporary or partial file was left");
            }
        } finally {
            tree.forEach(ProcessHandle::destroyForcibly);
            cli.destroyForcibly();
        }
    }

    /**
     * Returns {@code command} started through a python3 trampoline that resets SIGINT to its default
     * and then execs the command in the same process. A shell that starts a job in the background
     * (such as {@code bin/test &}) makes it ignore SIGINT, every child inherits that, and a JVM keeps
     * an inherited ignore, so the test would measure nothing.
     */
    static List<String> withDefaultSigint(List<String> command) {
        List<String> wrapped = new ArrayList<>(List.of("python3", "-c",
                "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])"));
        wrapped.addAll(command);
        return wrapped;
    }

    /** Waits until {@code file} exists, and fails early when the CLI exits first. */
    static void waitForFile(Path file, Process cli, Duration limit, Path log) throws Exception {
        long deadline = System.nanoTime() + limit.toNanos();
        while (!Files.exists(file)) {
            if (!cli.isAlive()) {
                throw new AssertionError("the CLI exited with " + cli.exitValue() + " before " + file
                        + " appeared:\n" + Files.readString(log));
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError(file + " did not appear within " + limit + ":\n" + Files.readString(log));
            }
            Thread.sleep(20);
        }
    }

    /** Returns the time from {@code since} until the CLI has exited and no process of {@code tree} runs. */
    static Duration waitUntilStopped(Process cli, List<ProcessHandle> tree, Duration limit, long since)
            throws InterruptedException {
        long deadline = since + limit.toNanos();
        while (System.nanoTime() < deadline) {
            if (!cli.isAlive() && tree.stream().noneMatch(ChildProcesses::isRunning)) {
                return Duration.ofNanos(System.nanoTime() - since);
            }
            Thread.sleep(10);
        }
        cli.waitFor(1, TimeUnit.MILLISECONDS);
        return Duration.ofNanos(System.nanoTime() - since);
    }

    /** Sends a signal such as {@code INT} to one process with kill(1). */
    static void sendSignal(long pid, String signal) throws IOException, InterruptedException {
        Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(pid)).redirectErrorStream(true).start();
        String output = new String(kill.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, kill.waitFor(), "kill -" + signal + " " + pid + ": " + output);
    }
}
