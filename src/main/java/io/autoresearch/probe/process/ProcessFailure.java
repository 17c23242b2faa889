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

    static String formatSeconds(long millis) {
        return String.format(java.util.Locale.ROOT, "%.1f s", millis / 1000.0);
    }
}
