package io.autoresearch.probe.cli;

import io.autoresearch.probe.support.Console;
import java.nio.file.Path;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** The options every probe subcommand shares: the workspace root, uv installation, how much to print and whether stdout is JSON. */
public final class CommonOptions {
    @Spec(Spec.Target.MIXEE)
    private CommandSpec mixee;

    @Option(names = "--root", paramLabel = "DIR",
            description = "Folder that contains .research/ (default: the current folder).")
    private Path root;

    @Option(names = "--no-install", description = "Fail instead of installing uv when it is missing.")
    private boolean noInstall;

    @Option(names = {"-q", "--quiet"}, description = "Print only results, warnings and errors; hide progress and script output.")
    private boolean quiet;

    @Option(names = {"-v", "--verbose"},
            description = "Also print each subprocess command line, elapsed times and stack traces of errors.")
    private boolean verbose;

    @Option(names = "--json",
            description = "Print one JSON document on stdout instead of result lines; errors become"
                    + " {\"error\": {\"code\": N, \"message\": ...}}. Info lines and script output are hidden;"
                    + " warnings and errors still go to stderr.")
    private boolean json;

    /** Returns whether the command prints one JSON document on stdout. */
    public boolean json() {
        return json;
    }

    /** Returns the workspace root: {@code --root}, else the context's working folder. */
    public Path root(ProbeContext context) {
        return root == null ? context.workingDirectory() : context.workingDirectory().resolve(root).normalize();
    }

    /** Returns whether uv may be installed into the tool-owned folder when it is missing. */
    public boolean allowUvInstall() {
        return !noInstall;
    }

    public boolean verbose() {
        return verbose;
    }

    /** Creates the console for this command, writing to the command line's out and err streams. */
    public Console console() {
        if (quiet && verbose) {
            throw new CommandLine.ParameterException(mixee.commandLine(),
                    "--quiet and --verbose cannot be used together; pick one");
        }
        return new Console(mixee.commandLine().getOut(), mixee.commandLine().getErr(), quiet, verbose, json);
    }
}
