package io.autoresearch.probe.cli;

import io.autoresearch.probe.results.ResultsProblem;
import io.autoresearch.probe.results.ResultsValidator;
import io.autoresearch.probe.support.Console;
import io.autoresearch.probe.support.ExitCode;
import io.autoresearch.probe.support.ProbeException;
import io.autoresearch.probe.workspace.Slug;
import io.autoresearch.probe.workspace.Workspace;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code auto-research probe validate}: checks results files against the results schema and
 * the semantic rules, with the same {@link ResultsValidator} that {@code probe run} uses.
 *
 * <p>Every file is checked and reported, whatever the other files contain. The exit code is
 * USAGE when an argument names nothing to check (a missing workspace, file or results
 * folder), else VALIDATION_FAILED when any file is invalid, else SUCCESS.
 */
@Command(name = "validate",
        mixinStandardHelpOptions = true,
        versionProvider = VersionProvider.class,
        description = {
            "Validate results files against the results schema (src/main/resources/schema/"
                    + "probe-results.schema.json, JSON Schema draft 2020-12) and the rules a schema cannot state:"
                    + " lengths match layers and seeds, lo <= value <= hi, finite numbers, status against sample"
                    + " size and seeds, distinct explanations, artifact files inside code/, probe_id = file name.",
            "With a SLUG, every *.json in .research/<slug>/code/results/probe/ is checked, except index.json"
                    + " (the collation written by `probe report`).",
            "With FILE arguments, those files are checked. Each must lie in a results/probe/ folder: its"
                    + " artifact paths are resolved against the folder that holds results/ (the code/ folder of"
                    + " .research/<slug>/code/results/probe/x.json). An argument that ends in .json or contains a"
                    + " path separator is a file; anything else is a slug (write ./NAME for a file without .json).",
            "Prints one line per file on stdout, '<path><TAB>valid' or '<path><TAB>invalid (N problems)', and"
                    + " each problem on stderr as '<path>: <JSON path>: <message> [<rule>]'.",
            "With --json, one object with files (each {file, status, problems}, a problem being {path, rule,"
                    + " message}) and errors (the arguments that named no results file).",
            "Every file is checked even when others are invalid or missing. The exit code is 2 when a workspace,"
                    + " file or results folder is missing, else 6 when any file is invalid, else 0."
        })
final class ValidateCommand implements Callable<Integer> {
    /** The collation file that {@code probe report} writes next to the results files. */
    static final String INDEX_FILE = "index.json";

    private final ProbeContext context;

    @Spec
    private CommandSpec spec;

    @Mixin
    private CommonOptions common;

    @Parameters(arity = "1..*", paramLabel = "SLUG|FILE",
            description = "A research slug (the folder under .research/), or one or more results files.")
    private List<String> arguments;

    ValidateCommand(ProbeContext context) {
        this.context = context;
    }

    /** A results file to check: the path to print, the absolute file, and the code/ folder its artifact paths are relative to. */
    private record Target(String displayPath, Path file, Path codeDir) {
    }

    @Override
    public Integer call() {
        Console console = common.console();
        List<String> fileArguments = arguments.stream().filter(ValidateCommand::isFileArgument).toList();
        List<String> usageErrors = new ArrayList<>();
        List<Target> targets;
        if (fileArguments.isEmpty()) {
            if (arguments.size() > 1) {
                throw new CommandLine.ParameterException(spec.commandLine(), "expected one slug but got "
                        + arguments.size() + ": " + arguments + ". Give one slug, or results files (names ending in"
                        + " .json or containing '/')");
            }
            targets = slugTargets(arguments.get(0));
        } else {
            if (fileArguments.size() != arguments.size()) {
                List<String> others = arguments.stream().filter(argument -> !isFileArgument(argument)).toList();
                throw new CommandLine.ParameterException(spec.commandLine(), "cannot mix a slug with results"
                        + " files: " + others + " is not a file name. Give one slug, or files only (write ./NAME for"
                        + " a file whose name does not end in .json)");
            }
            targets = new ArrayList<>();
            for (String argument : arguments) {
                String usageError = addFileTarget(argument, console, targets);
                if (usageError != null) {
                    console.error(usageError);
                    usageErrors.add(usageError);
                }
            }
        }

        ResultsValidator validator = new ResultsValidator();
        int invalid = 0;
        List<JsonOutput.ResultsFile> checked = new ArrayList<>();
        for (Target target : targets) {
            List<ResultsProblem> problems = validator.validate(target.file(), target.codeDir());
            checked.add(JsonOutput.ResultsFile.of(target.displayPath(), problems));
            if (problems.isEmpty()) {
                console.result(target.displayPath() + "\tvalid");
            } else {
                invalid++;
                console.result(target.displayPath() + "\tinvalid (" + problems.size()
                        + (problems.size() == 1 ? " problem)" : " problems)"));
                for (ResultsProblem problem : problems) {
                    console.error(target.displayPath() + ": " + problem);
                }
            }
        }
        if (!targets.isEmpty()) {
            console.info((targets.size() - invalid) + " of " + targets.size() + " results file(s) valid");
        }
        int exitCode = !usageErrors.isEmpty() ? ExitCode.USAGE.code()
                : invalid == 0 ? ExitCode.SUCCESS.code() : ExitCode.VALIDATION_FAILED.code();
        if (common.json()) {
            JsonOutput.print(console, new JsonOutput.ValidateDocument("validate", exitCode, checked, usageErrors));
        }
        return exitCode;
    }

