package io.autoresearch.probe.cache;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.autoresearch.probe.support.ExitCode;
import io.autoresearch.probe.support.ProbeException;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * The cache lines of an {@code events.jsonl}: lookups ({@code cache.hit}, {@code cache.miss}),
 * writes and corrupt entries found. Other events, such as {@code probe.start}, are skipped.
 *
 * @param status whether the file was read
 * @param malformedLines lines that are not a JSON object with a string {@code event}, such as
 *     a line cut short by a crash
 * @param lastRunId the {@code run_id} of the last lookup line, or null without one
 * @param lastRunHits hits of that run
 * @param lastRunMisses misses of that run
 */
public record EventSummary(Status status, long lines, long malformedLines, long hits, long misses, long writes,
        long corrupt, String lastRunId, long lastRunHits, long lastRunMisses) {
    public static final String HIT = "cache.hit";
    public static final String MISS = "cache.miss";
    public static final String WRITE = "cache.write";
    public static final String CORRUPT = "cache.corrupt";

    private static final ObjectMapper JSON = new ObjectMapper();

    /** Whether the events file was read. */
    public enum Status {
        READ, MISSING, SYMBOLIC_LINK
    }

    /** Returns hits / (hits + misses), or null without lookups. */
    public Double hitRate() {
        return rate(hits, misses);
    }

    /** Returns the hit rate of the last run that looked anything up, or null without lookups. */
    public Double lastRunHitRate() {
        return rate(lastRunHits, lastRunMisses);
    }

    private static Double rate(long hits, long misses) {
        return hits + misses == 0 ? null : (double) hits / (hits + misses);
    }

    /**
     * Reads {@code eventsFile} line by line. A missing file gives empty counts; a symbolic link
     * is not followed, because it could lead out of the workspace.
     *
     * @throws ProbeException (ENVIRONMENT) when the file exists but cannot be read
     */
    public static EventSummary read(Path eventsFile) {
        if (Files.isSymbolicLink(eventsFile)) {
            return empty(Status.SYMBOLIC_LINK);
        }
        Counter counter = new Counter();
        try (BufferedReader reader = new BufferedReader(new InputStreamReader(
                Files.newInputStream(eventsFile, LinkOption.NOFOLLOW_LINKS), StandardCharsets.UTF_8))) {
            for (String line = reader.readLine(); line != null; line = reader.readLine()) {
                counter.add(line);
            }
        } catch (NoSuchFileException e) {
            return empty(Status.MISSING);
        } catch (IOException e) {
            throw new ProbeException(ExitCode.ENVIRONMENT, "could not read " + eventsFile + ": " + e, e);
        }
        return counter.summary();
    }

    private static EventSummary empty(Status status) {
        return new EventSummary(status, 0, 0, 0, 0, 0, 0, null, 0, 0);
    }

    /** Counts lines in one pass, and the lookups of each run, so that concurrent runs may interleave their lines. */
    private static final class Counter {
        private final Map<String, long[]> lookupsByRun = new HashMap<>();
        private long lines;
        private long malformed;
        private long hits;
        private long misses;
        private long writes;
        private long corrupt;
        private String lastRunId;

        void add(String line) {
            if (line.isBlank()) {
                return;
            }
            lines++;
            JsonNode event;
            try {
                event = JSON.readTree(line);
            } catch (JsonProcessingException e) {
                malformed++;
                return;
            }
            if (event == null || !event.isObject() || !event.path("event").isTextual()) {
                malformed++;
                return;
            }
            String name = event.get("event").textValue();
            switch (name) {
                case HIT, MISS -> addLookup(name.equals(HIT), event.path("run_id"));
                case WRITE -> writes++;
                case CORRUPT -> corrupt++;
                default -> {
                    // Not a cache event.
                }
            }
        }

        private void addLookup(boolean hit, JsonNode runIdNode) {
            if (hit) {
                hits++;
            } else {
                misses++;
            }
            if (runIdNode.isTextual()) {
                lastRunId = runIdNode.textValue();
                long[] hitsAndMisses = lookupsByRun.computeIfAbsent(lastRunId, runId -> new long[2]);
                hitsAndMisses[hit ? 0 : 1]++;
            }
        }

        EventSummary summary() {
            long[] lastRun = lastRunId == null ? new long[2] : lookupsByRun.get(lastRunId);
            return new EventSummary(Status.READ, lines, malformed, hits, misses, writes, corrupt, lastRunId,
                    lastRun[0], lastRun[1]);
        }
    }
}
