package io.autoresearch.probe.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CacheInventoryTest {
    private static final Instant CREATED = Instant.parse("2026-12-01T10:00:00Z");

    @TempDir
    Path root;

    private CacheFixture cache;

    @BeforeEach
    void createCache() throws IOException {
        cache = new CacheFixture(root);
    }

    private CacheEntry onlyEntry() {
        List<CacheEntry> entries = CacheInventory.scan(cache.folder()).entries();
        assertEquals(1, entries.size(), entries.toString());
        return entries.get(0);
    }

    private CacheEntry rewrite(CacheFixture.Entry entry, ObjectNode metadata) throws IOException {
        cache.writeMetadata(entry.key(), metadata);
        return onlyEntry();
    }

    @Test
    void intactEntryOwnsItsShards() throws IOException {
        CacheFixture.Entry written = cache.addEntry("one", "resid_pre", "gpt2", CREATED, 2, 3);

        CacheEntry entry = onlyEntry();

        assertEquals(CacheEntry.Format.CURRENT, entry.format());
        assertEquals(List.of(), entry.metadata().problems());
        assertEquals(2, entry.shards().size());
        assertEquals(written.bytes(), entry.bytes());
        assertEquals(CREATED, entry.createdAt());
        assertEquals(List.of(), CacheVerifier.check(cache.folder(), entry));
    }

    @Test
    void formatVersionAsStringIsProblem() throws IOException {
        CacheFixture.Entry written = cache.addEntry("one", "resid_pre", "gpt2", CREATED, 2);
        ObjectNode metadata = cache.readMetadata(written.key());
        metadata.put("format_version", "2");

        CacheEntry entry = rewrite(written, metadata);

        assertEquals(CacheEntry.Format.CURRENT, entry.format());
        assertEquals(List.of("format_version must be the number 2, found \"2\""), entry.metadata().problems());
    }

    @Test
    void unsupportedFormatVersionIsInvalid() throws IOException {
        CacheFixture.Entry written = cache.addEntry("one", "resid_pre", "gpt2", CREATED, 2);
        ObjectNode metadata = cache.readMetadata(written.key());
        metadata.put("format_version", 3);

        CacheEntry entry = rewrite(written, metadata);

        assertEquals(CacheEntry.Format.INVALID, entry.format());
        assertTrue(entry.readProblem().contains("has format_version 3, which this tool cannot read"),
                entry.readProblem());
        assertEquals(1, entry.shards().size());
    }

    @Test
    void trailingTextMakesMetadataInvalid() throws IOException {
        CacheFixture.Entry written = cache.addEntry("one", "resid_pre", "gpt2", CREATED, 2);
        Files.writeString(written.metadata(), Files.readString(written.metadata()) + "{\"key\": 1}\n");

        CacheEntry entry = onlyEntry();

        assertEquals(CacheEntry.Format.INVALID, entry.format());
        assertTrue(entry.readProblem().contains("is not valid JSON"), entry.readProblem());
    }

    @Test
    void emptyMetadataIsInvalid() throws IOException {
        cache.write(CacheFixture.key("empty") + ".json", new byte[0]);

        CacheEntry entry = onlyEntry();

        assertEquals(CacheEntry.Format.INVALID, entry.format());
        assertTrue(entry.readProblem().endsWith(" is empty"), entry.readProblem());
    }

    @Test
    void metadataWithoutVersionButTensorChecksumIsFormat1() throws IOException {
        String key = CacheFixture.key("old");
        cache.write(key + ".json", ("{\"key\": \"" + key + "\", \"tensor_sha256\": \"" + key + "\"}")
                .getBytes(StandardCharsets.UTF_8));
        cache.write(key + ".safetensors", new byte[12]);

        CacheEntry entry = onlyEntry();

        assertEquals(CacheEntry.Format.FORMAT_1, entry.format());
        assertEquals(1, entry.shards().size());
        assertEquals(List.of(), CacheVerifier.check(cache.folder(), entry));
    }

    @Test
    void createdAtWithOffsetOrWithoutIsUtc() {
        assertEquals(CREATED, EntryMetadata.parseTime("2026-12-01T10:00:00+00:00"));
        assertEquals(CREATED, EntryMetadata.parseTime("2026-12-01T11:00:00+01:00"));
        assertEquals(CREATED, EntryMetadata.parseTime("2026-12-01T10:00:00"));
        assertEquals(CREATED.plusMillis(250), EntryMetadata.parseTime("2026-12-01T10:00:00.250Z"));
        assertNull(EntryMetadata.parseTime("yesterday"));
    }

    @Test
    void invalidCreatedAtIsProblem() throws IOException {
        CacheFixture.Entry written = cache.addEntry("one", "resid_pre", "gpt2", CREATED, 2);
        ObjectNode metadata = cache.readMetadata(written.key());
        metadata.put("created_at", "yesterday");

        CacheEntry entry = rewrite(written, metadata);

        assertEquals(List.of("created_at \"yesterday\" is not an ISO 8601 time"), entry.metadata().problems());
        assertEquals(Files.getLastModifiedTime(written.metadata()).toInstant(), entry.createdAt());
    }

    @Test
    void shardsWithGapAndWrongTotalAreProblems() throws IOException {
        CacheFixture.Entry written = cache.addEntry("one", "resid_pre", "gpt2", CREATED, 2, 2);
        ObjectNode metadata = cache.readMetadata(written.key());
        ((ObjectNode) metadata.get("files").get(1)).put("first_prompt", 3);
        metadata.put("bytes", 1);

        EntryMetadata parsed = rewrite(written, metadata).metadata();

        assertEquals(List.of(
                "files[1].first_prompt is 3, expected 2, the prompt after the previous shard",
                "the shards add up to " + (written.bytes() - Files.size(written.metadata())) + " bytes, but bytes"
                        + " is 1"),
                parsed.problems());
    }

    @Test
    void shardListedTwiceIsProblem() throws IOException {
        CacheFixture.Entry written = cache.addEntry("one", "resid_pre", "gpt2", CREATED, 2);
        ObjectNode metadata = cache.readMetadata(written.key());
        ArrayNode files = (ArrayNode) metadata.get("files");
        files.add(files.get(0).deepCopy());

        EntryMetadata parsed = rewrite(written, metadata).metadata();

        assertEquals(List.of("files[1].name must be " + written.key() + ".1.safetensors, found \"" + written.key()
                + ".0.safetensors\""), parsed.problems());
    }

    @Test
    void shardsCoveringTooFewPromptsAreProblem() throws IOException {
        CacheFixture.Entry written = cache.addEntry("one", "resid_pre", "gpt2", CREATED, 2, 2);
        ObjectNode metadata = cache.readMetadata(written.key());
        metadata.put("n_prompts", 5);

        EntryMetadata parsed = rewrite(written, metadata).metadata();

        assertEquals(List.of("the shards cover 4 prompts, but n_prompts is 5",
                "shapes.layer_0 [4,4] does not start with n_prompts 5",
                "shapes.layer_1 [4,4] does not start with n_prompts 5"), parsed.problems());
    }

    @Test
    void shapesOfOtherLayersAreProblem() throws IOException {
        CacheFixture.Entry written = cache.addEntry("one", "resid_pre", "gpt2", CREATED, 2);
        ObjectNode metadata = cache.readMetadata(written.key());
        ((ObjectNode) metadata.get("shapes")).remove("layer_1");

        EntryMetadata parsed = rewrite(written, metadata).metadata();

        assertEquals(List.of("shapes must list exactly [layer_0, layer_1], found [layer_0]"), parsed.problems());
    }

    @Test
    void emptyShardIsProblem() throws IOException {
        CacheFixture.Entry written = cache.addEntry("one", "resid_pre", "gpt2", CREATED, 2);
        ObjectNode metadata = cache.readMetadata(written.key());
        ((ObjectNode) metadata.get("files").get(0)).put("n_prompts", 0);

        EntryMetadata parsed = rewrite(written, metadata).metadata();

        assertTrue(parsed.problems().contains("files[0].n_prompts must be an integer of at least 1, found 0"),
                parsed.problems().toString());
    }

    @Test
    void shardOfAnotherKeyIsRejected() throws IOException {
        CacheFixture.Entry written = cache.addEntry("one", "resid_pre", "gpt2", CREATED, 2);
        CacheFixture.Entry other = cache.addEntry("two", "resid_pre", "gpt2", CREATED, 2);
        ObjectNode metadata = cache.readMetadata(written.key());
        ((ObjectNode) metadata.get("files").get(0)).put("name", other.shards().get(0).getFileName().toString());
        cache.writeMetadata(written.key(), metadata);

        CacheEntry entry = CacheInventory.scan(cache.folder()).entries().stream()
                .filter(candidate -> candidate.key().equals(written.key())).findFirst().orElseThrow();

        assertEquals(List.of("files[0].name must be " + written.key() + ".0.safetensors, found \""
                + other.shards().get(0).getFileName() + "\""), entry.metadata().problems());
    }

    @Test
    void wrongFieldTypesAreProblems() throws IOException {
        CacheFixture.Entry written = cache.addEntry("one", "resid_pre", "gpt2", CREATED, 2);
        ObjectNode metadata = cache.readMetadata(written.key());
        metadata.put("model_id", 7);
        metadata.putArray("layers").add("0");
        metadata.put("n_prompts", -1);
        ((ObjectNode) metadata.get("files").get(0)).put("sha256", "abc");

        EntryMetadata parsed = rewrite(written, metadata).metadata();

        assertTrue(parsed.problems().contains("model_id must be a non-empty string, found 7"), parsed.problems().toString());
        assertTrue(parsed.problems().contains("layers must be a list of integers, found [\"0\"]"),
                parsed.problems().toString());
        assertTrue(parsed.problems().contains("n_prompts must be an integer of at least 0, found -1"),
                parsed.problems().toString());
        assertTrue(parsed.problems().contains("files[0].sha256 must be 64 lower-case hex digits, found \"abc\""),
                parsed.problems().toString());
    }

    @Test
    void oversizedMetadataIsNotRead() throws IOException {
        Path file = cache.write(CacheFixture.key("huge") + ".json", new byte[0]);
        // One byte past the limit makes a sparse file, so the test writes almost nothing.
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
            channel.write(ByteBuffer.wrap(new byte[] {' '}), CacheInventory.MAX_METADATA_BYTES);
        }

        CacheEntry entry = onlyEntry();

        assertEquals(CacheEntry.Format.INVALID, entry.format());
        assertTrue(entry.readProblem().contains("more than the " + CacheInventory.MAX_METADATA_BYTES), entry.readProblem());
    }
}
