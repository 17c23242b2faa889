package io.autoresearch.probe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.autoresearch.probe.cache.ByteSize;
import io.autoresearch.probe.cache.CacheFixture;
import io.autoresearch.probe.support.ExitCode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code probe cache stats} on a cache folder of real files. */
class CacheStatsCommandTest {
    private static final Instant NOW = CliRun.FIXED_CLOCK.instant();
    private static final String RUN_1 = "20261203-090000-abcdef0-111111";
    private static final String RUN_2 = "20261204-090000-abcdef0-222222";
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path root;

    private CacheFixture cache;

    @BeforeEach
    void createCache() throws IOException {
        cache = new CacheFixture(root);
    }

    private CliRun stats(String... arguments) {
        String[] args = Stream.concat(Stream.of("probe", "cache", "stats", CacheFixture.SLUG), Stream.of(arguments))
                .toArray(String[]::new);
        return CliRun.execute(root, args);
    }

    /** Fills the cache with three entries, one of each kind of leftover and events of two runs, and returns the entries. */
    private List<CacheFixture.Entry> fillCache() throws IOException {
        CacheFixture.Entry first = cache.addEntry("one", "resid_pre", "model-a", NOW.minus(Duration.ofDays(3)), 2, 2);
        CacheFixture.Entry second = cache.addEntry("two", "resid_pre", "model-a", NOW.minus(Duration.ofHours(1)), 4);
        CacheFixture.Entry third = cache.addEntry("three", "attn_out", "model-b", NOW.minus(Duration.ofDays(10)),
                1, 1, 1);
        cache.addFormat1Entry("old");
        cache.write(CacheFixture.key("orphan") + ".0.safetensors", new byte[100]);
        cache.write(second.key() + ".1.safetensors", new byte[50]);
        cache.write("." + CacheFixture.key("four") + ".json.k2j3h4.tmp", new byte[30]);
        cache.write(CacheFixture.key("four") + ".lock", new byte[0]);
        cache.write(CacheFixture.key("bad") + ".json", "{not json".getBytes(StandardCharsets.UTF_8));
        cache.write("notes.txt", "kept by hand".getBytes(StandardCharsets.UTF_8));

        cache.event("cache.miss", RUN_1, first.key());
        cache.event("cache.miss", RUN_1, second.key());
        cache.event("cache.write", RUN_1, first.key());
        cache.event("cache.hit", RUN_1, third.key());
        cache.event("probe.start", RUN_2, null);
        cache.event("cache.hit", RUN_2, first.key());
        cache.event("cache.corrupt", RUN_2, second.key());
        cache.event("cache.miss", RUN_2, second.key());
        cache.event("cache.hit", RUN_2, third.key());
        // A line cut short by a crash.
        cache.appendEventLine("{\"event\": \"cache.hit\", \"run_id\": \"" + RUN_2);
        return List.of(first, second, third);
    }

    @Test
    void statsJsonCountsEntriesAndLeftovers() throws IOException {
        List<CacheFixture.Entry> entries = fillCache();
        long firstBytes = entries.get(0).bytes();
        long secondBytes = entries.get(1).bytes();
        long thirdBytes = entries.get(2).bytes();

        CliRun run = stats("--json");

        assertEquals(ExitCode.SUCCESS.code(), run.exitCode(), run.err());
        JsonNode stats = JSON.readTree(run.out());
        assertEquals(cache.folder().toString(), stats.get("folder").asText());
        assertEquals(3, stats.at("/entries/count").asLong());
        assertEquals(firstBytes + secondBytes + thirdBytes, stats.at("/entries/bytes").asLong());
        assertEquals(2, stats.at("/by_hook_point/resid_pre/count").asLong());
        assertEquals(firstBytes + secondBytes, stats.at("/by_hook_point/resid_pre/bytes").asLong());
        assertEquals(1, stats.at("/by_hook_point/attn_out/count").asLong());
        assertEquals(2, stats.at("/by_model/model-a/count").asLong());
        assertEquals(thirdBytes, stats.at("/by_model/model-b/bytes").asLong());
        assertEquals(NOW.minus(Duration.ofDays(10)).toString(), stats.get("oldest_created_at").asText());
        assertEquals(NOW.minus(Duration.ofHours(1)).toString(), stats.get("newest_created_at").asText());
        assertEquals(1, stats.at("/invalid_entries/count").asLong());
        assertEquals(9, stats.at("/invalid_entries/bytes").asLong());
        assertEquals(1, stats.at("/format_1_entries/count").asLong());
        assertEquals(2, stats.at("/orphan_shards/count").asLong());
        assertEquals(150, stats.at("/orphan_shards/bytes").asLong());
        assertEquals(1, stats.at("/temporary_files/count").asLong());
        assertEquals(30, stats.at("/temporary_files/bytes").asLong());
        assertEquals(1, stats.get("lock_files").asInt());
        assertEquals(1, stats.get("other_files").asInt());
    }

    @Test
    void statsJsonHitRateOverallAndLastRun() throws IOException {
        fillCache();

        CliRun run = stats("--json");

        assertEquals(ExitCode.SUCCESS.code(), run.exitCode(), run.err());
        JsonNode events = JSON.readTree(run.out()).get("events");
        assertEquals("read", events.get("status").asText());
        assertEquals(10, events.get("lines").asLong());
        assertEquals(1, events.get("malformed_lines").asLong());
        assertEquals(3, events.get("hits").asLong());
        assertEquals(3, events.get("misses").asLong());
        assertEquals(0.5, events.get("hit_rate").asDouble(), 1e-12);
        assertEquals(1, events.get("writes").asLong());
        assertEquals(1, events.get("corrupt").asLong());
        assertEquals(RUN_2, events.at("/last_run/run_id").asText());
        assertEquals(2, events.at("/last_run/hits").asLong());
        assertEquals(1, events.at("/last_run/misses").asLong());
        assertEquals(2.0 / 3.0, events.at("/last_run/hit_rate").asDouble(), 1e-12);
        assertTrue(run.err().contains("1 line(s) of " + cache.eventsFile()), run.err());
        assertTrue(run.err().contains("1 metadata file(s) cannot be read"), run.err());
    }

