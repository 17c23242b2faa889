package io.autoresearch.probe.cache;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Sizes and counts of one cache folder, with the hit rate from its events file.
 *
 * @param entries the readable format-2 entries: metadata file and listed shards on disk
 * @param byHookPoint those entries by {@code hook_point}, with {@value #UNKNOWN} for a missing field
 * @param byModel those entries by {@code model_id}
 * @param oldest the earliest {@link CacheEntry#createdAt()} of those entries, or null without any
 * @param invalidEntries metadata files that cannot be read as format 1 or 2
 * @param orphanShards orphans other than temporary files: shards no metadata lists, lone format-1 tensors
 */
public record CacheStats(Path folder, Tally entries, Map<String, Tally> byHookPoint, Map<String, Tally> byModel,
        Instant oldest, Instant newest, Tally invalidEntries, Tally format1Entries, Tally orphanShards,
        Tally temporaryFiles, int lockFiles, int otherFiles, Path eventsFile, EventSummary events) {
    static final String UNKNOWN = "(missing)";

    private static final ObjectMapper JSON = new ObjectMapper();

    /** A number of things and their bytes on disk. */
    public record Tally(long count, long bytes) {
        static final Tally ZERO = new Tally(0, 0);

        Tally plus(long moreBytes) {
            return new Tally(count + 1, bytes + moreBytes);
        }
    }

    /** Counts the entries and orphans of {@code inventory}. */
    public static CacheStats of(CacheInventory inventory, Path eventsFile, EventSummary events) {
        Tally entries = Tally.ZERO;
        Map<String, Tally> byHookPoint = new TreeMap<>();
        Map<String, Tally> byModel = new TreeMap<>();
        Instant oldest = null;
        Instant newest = null;
        for (CacheEntry entry : inventory.entries(CacheEntry.Format.CURRENT)) {
            long bytes = entry.bytes();
            entries = entries.plus(bytes);
            byHookPoint.merge(orUnknown(entry.metadata().hookPoint()), Tally.ZERO.plus(bytes), CacheStats::add);
            byModel.merge(orUnknown(entry.metadata().modelId()), Tally.ZERO.plus(bytes), CacheStats::add);
            Instant created = entry.createdAt();
            oldest = oldest == null || created.isBefore(oldest) ? created : oldest;
            newest = newest == null || created.isAfter(newest) ? created : newest;
        }
        Tally orphanShards = Tally.ZERO;
        Tally temporaryFiles = Tally.ZERO;
        for (Orphan orphan : inventory.orphans()) {
            if (orphan.kind() == Orphan.Kind.TEMPORARY_FILE) {
                temporaryFiles = temporaryFiles.plus(orphan.file().size());
            } else {
                orphanShards = orphanShards.plus(orphan.file().size());
            }
        }
        return new CacheStats(inventory.folder(), entries, byHookPoint, byModel, oldest, newest,
                tally(inventory.entries(CacheEntry.Format.INVALID)), tally(inventory.entries(CacheEntry.Format.FORMAT_1)),
                orphanShards, temporaryFiles, inventory.lockFiles().size(), inventory.otherFiles().size(), eventsFile,
                events);
    }

    private static String orUnknown(String value) {
        return value == null ? UNKNOWN : value;
    }

    private static Tally add(Tally first, Tally second) {
        return new Tally(first.count() + second.count(), first.bytes() + second.bytes());
    }

    private static Tally tally(List<CacheEntry> entries) {
        return new Tally(entries.size(), entries.stream().mapToLong(CacheEntry::bytes).sum());
    }

    /** Returns the report for people, one {@code label  value} line each. */
    public List<String> textLines() {
        List<String> lines = new ArrayList<>();
        line(lines, "folder", folder.toString());
        line(lines, "entries", entries.count() + ", " + ByteSize.format(entries.bytes()));
        if (oldest != null) {
            line(lines, "oldest entry", oldest.toString());
            line(lines, "newest entry", newest.toString());
        }
        byHookPoint.forEach((hookPoint, tally) -> line(lines, "hook point", hookPoint + ": " + describe(tally)));
        byModel.forEach((model, tally) -> line(lines, "model", model + ": " + describe(tally)));
        line(lines, "invalid entries", invalidEntries.count() + ", " + ByteSize.format(invalidEntries.bytes()));
        line(lines, "format-1 entries", format1Entries.count() + ", " + ByteSize.format(format1Entries.bytes()));
        line(lines, "orphan shards", orphanShards.count() + ", " + ByteSize.format(orphanShards.bytes()));
        line(lines, "temporary files", temporaryFiles.count() + ", " + ByteSize.format(temporaryFiles.bytes()));
        line(lines, "lock files", Integer.toString(lockFiles));
        line(lines, "other files", Integer.toString(otherFiles));
        eventLines(lines);
        return lines;
    }

    private void eventLines(List<String> lines) {
        switch (events.status()) {
            case MISSING -> line(lines, "events", eventsFile + " not found: no lookups recorded");
            case SYMBOLIC_LINK -> line(lines, "events", eventsFile + " is a symbolic link, not read");
            case READ -> {
                line(lines, "events", eventsFile + ": " + events.lines() + " lines, " + events.malformedLines()
                        + " malformed");
                line(lines, "hit rate", describeRate(events.hitRate(), events.hits(), events.misses()));
                if (events.lastRunId() != null) {
                    line(lines, "last run", events.lastRunId());
                    line(lines, "last run hit rate",
                            describeRate(events.lastRunHitRate(), events.lastRunHits(), events.lastRunMisses()));
                }
                line(lines, "writes", Long.toString(events.writes()));
                line(lines, "corrupt found", Long.toString(events.corrupt()));
            }
        }
    }

    private static void line(List<String> lines, String label, String value) {
        lines.add(String.format(Locale.ROOT, "%-18s %s", label, value));
    }

    private static String describe(Tally tally) {
        return tally.count() + (tally.count() == 1 ? " entry, " : " entries, ") + ByteSize.format(tally.bytes());
    }

    private static String describeRate(Double rate, long hits, long misses) {
        if (rate == null) {
            return "no lookups";
        }
        return String.format(Locale.ROOT, "%.1f%% (%d %s, %d %s)", rate * 100, hits, hits == 1 ? "hit" : "hits",
                misses, misses == 1 ? "miss" : "misses");
    }

    /** Returns the report as one JSON object with snake_case fields, times in ISO 8601 UTC and sizes in bytes. */
    public ObjectNode toJson() {
        ObjectNode root = JSON.createObjectNode();
        root.put("folder", folder.toString());
        putTally(root, "entries", entries);
        root.put("oldest_created_at", oldest == null ? null : oldest.toString());
        root.put("newest_created_at", newest == null ? null : newest.toString());
        ObjectNode hookPoints = root.putObject("by_hook_point");
        byHookPoint.forEach((hookPoint, tally) -> putTally(hookPoints, hookPoint, tally));
        ObjectNode models = root.putObject("by_model");
        byModel.forEach((model, tally) -> putTally(models, model, tally));
        putTally(root, "invalid_entries", invalidEntries);
        putTally(root, "format_1_entries", format1Entries);
        putTally(root, "orphan_shards", orphanShards);
        putTally(root, "temporary_files", temporaryFiles);
        root.put("lock_files", lockFiles);
        root.put("other_files", otherFiles);

        ObjectNode eventNode = root.putObject("events");
        eventNode.put("file", eventsFile.toString());
        eventNode.put("status", events.status().name().toLowerCase(Locale.ROOT));
        eventNode.put("lines", events.lines());
        eventNode.put("malformed_lines", events.malformedLines());
        eventNode.put("hits", events.hits());
        eventNode.put("misses", events.misses());
        eventNode.put("hit_rate", events.hitRate());
        eventNode.put("writes", events.writes());
        eventNode.put("corrupt", events.corrupt());
        ObjectNode lastRun = eventNode.putObject("last_run");
        lastRun.put("run_id", events.lastRunId());
        lastRun.put("hits", events.lastRunHits());
        lastRun.put("misses", events.lastRunMisses());
        lastRun.put("hit_rate", events.lastRunHitRate());
        return root;
    }

    private static void putTally(ObjectNode parent, String field, Tally tally) {
        ObjectNode node = parent.putObject(field);
        node.put("count", tally.count());
        node.put("bytes", tally.bytes());
    }
}
