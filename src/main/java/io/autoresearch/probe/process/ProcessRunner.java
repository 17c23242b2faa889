package io.autoresearch.probe.process;

import io.autoresearch.probe.support.ExitCode;
import io.autoresearch.probe.support.ProbeException;
import io.autoresearch.probe.support.Secrets;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.commons.exec.CommandLine;
import org.apache.commons.exec.DefaultExecutor;
import org.apache.commons.exec.ExecuteWatchdog;
import org.apache.commons.exec.LogOutputStream;
import org.apache.commons.exec.PumpStreamHandler;
import org.apache.commons.exec.Watchdog;

/**
 * Runs a {@link CommandSpec} with Apache Commons Exec and streams its output line by line.
 *
 * <p>Every call waits until the process has exited and both output pumps have drained, so
 * the listeners have seen every line before {@link #run} returns. When the JVM shuts down (for
 * example on Ctrl-C) {@link ChildProcesses} stops the child and all its descendants, and a
 * timeout kills the child and its descendants. The values of secret environment variables
 * ({@link Secrets}) are replaced in every line before it reaches a listener or the log file.
 */
public final class ProcessRunner {
    /** Number of stderr lines kept for failure reports. */
    public static final int STDERR_TAIL_LINES = 40;

    private final Map<String, String> baseEnvironment;

    /** Creates a runner whose children inherit this JVM's environment. */
    public ProcessRunner() {
        this(System.getenv());
    }

    /** Creates a runner whose children start from {@code baseEnvironment} instead of this JVM's. */
    public ProcessRunner(Map<String, String> baseEnvironment) {
        this.baseEnvironment = Map.copyOf(baseEnvironment);
    }

    public ProcessResult run(CommandSpec spec, LineListener stdout, LineListener stderr) {
        return run(spec, stdout, stderr, null);
    }

    /**
     * Runs {@code spec} to completion, passing each output line to the listeners as it arrives.
     * A non-zero exit code or a timeout is returned in the result, not thrown.
     *
     * @param logFile if not {@code null}, receives every stdout and stderr line in arrival
     *     order; its parent directories are created and an existing file is replaced
     * @throws ProbeException with {@link ExitCode#ENVIRONMENT} if the process cannot be started
     *     (for example, the executable does not exist) or the log file cannot be written
     */
    public ProcessResult run(CommandSpec spec, LineListener stdout, LineListener stderr, Path logFile) {
        StderrTail tail = new StderrTail(STDERR_TAIL_LINES);
        Secrets secrets = Secrets.in(environmentFor(spec));
        try (LogWriter log = LogWriter.open(logFile)) {
            LineStream out = new LineStream(raw -> {
                String line = secrets.redact(raw);
                log.write(line);
                stdout.onLine(line);
            });
            LineStream err = new LineStream(raw -> {
                String line = secrets.redact(raw);
                log.write(line);
                tail.add(line);
                stderr.onLine(line);
            });
            TreeKillingWatchdog watchdog = spec.timeout() == null ? null : new TreeKillingWatchdog(spec.timeout());
            DefaultExecutor executor = DefaultExecutor.builder()
                    .setWorkingDirectory(spec.workingDirectory())
                    .setExecuteStreamHandler(new PumpStreamHandler(out, err))
                    .get();
            // Accept every exit code, because a failed command is a result to report, not an exception.
            executor.setExitValues(null);
            executor.setProcessDestroyer(ChildProcesses.instance());
            if (watchdog != null) {
                executor.setWatchdog(watchdog);
            }

            long started = System.nanoTime();
            int exitCode = executor.execute(toCommandLine(spec.command()), environmentFor(spec));
            // The pumps have stopped; a last line without a newline is still buffered.
            out.close();
            err.close();
            Duration elapsed = Duration.ofNanos(System.nanoTime() - started);
            boolean timedOut = watchdog != null && watchdog.timedOut();
            return new ProcessResult(spec, exitCode, timedOut, elapsed, tail.lines(), logFile);
        } catch (IOException e) {
            throw new ProbeException(ExitCode.ENVIRONMENT,
                    "could not run `" + spec.display() + "` in " + spec.workingDirectory() + ": " + e.getMessage()
                            + "; check that the program is installed and the directory exists", e);
        } catch (UncheckedIOException e) {
            throw new ProbeException(ExitCode.ENVIRONMENT,
                    "could not write the log file " + logFile + ": " + e.getCause().getMessage(), e);
        }
    }