    /** Returns whether a command-line argument names a file rather than a slug. */
    static boolean isFileArgument(String argument) {
        return argument.toLowerCase(Locale.ROOT).endsWith(".json") || argument.contains("/")
                || argument.contains("\\");
    }

    /** Lists the results files of a workspace, or throws a usage error that explains why there are none. */
    private List<Target> slugTargets(String slugArgument) {
        Workspace workspace = new Workspace(common.root(context), Slug.parse(slugArgument));
        if (!Files.isDirectory(workspace.researchDir())) {
            throw ProbeException.usage("research workspace not found: " + workspace.researchDir()
                    + " does not exist. Check the slug, and pass --root DIR when .research/ is not in the"
                    + " current folder");
        }
        Path resultsDir = workspace.resultsDir();
        List<Path> files = Files.isDirectory(resultsDir) ? listResults(resultsDir) : List.of();
        if (files.isEmpty()) {
            throw ProbeException.usage("no results files in " + resultsDir + " (" + INDEX_FILE
                    + " does not count). Run the probes first with `auto-research probe run " + slugArgument + "`");
        }
        List<Target> targets = new ArrayList<>();
        for (Path file : files) {
            targets.add(new Target(file.toString(), file, workspace.codeDir()));
        }
        return targets;
    }

    /** Returns the regular {@code *.json} files directly in {@code resultsDir}, sorted, without index.json and hidden files. */
    private static List<Path> listResults(Path resultsDir) {
        List<Path> files = new ArrayList<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(resultsDir, "*.json")) {
            for (Path entry : entries) {
                String name = entry.getFileName().toString();
                // Hidden names are temporary files of an atomic write in progress.
                if (!name.equals(INDEX_FILE) && !name.startsWith(".") && Files.isRegularFile(entry)) {
                    files.add(entry);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("could not list " + resultsDir, e);
        }
        files.sort(Comparator.naturalOrder());
        return files;
    }

    /**
     * Resolves one FILE argument and adds it to {@code targets}, or skips it when it is an
     * index.json. Returns why, when it names no results file to check, else null.
     */
    private String addFileTarget(String argument, Console console, List<Target> targets) {
        Path file;
        try {
            file = context.workingDirectory().resolve(argument).toAbsolutePath().normalize();
        } catch (InvalidPathException e) {
            return "invalid path '" + argument + "': " + e.getReason();
        }
        if (Files.isDirectory(file)) {
            return argument + " is a folder, not a results file: pass the files in it (" + argument
                    + "/*.json) or a slug";
        }
        if (!Files.exists(file)) {
            return "results file not found: " + argument + " (" + file + ")";
        }
        if (file.getFileName().toString().equals(INDEX_FILE)) {
            console.info("skipped " + argument + ": " + INDEX_FILE
                    + " is the collation written by `probe report`, not a results file");
            return null;
        }
        Path probeDir = file.getParent();
        Path resultsDir = probeDir == null ? null : probeDir.getParent();
        Path codeDir = resultsDir == null ? null : resultsDir.getParent();
        if (codeDir == null || !probeDir.getFileName().toString().equals("probe")
                || !resultsDir.getFileName().toString().equals("results")) {
            return argument + " is not in a results/probe/ folder, so its artifact paths cannot be resolved. Results files"
                    + " belong in <code>/results/probe/, with artifact paths relative to <code>/";
        }
        targets.add(new Target(argument, file, codeDir));
        return null;
    }
}
