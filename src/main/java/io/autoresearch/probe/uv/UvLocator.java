package io.autoresearch.probe.uv;

import io.autoresearch.probe.process.CommandSpec;
import io.autoresearch.probe.process.LineListener;
import io.autoresearch.probe.process.ProcessFailure;
import io.autoresearch.probe.process.ProcessResult;
import io.autoresearch.probe.process.ProcessRunner;
import io.autoresearch.probe.support.Console;
import io.autoresearch.probe.support.ExitCode;
import io.autoresearch.probe.support.ProbeException;
import java.io.File;
import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Finds the {@code uv} executable, and installs the pinned version into the tool-owned folder
 * when it is missing.
 *
 * <p>Search order: each directory on {@code PATH} (read from the environment map given to the
 * constructor, so tests control it), then {@code <toolHome>/uv/bin/uv}. The install runs
 * {@code python3 -m pip install --target} into a temporary folder next to the final one and
 * renames it into place, so an interrupted install leaves no half-installed uv behind.
 */
public final class UvLocator {
    /** The uv version installed when none is found. The {@code uv} wheel ships the binary as {@code bin/uv}. */
    public static final String PINNED_VERSION = "0.13.9";

    /** Environment variable that overrides the tool-owned folder {@code ~/.auto-research}. */
    public static final String TOOL_HOME_VARIABLE = "AUTO_RESEARCH_HOME";

    private final Path toolHome;
    private final Map<String, String> environment;
    private final ProcessRunner runner;

    public UvLocator(Path toolHome, Map<String, String> environment) {
        this.toolHome = toolHome.toAbsolutePath();
        this.environment = Map.copyOf(environment);
        this.runner = new ProcessRunner(environment);
    }

    /** Creates a locator for this JVM's environment and the default tool home. */
    public static UvLocator fromSystem() {
        return new UvLocator(defaultToolHome(System.getenv()), System.getenv());
    }

    /** Returns {@code $AUTO_RESEARCH_HOME} if set and not blank, else {@code ~/.auto-research}. */
    public static Path defaultToolHome(Map<String, String> environment) {
        return defaultToolHome(environment, Path.of(System.getProperty("user.home")));
    }

    /** Returns {@code $AUTO_RESEARCH_HOME} if set and not blank, else {@code <userHome>/.auto-research}. */
    public static Path defaultToolHome(Map<String, String> environment, Path userHome) {
        String configured = environment.get(TOOL_HOME_VARIABLE);
        if (configured != null && !configured.isBlank()) {
            return Path.of(configured);
        }
        return userHome.resolve(".auto-research");
    }

    public Path toolHome() {
        return toolHome;
    }

    /** Returns the folder that {@code pip install --target} fills: {@code <toolHome>/uv}. */
    public Path installDirectory() {
        return toolHome.resolve("uv");
    }

    /** Returns where the installed uv binary lives: {@code <toolHome>/uv/bin/uv}. */
    public Path installedExecutable() {
        return installDirectory().resolve("bin").resolve(executableName());
    }

    /** Searches {@code PATH}, then the tool home, without installing anything. */
    public Optional<Path> find() {
        Optional<Path> onPath = findOnPath(executableName());
        if (onPath.isPresent()) {
            return onPath;
        }
        Path installed = installedExecutable();
        return isExecutableFile(installed) ? Optional.of(installed) : Optional.empty();
    }

    /**
     * Returns the uv executable, installing the pinned version into the tool home if none is
     * found and {@code allowInstall} is true.
     *
     * @throws ProbeException with {@link ExitCode#ENVIRONMENT} if uv is missing and may not be
     *     installed, or the install fails
     */
    public Path locate(boolean allowInstall, Console console) {
        Optional<Path> found = find();
        if (found.isPresent()) {
            console.verbose("using uv at " + found.get());
            return found.get();
        }
        if (!allowInstall) {
            throw new ProbeException(ExitCode.ENVIRONMENT,
                    "uv not found on PATH or at " + installedExecutable() + ". Install it with"
                            + " `python3 -m pip install --target " + installDirectory() + " uv==" + PINNED_VERSION
                            + "` or from https://docs.astral.sh/uv/, or run again without --no-install"
                            + " to let auto-research install it");
        }
        return install(console);
    }

