package io.autoresearch.probe.cli;

import java.io.Console;
import java.io.InputStream;
import java.lang.reflect.Method;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;

/**
 * The process state that commands read: environment variables, the home and working folders,
 * the clock and standard input. Tests pass their own instance instead of the JVM's.
 */
public record ProbeContext(Map<String, String> environment, Path userHome, Path workingDirectory, Clock clock,
        StandardInput standardInput) {
    public ProbeContext {
        environment = Map.copyOf(environment);
        userHome = userHome.toAbsolutePath();
        workingDirectory = workingDirectory.toAbsolutePath();
    }

    /** Creates a context whose standard input is empty and not a terminal, so no command can ask a question. */
    public ProbeContext(Map<String, String> environment, Path userHome, Path workingDirectory, Clock clock) {
        this(environment, userHome, workingDirectory, clock, StandardInput.none());
    }

    /** Returns the context of this JVM: its environment, user.home, current folder, system clock and stdin. */
    public static ProbeContext fromSystem() {
        return new ProbeContext(System.getenv(), Path.of(System.getProperty("user.home")),
                Path.of("").toAbsolutePath(), Clock.systemDefaultZone(), StandardInput.fromSystem());
    }

    /**
     * Standard input, and whether a person at a terminal types it. A command requests
     * confirmation only when {@code terminal} is true.
     */
    public record StandardInput(InputStream stream, boolean terminal) {
        /** Returns an empty input that is not a terminal. */
        public static StandardInput none() {
            return new StandardInput(InputStream.nullInputStream(), false);
        }

        /**
         * Returns {@code System.in}. It counts as a terminal when the JVM has a console: on Java
         * 17 to 21 that means both stdin and stdout are terminals. From Java 22 on, a console can
         * exist without a terminal, so {@code Console.isTerminal()} decides there.
         */
        public static StandardInput fromSystem() {
            Console console = System.console();
            return new StandardInput(System.in, console != null && isTerminal(console));
        }

        private static boolean isTerminal(Console console) {
            try {
                Method isTerminal = Console.class.getMethod("isTerminal");
                return (Boolean) isTerminal.invoke(console);
            } catch (NoSuchMethodException e) {
                // Before Java 22 a console exists only when stdin and stdout are terminals.
                return true;
            } catch (ReflectiveOperationException e) {
                return false;
            }
        }
    }
}
