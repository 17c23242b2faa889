package io.autoresearch.probe.cli;

import io.autoresearch.probe.support.ExitCode;
import io.autoresearch.probe.support.ProbeException;
import java.io.PrintWriter;
import picocli.CommandLine;

/**
 * Maps failures to exit codes and messages on stderr. A person's mistake gets one line that
 * names the value and the fix; the stack trace appears only with {@code --verbose}.
 */
final class ErrorHandler implements CommandLine.IExecutionExceptionHandler, CommandLine.IParameterExceptionHandler {
    private static final String PREFIX = "[auto-research] error: ";

    @Override
    public int handleExecutionException(Exception error, CommandLine commandLine, CommandLine.ParseResult parseResult) {
        PrintWriter err = commandLine.getErr();
        boolean verbose = isVerbose(parseResult);
        int exitCode;
        if (error instanceof ProbeException probeError) {
            err.println(PREFIX + probeError.getMessage());
            exitCode = probeError.exitCode().code();
        } else {
            err.println(PREFIX + "internal error: " + error);
            if (!verbose) {
                err.println("Run again with --verbose for the stack trace, and report it as a bug.");
            }
            exitCode = ExitCode.INTERNAL_ERROR.code();
        }
        if (verbose) {
            error.printStackTrace(err);
        }
        err.flush();
        return exitCode;
    }

    @Override
    public int handleParseException(CommandLine.ParameterException error, String[] args) {
        CommandLine commandLine = error.getCommandLine();
        PrintWriter err = commandLine.getErr();
        err.println(PREFIX + error.getMessage());
        CommandLine.UnmatchedArgumentException.printSuggestions(error, err);
        err.println("Try '" + commandLine.getCommandSpec().qualifiedName() + " --help' for more information.");
        err.flush();
        return ExitCode.USAGE.code();
    }

    private static boolean isVerbose(CommandLine.ParseResult parseResult) {
        for (CommandLine.ParseResult result = parseResult; result != null; result = result.subcommand()) {
            if (result.hasMatchedOption("--verbose")) {
                return true;
            }
        }
        return false;
    }
}
