package io.autoresearch.probe.process;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * The outcome of one finished subprocess.
 *
 * @param spec the command that ran
 * @param exitCode the process's exit status; after a timeout, whatever the killed process returned
 * @param timedOut whether the runner killed the process because it exceeded its timeout
 * @param elapsed wall-clock time from start until both output streams were drained
 * @param stderrTail the last {@link ProcessRunner#STDERR_TAIL_LINES} lines of stderr, oldest first
 * @param logFile the file holding the complete stdout and stderr, or {@code null} if none was written
 */
public record ProcessResult(
        CommandSpec spec, int exitCode, boolean timedOut, Duration elapsed, List<String> stderrTail, Path logFile) {

    public ProcessResult {
        stderrTail = List.copyOf(stderrTail);
    }

    public boolean succeeded() {
        return exitCode == 0 && !timedOut;
    }
}
