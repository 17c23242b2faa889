package io.autoresearch.probe.process;

/**
 * Formats a failed subprocess for a person: what ran, where, how it ended, the last lines it
 * wrote to stderr and where the complete output is.
 */
public final class ProcessFailure {
    private ProcessFailure() {
    }

    /**
     * Formats a multi-line report of {@code result}, naming the process by {@code label}. The
     * first line states how the process ended, and the indented lines below give the details.
     */
    public static String describe(String label, ProcessResult result) {
        StringBuilder report = new StringBuilder();
        CommandSpec spec = result.spec();
        if (result.timedOut()) {
            report.append(label).append(" timed out after ").append(formatSeconds(spec.timeout().toMillis()))
                    .append(" and was killed");
        } else if (signalOf(result) > 0) {
            report.append(label).append(" was killed by signal ").append(signalName(signalOf(result)))
                    .append(" (exit code ").append(result.exitCode()).append(')');
        } else {
            report.append(label).append(" failed with exit code ").append(result.exitCode());
        }
        report.append(System.lineSeparator());
        report.append("  command:           ").append(spec.display()).append(System.lineSeparator());
        report.append("  working directory: ").append(spec.workingDirectory()).append(System.lineSeparator());
        report.append("  elapsed:           ").append(formatSeconds(result.elapsed().toMillis()));
        if (result.stderrTail().isEmpty()) {
            report.append(System.lineSeparator()).append("  stderr was empty");
        } else {
            report.append(System.lineSeparator())
                    .append("  last ").append(result.stderrTail().size()).append(" lines of stderr:");
            for (String line : result.stderrTail()) {
                report.append(System.lineSeparator()).append("    | ").append(line);
            }
        }
        if (result.logFile() != null) {
            report.append(System.lineSeparator()).append("  full output: ").append(result.logFile());
        }
        return report.toString();
    }

    /**
     * Returns the number of the signal that ended the process, or 0 when it exited by itself or
     * timed out. A process killed by signal N reports exit code 128 + N, both to Java and through
     * {@code uv run}, which passes its child's status on.
     */
    public static int signalOf(ProcessResult result) {
        int code = result.exitCode();
        return !result.timedOut() && code > 128 && code <= 128 + 64 ? code - 128 : 0;
    }

    /** Returns a signal's usual name, such as {@code SIGKILL} for 9, or {@code signal N} for others. */
    public static String signalName(int signal) {
        return switch (signal) {
            case 1 -> "SIGHUP";
            case 2 -> "SIGINT";
            case 3 -> "SIGQUIT";
            case 6 -> "SIGABRT";
            case 9 -> "SIGKILL";
            case 11 -> "SIGSEGV";
            case 13 -> "SIGPIPE";
            case 15 -> "SIGTERM";
            default -> "signal " + signal;
        };
    }

    static String formatSeconds(long millis) {
        return String.format(java.util.Locale.ROOT, "%.1f s", millis / 1000.0);
    }
}
