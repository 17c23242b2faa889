package io.autoresearch.probe.support;

import java.io.PrintWriter;

/**
 * The one place that writes human messages. Results (paths) go to stdout; every message for
 * a person goes to stderr with a prefix. {@code quiet} hides info lines, never errors;
 * {@code verbose} adds subprocess command lines and timings.
 */
public final class Console {
    private final PrintWriter out;
    private final PrintWriter err;
    private final boolean quiet;
    private final boolean verbose;

    public Console(PrintWriter out, PrintWriter err, boolean quiet, boolean verbose) {
        this.out = out;
        this.err = err;
        this.quiet = quiet;
        this.verbose = verbose;
    }

    /** Prints a result line (for example a path) on stdout. */
    public void result(String line) {
        out.println(line);
        out.flush();
    }

    public void info(String message) {
        if (!quiet) {
            err.println("[auto-research] " + message);
            err.flush();
        }
    }

    public void verbose(String message) {
        if (verbose) {
            err.println("[auto-research] " + message);
            err.flush();
        }
    }

    public void warn(String message) {
        err.println("[auto-research] warning: " + message);
        err.flush();
    }

    public void error(String message) {
        err.println("[auto-research] error: " + message);
        err.flush();
    }

    /** Passes one line of a child process's output through, unprefixed. */
    public void passthrough(String line) {
        if (!quiet) {
            err.println(line);
            err.flush();
        }
    }

    public boolean isVerbose() {
        return verbose;
    }

    public boolean isQuiet() {
        return quiet;
    }
}
