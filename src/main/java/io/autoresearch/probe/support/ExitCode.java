package io.autoresearch.probe.support;

/**
 * The exit codes of every command. One table, shown in {@code --help}, so that the plugin
 * and shell scripts can tell a person's mistake from a broken environment or a failed script.
 */
public enum ExitCode {
    SUCCESS(0, "success"),
    INTERNAL_ERROR(1, "internal error (a bug: please report it with the output of --verbose)"),
    USAGE(2, "usage error: an invalid option, argument or input file"),
    ENVIRONMENT(3, "environment problem: uv, Python, the locked extra or the file system"),
    TEMPLATE(4, "template problem: a script could not be rendered"),
    SCRIPT_FAILED(5, "a generated script failed (it exited with an error)"),
    VALIDATION_FAILED(6, "a results file or a cache entry failed validation"),
    SCRIPT_KILLED(7, "a generated script was killed by a signal (kill -9, out of memory)"),
    SCRIPT_TIMED_OUT(8, "a generated script ran past --timeout and was stopped"),
    INTERRUPTED(130, "interrupted (Ctrl-C)");

    private final int code;
    private final String meaning;

    ExitCode(int code, String meaning) {
        this.code = code;
        this.meaning = meaning;
    }

    public int code() {
        return code;
    }

    public String meaning() {
        return meaning;
    }

    /** Formats the table for the footer of {@code --help}. */
    public static String helpTable() {
        StringBuilder table = new StringBuilder("Exit codes:%n");
        for (ExitCode exitCode : values()) {
            table.append(String.format("  %3d  %s%%n", exitCode.code, exitCode.meaning));
        }
        return table.toString();
    }
}
