package io.autoresearch.probe.cli;

import io.autoresearch.probe.support.ExitCode;
import io.autoresearch.probe.support.ProbeException;
import io.autoresearch.probe.workspace.Slug;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.FileSystemException;
import picocli.CommandLine;

/**
 * Maps failures to exit codes and messages on stderr. A person's mistake gets one line that
 * names the value and the fix; the stack trace appears only with {@code --verbose}. With
 * {@code --json}, stdout also gets {@code {"error": {"code": N, "message": ...}}}, for usage
 * errors that picocli finds as well.
 */
final class ErrorHandler implements CommandLine.IExecutionExceptionHandler, CommandLine.IParameterExceptionHandler {
    private static final String PREFIX = "[auto-research] error: ";

    @Override
    public int handleExecutionException(Exception error, CommandLine commandLine, CommandLine.ParseResult parseResult) {
        PrintWriter err = commandLine.getErr();
        boolean verbose = hasOption(parseResult, "--verbose");
        int exitCode;
        String message;
        if (error instanceof ProbeException probeError) {
            message = probeError.getMessage();
            exitCode = probeError.exitCode().code();
        } else if (error instanceof UncheckedIOException fileError) {
            message = describeFileError(fileError);
            exitCode = ExitCode.ENVIRONMENT.code();
        } else {
            message = "internal error: " + error;
            exitCode = ExitCode.INTERNAL_ERROR.code();
        }
        err.println(PREFIX + message);
        if (exitCode == ExitCode.INTERNAL_ERROR.code() && !verbose) {
            err.println("Run again with --verbose for the stack trace, and report it as a bug.");
        }
        if (verbose) {
            error.printStackTrace(err);
        }
        err.flush();
        if (hasOption(parseResult, "--json")) {
            printJson(commandLine, exitCode, message);
        }
        return exitCode;
    }

    @Override
    public int handleParseException(CommandLine.ParameterException error, String[] args) {
        CommandLine commandLine = error.getCommandLine();
        PrintWriter err = commandLine.getErr();
        String dashedSlug = slugTakenForOption(error, args);
        String message;
        if (dashedSlug != null) {
            message = "'" + dashedSlug + "' is not an option of "
                    + commandLine.getCommandSpec().qualifiedName() + ", and not a valid slug: a slug must start with"
                    + " a lower-case letter (slugs match " + Slug.PATTERN.pattern() + ")";
            err.println(PREFIX + message);
        } else {
            message = error.getMessage();
            err.println(PREFIX + message);
            CommandLine.UnmatchedArgumentException.printSuggestions(error, err);
        }
        err.println("Try '" + commandLine.getCommandSpec().qualifiedName() + " --help' for more information.");
        err.flush();
        if (jsonRequested(args)) {
            printJson(commandLine, ExitCode.USAGE.code(), message);
        }
        return ExitCode.USAGE.code();
    }

    /** Prints {@code {"error": {"code": ..., "message": ...}}} on stdout, the one document of a failed {@code --json} run. */
    private static void printJson(CommandLine commandLine, int exitCode, String message) {
        PrintWriter out = commandLine.getOut();
        out.println(JsonOutput.write(JsonOutput.ErrorDocument.of(exitCode, message)));
        out.flush();
    }

    /**
     * Returns whether the arguments ask for JSON output. A parameter error can come before
     * picocli has matched {@code --json}, so the raw arguments are read, up to {@code --}.
     */
    static boolean jsonRequested(String[] args) {
        if (args == null) {
            return false;
        }
        for (String arg : args) {
            if (arg.equals("--")) {
                return false;
            }
            if (arg.equals("--json")) {
                return true;
            }
        }
        return false;
    }

    /**
     * Returns the argument that picocli took for an unknown option where the command expected its
     * SLUG, or null. {@code probe run -x} otherwise reports only that SLUG is missing.
     */
    static String slugTakenForOption(CommandLine.ParameterException error, String[] args) {
        CommandLine.Model.CommandSpec spec = error.getCommandLine().getCommandSpec();
        boolean takesSlug = spec.positionalParameters().stream()
                .anyMatch(parameter -> "SLUG".equals(parameter.paramLabel()));
        boolean slugProblem = error instanceof CommandLine.MissingParameterException missing
                ? missing.getMissing().stream().anyMatch(arg -> "SLUG".equals(arg.paramLabel()))
                : error instanceof CommandLine.UnmatchedArgumentException;
        if (!takesSlug || !slugProblem || args == null) {
            return null;
        }
        String previous = null;
        for (String arg : args) {
            CommandLine.Model.OptionSpec previousOption = previous == null || previous.contains("=")
                    ? null : spec.findOption(previous);
            boolean valueOfPrevious = previousOption != null && previousOption.arity().max() > 0;
            if (!valueOfPrevious && arg.startsWith("-") && !arg.equals("-") && !arg.equals("--")
                    && spec.findOption(optionName(arg)) == null && !isShortOptionCluster(spec, arg)) {
                return arg;
            }
            previous = arg;
        }
        return null;
    }

    /** Returns whether {@code arg} is short options written together, such as {@code -qv}. */
    private static boolean isShortOptionCluster(CommandLine.Model.CommandSpec spec, String arg) {
        if (arg.length() < 3 || arg.startsWith("--")) {
            return false;
        }
        return arg.substring(1).chars().allMatch(letter -> spec.findOption("-" + (char) letter) != null);
    }

    /** Returns the option name of {@code --name=value}, or the argument itself. */
    private static String optionName(String arg) {
        int equals = arg.indexOf('=');
        return equals > 0 ? arg.substring(0, equals) : arg;
    }

    /** Formats a failed read or write of a file: what failed, why (such as a full disk) and what to do. */
    static String describeFileError(UncheckedIOException error) {
        Throwable cause = error.getCause();
        String reason = cause == null ? "" : cause.getMessage();
        if (cause instanceof FileSystemException fileSystemError && fileSystemError.getReason() != null) {
            reason = fileSystemError.getReason();
        }
        return error.getMessage() + (reason == null || reason.isBlank() ? "" : ": " + reason)
                + "; free space on the disk or fix the folder's permissions, then run again. Files written before"
                + " are unchanged, because each file is replaced only once its new version is complete";
    }

    private static boolean hasOption(CommandLine.ParseResult parseResult, String option) {
        for (CommandLine.ParseResult result = parseResult; result != null; result = result.subcommand()) {
            if (result.hasMatchedOption(option)) {
                return true;
            }
        }
        return false;
    }
}
