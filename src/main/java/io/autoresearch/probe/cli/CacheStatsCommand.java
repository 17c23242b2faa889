package io.autoresearch.probe.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.autoresearch.probe.cache.CacheFolder;
import io.autoresearch.probe.cache.CacheInventory;
import io.autoresearch.probe.cache.CacheStats;
import io.autoresearch.probe.cache.EventSummary;
import io.autoresearch.probe.support.Console;
import io.autoresearch.probe.support.ExitCode;
import io.autoresearch.probe.workspace.Slug;
import io.autoresearch.probe.workspace.Workspace;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/** {@code auto-research probe cache stats}: sizes and counts of the activation cache, and its hit rate. */
@Command(name = "stats",
        mixinStandardHelpOptions = true,
        versionProvider = VersionProvider.class,
        description = {
            "Print the entry count and bytes of the activation cache code/cache/activations/ of"
                    + " the research workspace SLUG, per hook point and model, the oldest and newest created_at, and separately the bytes of"
                    + " invalid and format-1 entries, orphan shards (shards no metadata lists) and temporary files.",
            "The hit rate is hits / (hits + misses) over the cache.hit and cache.miss lines of"
                    + " code/cache/events.jsonl, for all runs and for the run_id of the last lookup.",
            "With --json, one object instead of the table, with sizes in bytes.",
            "Reads only; checksums are left to `probe cache verify`. Exit code 0, or 2 when the workspace or"
                    + " the cache folder is missing."
        })
final class CacheStatsCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final ProbeContext context;

    @Mixin
    private CommonOptions common;

    @Parameters(index = "0", paramLabel = "SLUG", description = "Research slug, the folder under .research/.")
    private String slug;

    CacheStatsCommand(ProbeContext context) {
        this.context = context;
    }

    @Override
    public Integer call() throws JsonProcessingException {
        Console console = common.console();
        Workspace workspace = new Workspace(common.root(context), Slug.parse(slug));
        Path folder = CacheFolder.locate(workspace);
        CacheInventory inventory = CacheInventory.scan(folder);
        EventSummary events = EventSummary.read(workspace.eventsFile());
        CacheStats stats = CacheStats.of(inventory, workspace.eventsFile(), events);

        if (common.json()) {
            ObjectNode document = JSON.createObjectNode();
            document.put("command", "cache stats");
            document.put("exit_code", ExitCode.SUCCESS.code());
            document.setAll(stats.toJson());
            console.document(JSON.writerWithDefaultPrettyPrinter().writeValueAsString(document));
        } else {
            stats.textLines().forEach(console::result);
        }
        if (stats.invalidEntries().count() > 0) {
            console.warn(stats.invalidEntries().count() + " metadata file(s) cannot be read as an entry. Run"
                    + " `auto-research probe cache verify " + slug + "` for the reasons");
        }
        if (events.malformedLines() > 0) {
            console.warn(events.malformedLines() + " line(s) of " + workspace.eventsFile() + " are not JSON"
                    + " event objects and were skipped");
        }
        return ExitCode.SUCCESS.code();
    }
}
