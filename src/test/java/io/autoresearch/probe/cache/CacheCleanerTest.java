package io.autoresearch.probe.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CacheCleanerTest {
    @TempDir
    Path root;

    @Test
    void undeletableMetadataKeepsShards() throws IOException {
        CacheFixture cache = new CacheFixture(root);
        CacheFixture.Entry written = cache.addEntry("one", "resid_pre", "gpt2", Instant.EPOCH, 2, 2);
        CacheEntry scanned = CacheInventory.scan(cache.folder()).entries().get(0);
        // A non-empty folder in place of the metadata file makes its deletion fail.
        Files.delete(written.metadata());
        Files.createDirectories(written.metadata().resolve("inside"));

        CacheCleaner.ClearResult result = CacheCleaner.delete(new ClearPlan(cache.folder(), List.of(scanned),
                List.of(), List.of()));

        assertEquals(List.of(), result.deleted());
        assertEquals(0, result.deletedFiles());
        assertEquals(1, result.failures().size());
        assertTrue(result.failures().get(0).startsWith("could not delete " + written.metadata()),
                result.failures().get(0));
        written.shards().forEach(shard -> assertTrue(Files.exists(shard), shard + " was deleted"));
    }

    @Test
    void fileOutsideFolderIsNeverDeleted() throws IOException {
        CacheFixture cache = new CacheFixture(root);
        Path outside = Files.writeString(root.resolve("outside.json"), "{}");
        CacheFile file = new CacheFile(outside, CacheFile.Type.REGULAR_FILE, 2, Instant.EPOCH);
        Orphan orphan = new Orphan(file, Orphan.Kind.TEMPORARY_FILE);

        CacheCleaner.ClearResult result = CacheCleaner.delete(new ClearPlan(cache.folder(), List.of(),
                List.of(orphan), List.of()));

        assertTrue(Files.exists(outside));
        assertEquals(List.of("not deleted: " + outside + " is not a file directly in " + cache.folder()),
                result.failures());
    }
}
