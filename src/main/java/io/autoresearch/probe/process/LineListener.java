package io.autoresearch.probe.process;

/**
 * Receives one line of a child process's output, without its line terminator. Called from a
 * pump thread, so implementations that share state between stdout and stderr must be
 * thread-safe.
 */
@FunctionalInterface
public interface LineListener {
    LineListener IGNORE = line -> { };

    void onLine(String line);
}
