package io.autoresearch.probe.cli;

import io.autoresearch.probe.support.ExitCode;
import picocli.CommandLine;

/** The entry point of the {@code auto-research} command line. */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) {
        System.exit(commandLine(ProbeContext.fromSystem()).execute(args));
    }

    /**
     * Builds the command tree with its error handling: a {@code ProbeException} becomes its own
     * exit code and one {@code error:} line, a parameter error becomes exit code USAGE with a
     * hint to try {@code --help}, and anything else becomes INTERNAL_ERROR. Every command's
     * help ends with the exit-code table.
     */
    public static CommandLine commandLine(ProbeContext context) {
        CommandLine commandLine = new CommandLine(new AutoResearchCommand(), new ContextFactory(context));
        commandLine.setExecutionExceptionHandler(new ErrorHandler());
        commandLine.setParameterExceptionHandler(new ErrorHandler());
        addExitCodeFooter(commandLine);
        return commandLine;
    }

    private static void addExitCodeFooter(CommandLine commandLine) {
        commandLine.getCommandSpec().usageMessage().footer(ExitCode.helpTable());
        commandLine.getCommandSpec().exitCodeOnUsageHelp(ExitCode.SUCCESS.code());
        for (CommandLine subcommand : commandLine.getSubcommands().values()) {
            addExitCodeFooter(subcommand);
        }
    }
}
