package io.autoresearch.probe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The POSIX launcher bin/auto-research, run from a copy in a temporary checkout. */
class LauncherTest {
    @TempDir
    Path checkout;

    private Path launcher;

    @BeforeEach
    void copyLauncher() throws IOException {
        launcher = checkout.resolve("bin/auto-research");
        Files.createDirectories(launcher.getParent());
        Files.copy(Path.of("bin/auto-research"), launcher, StandardCopyOption.COPY_ATTRIBUTES);
    }

    private record Result(int exitCode, String output) {
    }

    private Result run(String path, String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of("sh", launcher.toString()));
        command.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        builder.environment().put("PATH", path);
        Process process = builder.start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        return new Result(process.waitFor(), output);
    }

    @Test
    void missingJarTellsHowToBuild() throws Exception {
        Result result = run(System.getenv("PATH"), "--version");

        assertEquals(3, result.exitCode(), result.output());
        assertTrue(result.output().contains("target/auto-research.jar not found"), result.output());
        assertTrue(result.output().contains("mvn -B -q package -DskipTests"), result.output());
    }

    @Test
    void argumentsReachJavaUnchanged() throws Exception {
        Path jar = checkout.resolve("target/auto-research.jar");
        Files.createDirectories(jar.getParent());
        Files.writeString(jar, "not a real jar");
        Path fakeBin = Files.createDirectories(checkout.resolve("fake-bin"));
        Path fakeJava = fakeBin.resolve("java");
        Files.writeString(fakeJava, "#!/bin/sh\nfor argument in \"$@\"; do printf '<%s>\\n' \"$argument\"; done\n");
        Files.setPosixFilePermissions(fakeJava, PosixFilePermissions.fromString("rwxr-xr-x"));

        Result result = run(fakeBin + ":/usr/bin:/bin", "probe", "setup", "two words", "--hypothesis", "a 'b' \"c\"");

        assertEquals(0, result.exitCode(), result.output());
        assertEquals(List.of("<-jar>", "<" + jar.toRealPath() + ">", "<probe>", "<setup>", "<two words>",
                "<--hypothesis>", "<a 'b' \"c\">"), result.output().lines().toList());
    }
}
