package io.autoresearch.probe.cli;

import io.autoresearch.probe.support.ExitCode;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** Placeholder until the demo service is wired. */
@Command(name = "demo", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        description = "Build the induction demo workspace, set up a logit-lens probe on it and run it.")
final class DemoCommand implements java.util.concurrent.Callable<Integer> {
    private final ProbeContext context;

    @Mixin
    private CommonOptions common;

    DemoCommand(ProbeContext context) {
        this.context = context;
    }

    @Override
    public Integer call() {
        return ExitCode.SUCCESS.code();
    }
}