    /**
     * Installs uv {@value #PINNED_VERSION} from the Python package index into the tool home
     * and returns the path of the executable.
     */
    public Path install(Console console) {
        Path python = findOnPath(pythonName()).orElseThrow(() -> new ProbeException(ExitCode.ENVIRONMENT,
                "uv not found, and " + pythonName() + " is not on PATH to install it with pip. Install uv from"
                        + " https://docs.astral.sh/uv/ or install Python 3, then run again"));
        Path target = installDirectory();
        console.info("uv not found, so installing uv " + PINNED_VERSION + " into " + target
                + " from the Python package index");

        Path staging = createStagingDirectory();
        try {
            CommandSpec pipInstall = CommandSpec.of(toolHome, List.of(python.toString(), "-m", "pip", "install",
                    "--disable-pip-version-check", "--no-input", "--target", staging.toString(),
                    "uv==" + PINNED_VERSION));
            console.verbose("$ " + pipInstall.display());
            ProcessResult result = runner.run(pipInstall, console::passthrough, console::passthrough);
            if (!result.succeeded()) {
                throw new ProbeException(ExitCode.ENVIRONMENT, ProcessFailure.describe("installing uv with pip", result)
                        + System.lineSeparator() + "Install uv yourself (https://docs.astral.sh/uv/) and run again");
            }
            Path stagedExecutable = staging.resolve("bin").resolve(executableName());
            if (!isExecutableFile(stagedExecutable)) {
                throw new ProbeException(ExitCode.ENVIRONMENT, "pip installed uv " + PINNED_VERSION
                        + " but " + stagedExecutable + " is missing or not executable. Install uv yourself"
                        + " (https://docs.astral.sh/uv/) and run again");
            }
            verifyVersion(stagedExecutable);
            moveIntoPlace(staging, target);
        } finally {
            deleteRecursively(staging);
        }
        Path executable = installedExecutable();
        console.info("installed uv " + PINNED_VERSION + " at " + executable);
        return executable;
    }

    private Optional<Path> findOnPath(String name) {
        String path = environment.get("PATH");
        if (path == null || path.isEmpty()) {
            return Optional.empty();
        }
        for (String directory : path.split(File.pathSeparator)) {
            if (directory.isEmpty()) {
                continue;
            }
            Path candidate = Path.of(directory).resolve(name);
            if (isExecutableFile(candidate)) {
                return Optional.of(candidate.toAbsolutePath());
            }
        }
        return Optional.empty();
    }

    private Path createStagingDirectory() {
        try {
            Files.createDirectories(toolHome);
            return Files.createTempDirectory(toolHome, "uv.partial-");
        } catch (IOException e) {
            throw new ProbeException(ExitCode.ENVIRONMENT,
                    "could not create a folder for installing uv in " + toolHome + ": " + e.getMessage()
                            + ". Set " + TOOL_HOME_VARIABLE + " to a writable folder", e);
        }
    }

    private void verifyVersion(Path executable) {
        List<String> output = new ArrayList<>();
        ProcessResult result = runner.run(CommandSpec.of(toolHome, List.of(executable.toString(), "--version")),
                output::add, LineListener.IGNORE);
        String expectedPrefix = "uv " + PINNED_VERSION;
        if (!result.succeeded() || output.isEmpty() || !output.get(0).startsWith(expectedPrefix)) {
            throw new ProbeException(ExitCode.ENVIRONMENT, "the freshly installed " + executable
                    + " did not report version " + PINNED_VERSION + " (output: " + output + ", exit code "
                    + result.exitCode() + "). Install uv yourself (https://docs.astral.sh/uv/) and run again");
        }
    }

    /**
     * Renames the staged install to its final name. A folder left there without a working
     * executable is replaced; one with a working executable (installed meanwhile by another
     * process) is kept.
     */
    private void moveIntoPlace(Path staging, Path target) {
        try {
            if (Files.exists(target, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                if (isExecutableFile(installedExecutable())) {
                    return;
                }
                deleteRecursively(target);
            }
            try {
                Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(staging, target);
            }
        } catch (FileAlreadyExistsException e) {
            if (!isExecutableFile(installedExecutable())) {
                throw new ProbeException(ExitCode.ENVIRONMENT, "could not install uv: " + target
                        + " appeared during the install without a uv executable. Remove it and run again", e);
            }
        } catch (IOException e) {
            throw new ProbeException(ExitCode.ENVIRONMENT,
                    "could not move the installed uv into " + target + ": " + e.getMessage(), e);
        }
    }

    private static void deleteRecursively(Path root) {
        if (!Files.exists(root, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(root)) {
            for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(path);
            }
        } catch (IOException e) {
            throw new ProbeException(ExitCode.ENVIRONMENT,
                    "could not delete " + root + ": " + e.getMessage() + ". Remove it by hand and run again", e);
        }
    }

    private static boolean isExecutableFile(Path path) {
        return Files.isRegularFile(path) && Files.isExecutable(path);
    }

    private static boolean isWindows() {
        return System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT).startsWith("windows");
    }

    private static String executableName() {
        return isWindows() ? "uv.exe" : "uv";
    }

    private static String pythonName() {
        return isWindows() ? "python.exe" : "python3";
    }
}
