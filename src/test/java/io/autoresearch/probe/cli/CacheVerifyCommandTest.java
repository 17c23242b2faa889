package io.autoresearch.probe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.autoresearch.probe.cache.CacheFixture;
import io.autoresearch.probe.support.ExitCode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Arrays;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code probe cache verify} on a cache folder of real files, intact and damaged. */
class CacheVerifyCommandTest {
    private static final Instant CREATED = Instant.parse("2026-12-01T10:00:00Z");

    @TempDir
    Path root;

    private CacheFixture cache;
    private CacheFixture.Entry first;
    private CacheFixture.Entry second;

    @BeforeEach
    void createCache() throws IOException {
        cache = new CacheFixture(root);
        first = cache.addEntry("one", "resid_pre", "model-a", CREATED, 2, 2, 1);
        second = cache.addEntry("two", "attn_out", "model-a", CREATED, 4);
    }

    private CliRun verify() {
        return CliRun.execute(root, "probe", "cache", "verify", CacheFixture.SLUG);
    }

    /** Returns the stdout line that verify prints for the entry key or file name {@code name}. */
    private static String line(CliRun run, String name) {
        return run.out().lines().filter(line -> line.startsWith(name + "\t")).findFirst().orElse("(no line for "
                + name + ")");
    }

    @Test
    void intactEntriesAreOk() {
        CliRun run = verify();

        assertEquals(ExitCode.SUCCESS.code(), run.exitCode(), run.err());
        assertEquals(first.key() + "\tok", line(run, first.key()));
        assertEquals(second.key() + "\tok", line(run, second.key()));
        assertEquals(2, run.out().lines().count(), run.out());
        assertTrue(run.err().contains("2 of 2 entries ok"), run.err());
        assertFalse(run.err().contains("error"), run.err());
    }

    @Test
    void changedShardByteIsCorrupt() throws IOException {
        Path shard = first.shards().get(1);
        byte[] content = Files.readAllBytes(shard);
        content[content.length - 1] ^= 0x01;
        Files.write(shard, content);

        CliRun run = verify();

        assertEquals(ExitCode.VALIDATION_FAILED.code(), run.exitCode(), run.err());
        assertEquals(first.key() + "\tcorrupt (1 problem)", line(run, first.key()));
        assertEquals(second.key() + "\tok", line(run, second.key()));
        assertTrue(run.err().contains("error: " + first.key() + ": shard " + shard.getFileName() + " has sha256 "
                + CacheFixture.sha256(content) + ", but the metadata records "), run.err());
        assertTrue(run.err().contains("1 of 2 entries ok"), run.err());
    }

    @Test
    void truncatedShardHasWrongSize() throws IOException {
        Path shard = first.shards().get(0);
        byte[] content = Files.readAllBytes(shard);
        Files.write(shard, Arrays.copyOf(content, content.length - 8));

        CliRun run = verify();

        assertEquals(ExitCode.VALIDATION_FAILED.code(), run.exitCode(), run.err());
        assertTrue(run.err().contains("shard " + shard.getFileName() + " has " + (content.length - 8)
                + " bytes, but the metadata records " + content.length), run.err());
    }

    @Test
    void missingShardIsCorrupt() throws IOException {
        Files.delete(first.shards().get(2));

        CliRun run = verify();

        assertEquals(ExitCode.VALIDATION_FAILED.code(), run.exitCode(), run.err());
        assertEquals(first.key() + "\tcorrupt (1 problem)", line(run, first.key()));
        assertTrue(run.err().contains("shard " + first.shards().get(2).getFileName() + " is missing"), run.err());
    }

    @Test
    void keyFieldOfAnotherEntryIsCorrupt() throws IOException {
        ObjectNode metadata = cache.readMetadata(second.key());
        metadata.put("key", first.key());
        cache.writeMetadata(second.key(), metadata);

        CliRun run = verify();

        assertEquals(ExitCode.VALIDATION_FAILED.code(), run.exitCode(), run.err());
        assertTrue(line(run, second.key()).startsWith(second.key() + "\tcorrupt"), run.out());
        assertTrue(run.err().contains("key field '" + first.key() + "' does not match the file name " + second.key()
                + ".json"), run.err());
    }

    @Test
    void metadataThatIsNotJsonIsCorrupt() throws IOException {
        Files.writeString(first.metadata(), "{\"format_version\": 2, \"key\": ");

        CliRun run = verify();

        assertEquals(ExitCode.VALIDATION_FAILED.code(), run.exitCode(), run.err());
        assertEquals(first.key() + "\tcorrupt (1 problem)", line(run, first.key()));
        assertTrue(run.err().contains("metadata " + first.key() + ".json is not valid JSON"), run.err());
    }

