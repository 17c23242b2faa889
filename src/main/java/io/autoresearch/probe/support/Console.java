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
    private final boolean json;

    public Console(PrintWriter out, PrintWriter err, boolean quiet, boolean verbose) {
        this(out, err, quiet, verbose, false);
    }

    /**
     * Creates a console. With {@code json}, stdout is kept for the one JSON document of the
     * command: result lines are dropped and info lines and script output are hidden as with
     * {@code quiet}; warnings and errors still go to stderr.
     */
    public Console(PrintWriter out, PrintWriter err, boolean quiet, boolean verbose, boolean json) {
        this.out = out;
        this.err = err;
        this.quiet = quiet || json;
        this.verbose = verbose;
        this.json = json;
    }

    /** Prints a result line (for example a path) on stdout, unless the command prints a JSON document instead. */
    public void result(String line) {
        if (json) {
            return;
        }
        out.println(line);
        out.flush();
    }

    /** Prints the command's JSON document on stdout; call it once, and only with {@code --json}. */
    public void document(String text) {
        out.println(text);
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

    /** Returns whether stdout carries one JSON document instead of result lines. */
    public boolean isJson() {
        return json;
    }
}