    private Map<String, String> environmentFor(CommandSpec spec) {
        Map<String, String> environment = new HashMap<>(baseEnvironment);
        environment.putAll(spec.environment());
        return environment;
    }

    private static CommandLine toCommandLine(List<String> command) {
        CommandLine commandLine = new CommandLine(command.get(0));
        for (String argument : command.subList(1, command.size())) {
            // handleQuoting=false: pass the argument verbatim instead of wrapping it in quotes.
            commandLine.addArgument(argument, false);
        }
        return commandLine;
    }

    /** Splits a byte stream into UTF-8 lines. Commons Exec ends a line at \n, \r or \r\n. */
    private static final class LineStream extends LogOutputStream {
        private final LineListener listener;

        LineStream(LineListener listener) {
            super(0, StandardCharsets.UTF_8);
            this.listener = listener;
        }

        @Override
        protected void processLine(String line, int level) {
            listener.onLine(line);
        }
    }

    /** The last lines of stderr, written by the stderr pump and read after it has stopped. */
    private static final class StderrTail {
        private final int capacity;
        private final Deque<String> lines = new ArrayDeque<>();

        StderrTail(int capacity) {
            this.capacity = capacity;
        }

        synchronized void add(String line) {
            if (lines.size() == capacity) {
                lines.removeFirst();
            }
            lines.addLast(line);
        }

        synchronized List<String> lines() {
            return new ArrayList<>(lines);
        }
    }

    /** The complete output of one process. Both pump threads write to it, so writes are synchronized. */
    private static final class LogWriter implements AutoCloseable {
        private final Writer writer;

        private LogWriter(Writer writer) {
            this.writer = writer;
        }

        static LogWriter open(Path logFile) {
            if (logFile == null) {
                return new LogWriter(null);
            }
            try {
                Path parent = logFile.toAbsolutePath().getParent();
                if (parent != null) {
                    Files.createDirectories(parent);
                }
                BufferedWriter writer = Files.newBufferedWriter(logFile, StandardCharsets.UTF_8);
                return new LogWriter(writer);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        synchronized void write(String line) {
            if (writer == null) {
                return;
            }
            try {
                writer.write(line);
                writer.write('\n');
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        @Override
        public synchronized void close() {
            if (writer == null) {
                return;
            }
            try {
                writer.close();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    /**
     * A watchdog that also kills the process's descendants on timeout. Killing only the direct
     * child would leave, for example, the Python process under {@code uv run} holding the
     * output pipes open, and the pumps would wait for it.
     */
    private static final class TreeKillingWatchdog extends ExecuteWatchdog {
        private Process process;
        private boolean timedOut;

        @SuppressWarnings("deprecation") // The builder does not allow subclassing.
        TreeKillingWatchdog(Duration timeout) {
            super(timeout.toMillis());
        }

        @Override
        public synchronized void start(Process started) {
            this.process = started;
            super.start(started);
        }

        @Override
        public synchronized void timeoutOccured(Watchdog watchdog) {
            if (process == null || !process.isAlive()) {
                super.timeoutOccured(watchdog);
                return;
            }
            // Collect the descendants before the parent dies, because orphans are re-parented.
            List<ProcessHandle> descendants = process.descendants().toList();
            // Record the timeout here: once a child is killed the parent may exit on its own, and
            // then the base class no longer counts it as killed.
            timedOut = true;
            super.timeoutOccured(watchdog);
            descendants.forEach(ProcessHandle::destroyForcibly);
        }

        synchronized boolean timedOut() {
            return timedOut || killedProcess();
        }
    }
}
