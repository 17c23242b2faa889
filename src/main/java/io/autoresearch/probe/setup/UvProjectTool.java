package io.autoresearch.probe.setup;

import io.autoresearch.probe.process.CommandSpec;
import io.autoresearch.probe.process.ProcessFailure;
import io.autoresearch.probe.process.ProcessResult;
import io.autoresearch.probe.process.ProcessRunner;
import io.autoresearch.probe.support.Console;
import io.autoresearch.probe.support.ExitCode;
import io.autoresearch.probe.support.ProbeException;
import io.autoresearch.probe.uv.Uv;
import io.autoresearch.probe.uv.UvLocator;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Runs {@code uv init} and {@code uv add} for setup. uv is located on first use, so a setup
 * that needs neither command works without uv.
 */
public final class UvProjectTool implements ProjectTool {
    private final UvLocator locator;
    private final Map<String, String> uvEnvironment;
    private final boolean allowInstall;
    private final ProcessRunner runner;
    private final Console console;
    private Uv uv;

    /**
     * @param uvEnvironment variables added to every uv command, such as {@code UV_OFFLINE=1}
     * @param allowInstall whether the locator may install uv when it is missing
     */
    public UvProjectTool(UvLocator locator, Map<String, String> uvEnvironment, boolean allowInstall,
            ProcessRunner runner, Console console) {
        this.locator = locator;
        this.uvEnvironment = Map.copyOf(uvEnvironment);
        this.allowInstall = allowInstall;
        this.runner = runner;
        this.console = console;
    }

    @Override
    public void init(Path codeDir, String projectName) {
        console.info("creating a uv project in " + codeDir);
        Uv uvCommands = uv();
        try {
            // uv init runs in the parent folder, which must exist; uv accepts an empty code/.
            Files.createDirectories(codeDir);
        } catch (IOException e) {
            throw new ProbeException(ExitCode.ENVIRONMENT, "could not create " + codeDir + ": " + e.getMessage(), e);
        }
        run("uv init", uvCommands.init(codeDir, projectName));
    }

    @Override
    public void addOptional(Path codeDir, String extra, List<String> requirements) {
        console.info("declaring the " + extra + " extra in " + codeDir.resolve("pyproject.toml")
                + " (uv add resolves and locks; it may take a minute)");
        run("uv add", uv().addOptional(codeDir, extra, requirements));
    }

    private Uv uv() {
        if (uv == null) {
            uv = new Uv(locator.locate(allowInstall, console), uvEnvironment);
        }
        return uv;
    }

    private void run(String label, CommandSpec spec) {
        console.verbose("$ " + spec.display() + "   (in " + spec.workingDirectory() + ")");
        ProcessResult result = runner.run(spec, console::passthrough, console::passthrough);
        console.verbose(label + " finished in " + result.elapsed().toMillis() + " ms");
        if (!result.succeeded()) {
            throw new ProbeException(ExitCode.ENVIRONMENT, ProcessFailure.describe(label, result));
        }
    }
}
