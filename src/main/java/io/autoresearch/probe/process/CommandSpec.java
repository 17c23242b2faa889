package io.autoresearch.probe.process;

import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A subprocess to run, described as data so that tests can assert on the plan without
 * running it.
 *
 * @param command the executable followed by its arguments; each element is passed to the
 *     operating system as one argument, never through a shell
 * @param workingDirectory the directory the process starts in
 * @param environment variables added to (or replacing) the runner's base environment
 * @param timeout the wall-clock limit after which the process is killed, or {@code null} for none
 */
public record CommandSpec(
        List<String> command, Path workingDirectory, Map<String, String> environment, Duration timeout) {

    public CommandSpec {
        Objects.requireNonNull(command, "command");
        Objects.requireNonNull(workingDirectory, "workingDirectory");
        if (command.isEmpty()) {
            throw new IllegalArgumentException("command must name an executable");
        }
        command = List.copyOf(command);
        environment = Map.copyOf(environment == null ? Map.of() : environment);
        if (timeout != null && (timeout.isNegative() || timeout.isZero())) {
            throw new IllegalArgumentException("timeout must be positive, got " + timeout);
        }
    }

    public static CommandSpec of(Path workingDirectory, List<String> command) {
        return new CommandSpec(command, workingDirectory, Map.of(), null);
    }

    /** Returns a copy with {@code additions} added to the environment, replacing equal keys. */
    public CommandSpec withEnvironment(Map<String, String> additions) {
        Map<String, String> merged = new LinkedHashMap<>(environment);
        merged.putAll(additions);
        return new CommandSpec(command, workingDirectory, merged, timeout);
    }

    public CommandSpec withTimeout(Duration newTimeout) {
        return new CommandSpec(command, workingDirectory, environment, newTimeout);
    }

    /**
     * Formats the command for a person to read or paste into a POSIX shell: arguments that
     * contain anything beyond safe characters are single-quoted.
     */
    public String display() {
        StringBuilder line = new StringBuilder();
        for (String argument : command) {
            if (line.length() > 0) {
                line.append(' ');
            }
            line.append(quoteForDisplay(argument));
        }
        return line.toString();
    }

    private static String quoteForDisplay(String argument) {
        if (!argument.isEmpty() && argument.matches("[A-Za-z0-9_./=:,+@%-]+")) {
            return argument;
        }
        return "'" + argument.replace("'", "'\\''") + "'";
    }
}
