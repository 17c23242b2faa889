package io.autoresearch.probe.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * The command line that starts the CLI in a JVM of its own, for tests that need a real process:
 * signals, two runs at once, resource limits. It is {@code java -jar target/auto-research.jar}
 * when that jar is at least as new as every compiled class, and otherwise the same main class
 * on this test JVM's class path (in {@code mvn verify} the jar is built after the tests run).
 */
public final class CliProcess {
    static final Path JAR = Path.of("target", "auto-research.jar").toAbsolutePath();
    static final Path CLASSES = Path.of("target", "classes").toAbsolutePath();

    private CliProcess() {
    }

    /** Returns {@code java} and the arguments that start the CLI, followed by {@code args}. */
    public static List<String> command(String... args) {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        // No hsperfdata file, so a test that limits file sizes limits only what the CLI writes.
        command.add("-XX:-UsePerfData");
        if (jarIsCurrent()) {
            command.add("-jar");
            command.add(JAR.toString());
        } else {
            command.add("-cp");
            command.add(System.getProperty("java.class.path"));
            command.add(Main.class.getName());
        }
        command.addAll(List.of(args));
        return command;
    }

    /** Returns whether the shaded jar exists and no compiled class or resource is newer. */
    static boolean jarIsCurrent() {
        if (!Files.isRegularFile(JAR) || !Files.isDirectory(CLASSES)) {
            return false;
        }
        try (Stream<Path> files = Files.walk(CLASSES)) {
            Instant built = Files.getLastModifiedTime(JAR).toInstant();
            return files.filter(Files::isRegularFile).allMatch(file -> !modified(file).isAfter(built));
        } catch (IOException e) {
            return false;
        }
    }

    private static Instant modified(Path file) {
        try {
            return Files.getLastModifiedTime(file).toInstant();
        } catch (IOException e) {
            return Instant.MAX;
        }
    }
}
