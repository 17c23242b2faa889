package io.autoresearch.probe.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EventSummaryTest {
    private static final String RUN_A = "20261204-090000-aaaaaaa-000001";
    private static final String RUN_B = "20261204-090500-bbbbbbb-000002";
    private static final String KEY = CacheFixture.key("entry");

    @TempDir
    Path root;

    private CacheFixture cache;

    @BeforeEach
    void createCache() throws IOException {
        cache = new CacheFixture(root);
    }

    @Test
    void interleavedRunsCountSeparately() throws IOException {
        cache.event("cache.miss", RUN_A, KEY);
        cache.event("cache.hit", RUN_B, KEY);
        cache.event("cache.hit", RUN_A, KEY);
        cache.event("cache.hit", RUN_B, KEY);
        cache.event("cache.miss", RUN_A, KEY);

        EventSummary summary = EventSummary.read(cache.eventsFile());

        assertEquals(3, summary.hits());
        assertEquals(2, summary.misses());
        assertEquals(0.6, summary.hitRate(), 1e-12);
        assertEquals(RUN_A, summary.lastRunId());
        assertEquals(1, summary.lastRunHits());
        assertEquals(2, summary.lastRunMisses());
    }

    @Test
    void lastRunIsRunOfLastLookup() throws IOException {
        cache.event("cache.hit", RUN_A, KEY);
        cache.event("probe.start", RUN_B, null);
        cache.event("cache.write", RUN_B, KEY);

        EventSummary summary = EventSummary.read(cache.eventsFile());

        assertEquals(RUN_A, summary.lastRunId());
        assertEquals(1.0, summary.lastRunHitRate(), 1e-12);
        assertEquals(1, summary.writes());
    }

    @Test
    void lookupWithoutRunIdCountsOverallOnly() throws IOException {
        cache.event("cache.hit", RUN_A, KEY);
        cache.appendEventLine("{\"event\": \"cache.miss\", \"key\": \"" + KEY + "\"}");

        EventSummary summary = EventSummary.read(cache.eventsFile());

        assertEquals(0.5, summary.hitRate(), 1e-12);
        assertEquals(RUN_A, summary.lastRunId());
        assertEquals(0, summary.lastRunMisses());
    }

    @Test
    void malformedAndBlankLinesAreSkipped() throws IOException {
        cache.appendEventLine("");
        cache.appendEventLine("[1, 2]");
        cache.appendEventLine("{\"level\": \"info\"}");
        cache.appendEventLine("{\"event\": 3}");
        cache.appendEventLine("{\"event\": \"cache.hit\", \"run_id\"");
        cache.event("cache.miss", RUN_A, KEY);

        EventSummary summary = EventSummary.read(cache.eventsFile());

        assertEquals(5, summary.lines());
        assertEquals(4, summary.malformedLines());
        assertEquals(0, summary.hits());
        assertEquals(1, summary.misses());
    }

    @Test
    void missingFileHasNoLookups() {
        EventSummary summary = EventSummary.read(cache.eventsFile());

        assertEquals(EventSummary.Status.MISSING, summary.status());
        assertNull(summary.hitRate());
        assertNull(summary.lastRunId());
    }

    @Test
    void linkedFileIsNotRead() throws IOException {
        Path outside = root.resolve("other-events.jsonl");
        Files.writeString(outside, "{\"event\": \"cache.hit\", \"run_id\": \"" + RUN_A + "\"}\n");
        Files.createSymbolicLink(cache.eventsFile(), outside);

        EventSummary summary = EventSummary.read(cache.eventsFile());

        assertEquals(EventSummary.Status.SYMBOLIC_LINK, summary.status());
        assertEquals(0, summary.hits());
    }
}
