package io.autoresearch.probe.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code auto-research probe cache}: groups stats, verify and clear of a workspace's activation cache. */
@Command(name = "cache",
        mixinStandardHelpOptions = true,
        versionProvider = VersionProvider.class,
        description = {
            "Inspect, check and clear the activation cache code/cache/activations/ of a research workspace"
                    + " in .research/<slug>/. The probe scripts write it: each entry is a"
                    + " metadata file <key>.json, renamed into place last, and its tensor shards"
                    + " <key>.<i>.safetensors. Lookups are logged in code/cache/events.jsonl."
        },
        subcommands = {CacheStatsCommand.class, CacheVerifyCommand.class, CacheClearCommand.class})
final class CacheCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Override
    public Integer call() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing subcommand: use stats, verify or clear");
    }
}