    @Test
    void missingFieldsAreEachReported() throws IOException {
        ObjectNode metadata = cache.readMetadata(second.key());
        metadata.remove("hook_point");
        metadata.remove("shapes");
        metadata.put("n_prompts", 5);
        cache.writeMetadata(second.key(), metadata);

        CliRun run = verify();

        assertEquals(ExitCode.VALIDATION_FAILED.code(), run.exitCode(), run.err());
        assertEquals(second.key() + "\tcorrupt (3 problems)", line(run, second.key()));
        assertTrue(run.err().contains("missing field hook_point"), run.err());
        assertTrue(run.err().contains("missing field shapes"), run.err());
        assertTrue(run.err().contains("the shards cover 4 prompts, but n_prompts is 5"), run.err());
    }

    @Test
    void shardNameOutsideEntryIsRejected() throws IOException {
        Path outside = Files.writeString(root.resolve("secret.txt"), "not a shard");
        ObjectNode metadata = cache.readMetadata(second.key());
        ((ObjectNode) metadata.get("files").get(0)).put("name", "../../../../../secret.txt");
        cache.writeMetadata(second.key(), metadata);

        CliRun run = verify();

        assertEquals(ExitCode.VALIDATION_FAILED.code(), run.exitCode(), run.err());
        assertTrue(run.err().contains("files[0].name must be " + second.key() + ".0.safetensors, found"), run.err());
        assertEquals("not a shard", Files.readString(outside));
    }

    @Test
    void orphansAndFormat1NotCorrupt() throws IOException {
        CacheFixture.Entry old = cache.addFormat1Entry("old");
        String orphanShard = CacheFixture.key("unfinished") + ".0.safetensors";
        cache.write(orphanShard, new byte[64]);
        String unlistedShard = second.key() + ".1.safetensors";
        cache.write(unlistedShard, new byte[32]);
        String temporary = "." + second.key() + ".json.a1b2c3.tmp";
        cache.write(temporary, new byte[8]);
        cache.write(CacheFixture.key("unfinished") + ".lock", new byte[0]);

        CliRun run = verify();

        assertEquals(ExitCode.SUCCESS.code(), run.exitCode(), run.err());
        assertEquals(old.key() + "\tformat 1 (not read by this version)", line(run, old.key()));
        assertEquals(orphanShard + "\torphan (shard whose key has no metadata file)", line(run, orphanShard));
        assertEquals(unlistedShard + "\torphan (shard that the metadata of its key does not list)",
                line(run, unlistedShard));
        assertEquals(temporary + "\torphan (temporary file of an unfinished write)", line(run, temporary));
        assertEquals(6, run.out().lines().count(), run.out());
        assertTrue(run.err().contains("1 format-1 entry that lookups no longer read"), run.err());
        assertTrue(run.err().contains("3 orphan file(s), 104 B"), run.err());
        assertTrue(run.err().contains("clear " + CacheFixture.SLUG + " --orphans"), run.err());
    }

    @Test
    void shardLinkIsNotFollowed() throws IOException {
        // The link points at a copy of the real shard, so following it would pass the checksum.
        Path shard = first.shards().get(0);
        Path copy = Files.copy(shard, root.resolve("copy.safetensors"));
        Files.delete(shard);
        Files.createSymbolicLink(shard, copy);

        CliRun run = verify();

        assertEquals(ExitCode.VALIDATION_FAILED.code(), run.exitCode(), run.err());
        assertTrue(run.err().contains("shard " + shard.getFileName() + " is a symbolic link, which this tool does not"
                + " follow"), run.err());
    }

    @Test
    void metadataLinkIsNotFollowed() throws IOException {
        Path copy = Files.copy(second.metadata(), root.resolve("copy.json"));
        Files.delete(second.metadata());
        Files.createSymbolicLink(second.metadata(), copy);

        CliRun run = verify();

        assertEquals(ExitCode.VALIDATION_FAILED.code(), run.exitCode(), run.err());
        assertTrue(run.err().contains("metadata " + second.key() + ".json is a symbolic link"), run.err());
    }

    @Test
    void unknownFilesAreLeftAlone() throws IOException {
        Files.createDirectories(cache.folder().resolve("subfolder"));
        cache.write("notes.txt", "by hand".getBytes(StandardCharsets.UTF_8));

        CliRun run = verify();

        assertEquals(ExitCode.SUCCESS.code(), run.exitCode(), run.err());
        assertTrue(run.err().contains("warning: notes.txt is a file, not part of the cache format"), run.err());
        assertTrue(run.err().contains("warning: subfolder is a folder, not part of the cache format"), run.err());
        assertEquals(first.key() + "\tok", line(run, first.key()));
        assertEquals(second.key() + "\tok", line(run, second.key()));
        assertEquals(2, run.out().lines().count(), run.out());
    }

    @Test
    void missingCacheFolderIsUsageError() throws IOException {
        try (Stream<Path> files = Files.list(cache.folder())) {
            for (Path file : files.toList()) {
                Files.delete(file);
            }
        }
        Files.delete(cache.folder());

        CliRun run = verify();

        assertEquals(ExitCode.USAGE.code(), run.exitCode());
        assertTrue(run.err().contains("activation cache folder not found: " + cache.folder()), run.err());
    }
}
