package io.autoresearch.probe.support;

/**
 * A failure that the command line reports as one clear message with a matching exit code.
 * The message names the offending value and what to do next. No stack trace is shown
 * unless {@code --verbose} is given.
 */
public class ProbeException extends RuntimeException {
    private final ExitCode exitCode;

    public ProbeException(ExitCode exitCode, String message) {
        super(message);
        this.exitCode = exitCode;
    }

    public ProbeException(ExitCode exitCode, String message, Throwable cause) {
        super(message, cause);
        this.exitCode = exitCode;
    }

    public ExitCode exitCode() {
        return exitCode;
    }

    public static ProbeException usage(String message) {
        return new ProbeException(ExitCode.USAGE, message);
    }

    public static ProbeException environment(String message) {
        return new ProbeException(ExitCode.ENVIRONMENT, message);
    }
}