    @Test
    void statsTablePrintsCountsAndRates() throws IOException {
        List<CacheFixture.Entry> entries = fillCache();
        long total = entries.get(0).bytes() + entries.get(1).bytes() + entries.get(2).bytes();

        CliRun run = stats();

        assertEquals(ExitCode.SUCCESS.code(), run.exitCode(), run.err());
        List<String> lines = run.out().lines().toList();
        assertTrue(lines.contains("folder             " + cache.folder()), run.out());
        assertTrue(lines.contains("entries            3, " + ByteSize.format(total)), run.out());
        assertTrue(lines.contains("oldest entry       2026-11-24T10:00:00Z"), run.out());
        assertTrue(lines.contains("newest entry       2026-12-04T09:00:00Z"), run.out());
        assertTrue(lines.stream().anyMatch(line -> line.startsWith("hook point         resid_pre: 2 entries, ")),
                run.out());
        assertTrue(lines.stream().anyMatch(line -> line.startsWith("model              model-b: 1 entry, ")),
                run.out());
        assertTrue(lines.contains("orphan shards      2, 150 B"), run.out());
        assertTrue(lines.contains("temporary files    1, 30 B"), run.out());
        assertTrue(lines.contains("hit rate           50.0% (3 hits, 3 misses)"), run.out());
        assertTrue(lines.contains("last run           " + RUN_2), run.out());
        assertTrue(lines.contains("last run hit rate  66.7% (2 hits, 1 miss)"), run.out());
    }

    @Test
    void statsWithoutEventsFileHasNoLookups() throws IOException {
        cache.addEntry("one", "resid_pre", "model-a", NOW, 3);

        CliRun run = stats("--json");

        assertEquals(ExitCode.SUCCESS.code(), run.exitCode(), run.err());
        JsonNode events = JSON.readTree(run.out()).get("events");
        assertEquals("missing", events.get("status").asText());
        assertTrue(events.get("hit_rate").isNull(), run.out());
        assertTrue(events.at("/last_run/run_id").isNull(), run.out());
        assertTrue(stats().out().contains("not found: no lookups recorded"));
    }

    @Test
    void statsOfEmptyCacheHasNoDates() throws IOException {
        CliRun run = stats("--json");

        assertEquals(ExitCode.SUCCESS.code(), run.exitCode(), run.err());
        JsonNode stats = JSON.readTree(run.out());
        assertEquals(0, stats.at("/entries/count").asLong());
        assertTrue(stats.get("oldest_created_at").isNull(), run.out());
    }

    @Test
    void entryWithoutCreatedAtUsesModificationTime() throws IOException {
        CacheFixture.Entry entry = cache.addEntry("one", "resid_pre", "model-a", NOW, 3);
        ObjectNode metadata = cache.readMetadata(entry.key());
        metadata.remove("created_at");
        cache.writeMetadata(entry.key(), metadata);
        Instant modified = Instant.parse("2026-11-01T08:00:00Z");
        CacheFixture.touch(entry.metadata(), modified);

        CliRun run = stats("--json");

        assertEquals(ExitCode.SUCCESS.code(), run.exitCode(), run.err());
        assertEquals(modified.toString(), JSON.readTree(run.out()).get("oldest_created_at").asText());
    }

    @Test
    void missingWorkspaceIsUsageError() {
        CliRun run = CliRun.execute(root, "probe", "cache", "stats", "no-such-study");

        assertEquals(ExitCode.USAGE.code(), run.exitCode());
        assertTrue(run.err().contains("research workspace not found: " + root.resolve(".research/no-such-study")),
                run.err());
        assertTrue(run.err().contains("--root DIR"), run.err());
    }

    @Test
    void missingCacheFolderIsUsageError() throws IOException {
        Files.delete(cache.folder());

        CliRun run = stats();

        assertEquals(ExitCode.USAGE.code(), run.exitCode());
        assertTrue(run.err().contains("activation cache folder not found: " + cache.folder()), run.err());
        assertTrue(run.err().contains("auto-research probe setup " + CacheFixture.SLUG), run.err());
    }

    @Test
    void cacheFolderLinkedOutsideWorkspaceIsUsageError() throws IOException {
        Files.delete(cache.folder());
        Path outside = Files.createDirectories(root.resolve("elsewhere"));
        Files.createSymbolicLink(cache.folder(), outside);

        CliRun run = stats();

        assertEquals(ExitCode.USAGE.code(), run.exitCode());
        assertTrue(run.err().contains("outside the workspace"), run.err());
    }

    @Test
    void cacheHelpListsSubcommandsAndExitCodes() {
        CliRun run = CliRun.execute(root, "probe", "cache", "--help");

        assertEquals(ExitCode.SUCCESS.code(), run.exitCode(), run.err());
        assertTrue(run.out().contains("stats"), run.out());
        assertTrue(run.out().contains("verify"), run.out());
        assertTrue(run.out().contains("clear"), run.out());
        assertTrue(run.out().contains("Exit codes:"), run.out());
    }

    @Test
    void cacheWithoutSubcommandIsUsageError() {
        CliRun run = CliRun.execute(root, "probe", "cache");

        assertEquals(ExitCode.USAGE.code(), run.exitCode());
        assertTrue(run.err().contains("missing subcommand: use stats, verify or clear"), run.err());
    }
}
