package io.autoresearch.probe.uv;

import io.autoresearch.probe.process.CommandSpec;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Builds the uv commands that auto-research runs, as {@link CommandSpec}s. Nothing here runs
 * a process, so the command lines can be tested without uv.
 *
 * <p>Every command runs with the research project's {@code code/} folder as its working
 * directory (except {@link #init}, which creates that folder), so uv finds that project's
 * {@code pyproject.toml} and not one further up. Each command inherits the caller's
 * environment plus {@link #environment()}.
 */
public final class Uv {
    /** The Python version that new research projects request. */
    public static final String PYTHON_VERSION = "3.11";

    private final Path executable;
    private final Map<String, String> environment;

    public Uv(Path executable) {
        this(executable, Map.of());
    }

    /**
     * @param executable the uv binary, as found by {@link UvLocator}
     * @param environment variables added to every command's environment
     */
    public Uv(Path executable, Map<String, String> environment) {
        this.executable = Objects.requireNonNull(executable, "executable");
        this.environment = Map.copyOf(environment);
    }

    public Path executable() {
        return executable;
    }

    public Map<String, String> environment() {
        return environment;
    }

    /**
     * Creates a packaged uv project (src layout) in {@code codeDir}, which must not contain
     * a {@code pyproject.toml} yet. No git repository is created, and the project does not
     * join a uv workspace found in a parent folder.
     */
    public CommandSpec init(Path codeDir, String packageName) {
        Path absolute = codeDir.toAbsolutePath();
        Path parent = absolute.getParent() == null ? absolute : absolute.getParent();
        return command(parent, List.of("init", "--package", "--name", packageName, "--python", PYTHON_VERSION,
                "--vcs", "none", "--no-workspace", "--author-from", "none", absolute.toString()));
    }

    /**
     * Adds {@code requirements} to the optional dependency group {@code extra} of the project
     * in {@code codeDir}. uv edits {@code pyproject.toml} in place, so the person's formatting
     * and comments are kept, and updates {@code uv.lock} without installing anything.
     */
    public CommandSpec addOptional(Path codeDir, String extra, List<String> requirements) {
        if (requirements.isEmpty()) {
            throw new IllegalArgumentException("addOptional needs at least one requirement");
        }
        List<String> arguments = new ArrayList<>(List.of("add", "--optional", extra, "--no-sync"));
        arguments.addAll(requirements);
        return command(codeDir, arguments);
    }

    /** Installs the project and its optional dependency group {@code extra} into {@code code/.venv}. */
    public CommandSpec sync(Path codeDir, String extra) {
        return command(codeDir, List.of("sync", "--extra", extra));
    }

    /**
     * Runs {@code script} with the project's Python and the optional dependency group
     * {@code extra}. A relative script path is resolved against {@code codeDir}.
     */
    public CommandSpec runPython(Path codeDir, String extra, Path script) {
        return command(codeDir, List.of("run", "--extra", extra, "python", script.toString()));
    }

    private CommandSpec command(Path workingDirectory, List<String> arguments) {
        List<String> command = new ArrayList<>();
        command.add(executable.toString());
        command.addAll(arguments);
        return new CommandSpec(command, workingDirectory, environment, null);
    }
}
