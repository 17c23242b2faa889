package io.autoresearch.probe.uv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.autoresearch.probe.process.CommandSpec;
import io.autoresearch.probe.process.ProcessResult;
import io.autoresearch.probe.process.ProcessRunner;
import io.autoresearch.probe.support.Console;
import io.autoresearch.probe.support.ExitCode;
import io.autoresearch.probe.support.ProbeException;
import java.io.File;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class UvLocatorTest {
    @TempDir
    Path tempDir;

    private final StringWriter stderr = new StringWriter();
    private final Console console = new Console(new PrintWriter(new StringWriter()), new PrintWriter(stderr), false, true);

    private static Path executable(Path file) throws IOException {
        Files.createDirectories(file.getParent());
        Files.writeString(file, "#!/bin/sh\necho 'uv 0.0.0-fake'\n");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwxr-xr-x"));
        return file;
    }

    private static Map<String, String> pathOf(Path... directories) {
        List<String> parts = new ArrayList<>();
        for (Path directory : directories) {
            parts.add(directory.toString());
        }
        return Map.of("PATH", String.join(File.pathSeparator, parts));
    }

    @Test
    void findReturnsUvFromPath() throws IOException {
        Path fakeUv = executable(tempDir.resolve("bin/uv"));
        Path emptyDir = Files.createDirectories(tempDir.resolve("empty"));
        UvLocator locator = new UvLocator(tempDir.resolve("home"), pathOf(emptyDir, fakeUv.getParent()));

        Optional<Path> found = locator.find();

        assertEquals(Optional.of(fakeUv), found);
    }

    @Test
    void findSkipsNonExecutableFileOnPath() throws IOException {
        Path notExecutable = tempDir.resolve("first/uv");
        Files.createDirectories(notExecutable.getParent());
        Files.writeString(notExecutable, "not a program");
        Path fakeUv = executable(tempDir.resolve("second/uv"));
        UvLocator locator = new UvLocator(tempDir.resolve("home"), pathOf(notExecutable.getParent(), fakeUv.getParent()));

        assertEquals(Optional.of(fakeUv), locator.find());
    }

    @Test
    void findPrefersPathOverToolHome() throws IOException {
        Path fakeUv = executable(tempDir.resolve("bin/uv"));
        Path toolHome = tempDir.resolve("home");
        executable(toolHome.resolve("uv/bin/uv"));
        UvLocator locator = new UvLocator(toolHome, pathOf(fakeUv.getParent()));

        assertEquals(Optional.of(fakeUv), locator.find());
    }

    @Test
    void findFallsBackToToolHome() throws IOException {
        Path toolHome = tempDir.resolve("home");
        Path installed = executable(toolHome.resolve("uv/bin/uv"));
        Path emptyDir = Files.createDirectories(tempDir.resolve("empty"));
        UvLocator locator = new UvLocator(toolHome, pathOf(emptyDir));

        assertEquals(Optional.of(installed), locator.find());
        assertEquals(installed, locator.locate(false, console));
    }

    @Test
    void findReturnsEmptyWithoutPathVariable() {
        UvLocator locator = new UvLocator(tempDir.resolve("home"), Map.of());

        assertEquals(Optional.empty(), locator.find());
    }

    @Test
    void locateWithoutInstallRejectsMissingUv() throws IOException {
        Path emptyDir = Files.createDirectories(tempDir.resolve("empty"));
        Path toolHome = tempDir.resolve("home");
        UvLocator locator = new UvLocator(toolHome, pathOf(emptyDir));

        ProbeException error = assertThrows(ProbeException.class, () -> locator.locate(false, console));

        assertEquals(ExitCode.ENVIRONMENT, error.exitCode());
        assertTrue(error.getMessage().contains("uv not found"), error.getMessage());
        assertTrue(error.getMessage().contains("pip install --target " + toolHome.resolve("uv")), error.getMessage());
        assertTrue(error.getMessage().contains("without --no-install"), error.getMessage());
        assertFalse(Files.exists(toolHome), "nothing may be installed");
    }

    @Test
    void installWithoutPythonRejects() throws IOException {
        Path emptyDir = Files.createDirectories(tempDir.resolve("empty"));
        UvLocator locator = new UvLocator(tempDir.resolve("home"), pathOf(emptyDir));

        ProbeException error = assertThrows(ProbeException.class, () -> locator.locate(true, console));

        assertEquals(ExitCode.ENVIRONMENT, error.exitCode());
        assertTrue(error.getMessage().contains("python3 is not on PATH"), error.getMessage());
    }

    @Test
    void installFailureLeavesNoPartialFolder() throws IOException {
        // A fake python3 whose pip fails after writing a file into the --target folder.
        Path binDir = Files.createDirectories(tempDir.resolve("bin"));
        Path fakePython = binDir.resolve("python3");
        Files.writeString(fakePython, "#!/bin/sh\n"
                + "while [ \"$1\" != \"--target\" ]; do shift; done\n"
                + "mkdir -p \"$2/bin\" && echo partial > \"$2/bin/uv\"\n"
                + "echo 'ERROR: No matching distribution found for uv' >&2\n"
                + "exit 1\n");
        Files.setPosixFilePermissions(fakePython, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path toolHome = tempDir.resolve("home");
        UvLocator locator = new UvLocator(toolHome, Map.of("PATH", binDir + File.pathSeparator + "/usr/bin:/bin"));

        ProbeException error = assertThrows(ProbeException.class, () -> locator.locate(true, console));

        assertEquals(ExitCode.ENVIRONMENT, error.exitCode());
        assertTrue(error.getMessage().contains("No matching distribution found for uv"), error.getMessage());
        assertFalse(Files.exists(toolHome.resolve("uv")), "no uv folder may be left behind");
        try (Stream<Path> left = Files.list(toolHome)) {
            assertEquals(List.of(), left.toList());
        }
        assertTrue(stderr.toString().contains("installing uv " + UvLocator.PINNED_VERSION), stderr.toString());
    }

    @Test
    void defaultToolHomeUsesEnvironmentVariable() {
        assertEquals(Path.of("/opt/research-tools"),
                UvLocator.defaultToolHome(Map.of(UvLocator.TOOL_HOME_VARIABLE, "/opt/research-tools")));
        assertEquals(Path.of(System.getProperty("user.home"), ".auto-research"),
                UvLocator.defaultToolHome(Map.of(UvLocator.TOOL_HOME_VARIABLE, " ")));
        assertEquals(Path.of(System.getProperty("user.home"), ".auto-research"), UvLocator.defaultToolHome(Map.of()));
    }

    /** Installs the pinned uv from the Python package index with the real pip. */
    @Test
    @Tag("network-registry")
    void installFetchesPinnedUvFromPackageIndex() throws IOException {
        Path toolHome = tempDir.resolve("home");
        // Hide any uv on PATH: a folder with only a link to the real python3, then the system folders.
        Path pythonDir = Files.createDirectories(tempDir.resolve("python-only"));
        Files.createSymbolicLink(pythonDir.resolve("python3"), realPython3());
        Map<String, String> environment = new HashMap<>(System.getenv());
        environment.put("PATH", pythonDir + File.pathSeparator + "/usr/bin" + File.pathSeparator + "/bin");
        UvLocator locator = new UvLocator(toolHome, environment);
        assumeTrue(locator.find().isEmpty(), "uv is in /usr/bin or /bin, so PATH cannot hide it");

        Path installed = locator.locate(true, console);

        assertEquals(toolHome.resolve("uv/bin/uv").toAbsolutePath(), installed);
        assertTrue(Files.isExecutable(installed));
        List<String> version = new ArrayList<>();
        ProcessResult result = new ProcessRunner().run(
                CommandSpec.of(tempDir, List.of(installed.toString(), "--version")), version::add, line -> { });
        assertEquals(0, result.exitCode());
        assertTrue(version.get(0).startsWith("uv " + UvLocator.PINNED_VERSION), version.toString());
        assertEquals(Optional.of(installed), locator.find());
    }

    /** Returns the interpreter that {@code python3} on this JVM's PATH runs, past any pyenv shim. */
    private Path realPython3() {
        List<String> output = new ArrayList<>();
        ProcessResult result = new ProcessRunner().run(
                CommandSpec.of(tempDir, List.of("python3", "-c", "import sys; print(sys.executable)")),
                output::add, line -> { });
        assumeTrue(result.exitCode() == 0 && !output.isEmpty(), "python3 is not on PATH");
        return Path.of(output.get(0));
    }
}
