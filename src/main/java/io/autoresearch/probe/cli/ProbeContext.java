package io.autoresearch.probe.cli;

import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;

/**
 * The process state that commands read: environment variables, the home and working folders
 * and the clock. Tests pass their own instance instead of the JVM's.
 */
public record ProbeContext(Map<String, String> environment, Path userHome, Path workingDirectory, Clock clock) {
    public ProbeContext {
        environment = Map.copyOf(environment);
        userHome = userHome.toAbsolutePath();
        workingDirectory = workingDirectory.toAbsolutePath();
    }

    /** Returns the context of this JVM: its environment, user.home, current folder and system clock. */
    public static ProbeContext fromSystem() {
        return new ProbeContext(System.getenv(), Path.of(System.getProperty("user.home")),
                Path.of("").toAbsolutePath(), Clock.systemDefaultZone());
    }
}
