package io.autoresearch.probe.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code auto-research probe}: groups plan, setup, run, validate, report, cache and demo. */
@Command(name = "probe",
        mixinStandardHelpOptions = true,
        versionProvider = VersionProvider.class,
        description = "Probe a language model's internals with generated, reproducible scripts.",
        subcommands = {PlanCommand.class, SetupCommand.class, RunCommand.class, ValidateCommand.class, ReportCommand.class, DemoCommand.class, CacheCommand.class})
public final class ProbeCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Override
    public Integer call() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing subcommand: use plan, setup, run, validate, report, cache or demo");
    }
}
