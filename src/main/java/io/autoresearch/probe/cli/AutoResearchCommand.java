package io.autoresearch.probe.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** The top command; it only groups subcommands. */
@Command(name = "auto-research",
        mixinStandardHelpOptions = true,
        versionProvider = VersionProvider.class,
        description = "Scaffold, run and check mechanistic-interpretability experiments in a research workspace.",
        subcommands = {ProbeCommand.class, DoctorCommand.class, CompletionCommand.class})
public final class AutoResearchCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Override
    public Integer call() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing command: use probe, doctor or completion");
    }
}
