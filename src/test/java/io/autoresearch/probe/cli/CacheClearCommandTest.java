package io.autoresearch.probe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.autoresearch.probe.cache.ByteSize;
import io.autoresearch.probe.cache.CacheFixture;
import io.autoresearch.probe.support.ExitCode;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@code probe cache clear} on a cache folder of real files. */
class CacheClearCommandTest {
    private static final Instant NOW = CliRun.FIXED_CLOCK.instant();
    private static final String NL = System.lineSeparator();

    @TempDir
    Path root;

    private CacheFixture cache;
    private CacheFixture.Entry first;
    private CacheFixture.Entry second;
    private CacheFixture.Entry third;

    @BeforeEach
    void createCache() throws IOException {
        cache = new CacheFixture(root);
        first = cache.addEntry("one", "resid_pre", "model-a", NOW.minus(Duration.ofDays(8)), 2, 2);
        second = cache.addEntry("two", "resid_pre", "model-a", NOW.minus(Duration.ofDays(1)), 4);
        third = cache.addEntry("three", "attn_out", "model-b", NOW.minus(Duration.ofHours(2)), 1, 3);
    }

    private CliRun clear(ProbeContext.StandardInput input, String... arguments) {
        ProbeContext context = new ProbeContext(Map.of(), root, root, CliRun.FIXED_CLOCK, input);
        String[] args = Stream.concat(Stream.of("probe", "cache", "clear", CacheFixture.SLUG), Stream.of(arguments))
                .toArray(String[]::new);
        return CliRun.execute(context, args);
    }

    /** Runs clear with an empty standard input that is not a terminal, as in a script. */
    private CliRun clear(String... arguments) {
        return clear(ProbeContext.StandardInput.none(), arguments);
    }

    private static ProbeContext.StandardInput terminal(String typed) {
        return new ProbeContext.StandardInput(new ByteArrayInputStream(typed.getBytes(StandardCharsets.UTF_8)), true);
    }

    private static boolean exists(Path path) {
        return Files.exists(path, LinkOption.NOFOLLOW_LINKS);
    }

    private static void assertPresent(CacheFixture.Entry entry) {
        assertTrue(exists(entry.metadata()), entry.metadata() + " was deleted");
        entry.shards().forEach(shard -> assertTrue(exists(shard), shard + " was deleted"));
    }

    private static void assertDeleted(CacheFixture.Entry entry) {
        assertFalse(exists(entry.metadata()), entry.metadata() + " is still there");
        entry.shards().forEach(shard -> assertFalse(exists(shard), shard + " is still there"));
    }

    @Test
    void keyPrefixDeletesMatchingEntryOnly() throws IOException {
        long bytes = first.bytes();
        String prefix = first.key().substring(0, 6).toUpperCase(Locale.ROOT);

        CliRun run = clear("--key-prefix", prefix, "--yes");

        assertEquals(ExitCode.SUCCESS.code(), run.exitCode(), run.err());
        assertDeleted(first);
        assertPresent(second);
        assertPresent(third);
        assertEquals(first.key() + "\tdeleted" + NL, run.out());
        assertTrue(run.err().contains("delete entry " + first.key() + ": resid_pre of model-a, created "
                + NOW.minus(Duration.ofDays(8)) + ", 3 file(s)"), run.err());
        assertTrue(run.err().contains("deleted 3 file(s), " + ByteSize.format(bytes)), run.err());
    }

    @Test
    void keyPrefixMatchingNothingIsUsageError() {
        String prefix = Stream.of("0000", "1111", "2222").filter(candidate -> Stream.of(first, second, third)
                .noneMatch(entry -> entry.key().startsWith(candidate))).findFirst().orElseThrow();

        CliRun run = clear("--key-prefix", prefix, "--yes");

        assertEquals(ExitCode.USAGE.code(), run.exitCode());
        assertTrue(run.err().contains("no cache entry key starts with '" + prefix + "' in " + cache.folder()),
                run.err());
        assertPresent(first);
        assertPresent(second);
        assertPresent(third);
    }

    @ParameterizedTest
    @ValueSource(strings = {"abc", "abcg", ""})
    void invalidKeyPrefixIsUsageError(String prefix) {
        CliRun run = clear("--key-prefix", prefix, "--yes");

        assertEquals(ExitCode.USAGE.code(), run.exitCode());
        assertTrue(run.err().contains("invalid --key-prefix '" + prefix + "': expected 4 to 64 hex digits"),
                run.err());
        assertPresent(first);
    }

    @Test
    void olderThanUsesCreatedAtElseModificationTime() throws IOException {
        CacheFixture.Entry undatedOld = cache.addEntry("four", "resid_pre", "model-a", NOW, 1);
        CacheFixture.Entry undatedNew = cache.addEntry("five", "resid_pre", "model-a", NOW, 1);
        for (CacheFixture.Entry entry : List.of(undatedOld, undatedNew)) {
            ObjectNode metadata = cache.readMetadata(entry.key());
            metadata.remove("created_at");
            cache.writeMetadata(entry.key(), metadata);
        }
        CacheFixture.touch(undatedOld.metadata(), NOW.minus(Duration.ofDays(30)));
        CacheFixture.touch(undatedNew.metadata(), NOW.minus(Duration.ofHours(1)));
        // created_at decides for a dated entry, whatever its file's time.
        CacheFixture.touch(second.metadata(), NOW.minus(Duration.ofDays(30)));

        CliRun run = clear("--older-than", "7d", "--yes");

        assertEquals(ExitCode.SUCCESS.code(), run.exitCode(), run.err());
        assertDeleted(first);
        assertDeleted(undatedOld);
        assertPresent(second);
        assertPresent(third);
        assertPresent(undatedNew);
        assertEquals(2, run.out().lines().count(), run.out());
    }

    @Test
    void olderThanInHoursAndMinutes() {
        CliRun hours = clear("--older-than", "36h", "--yes");

        assertEquals(ExitCode.SUCCESS.code(), hours.exitCode(), hours.err());
        assertDeleted(first);
        assertPresent(second);

        CliRun minutes = clear("--older-than", "90m", "--yes");

        assertEquals(ExitCode.SUCCESS.code(), minutes.exitCode(), minutes.err());
        assertDeleted(second);
        assertDeleted(third);
    }

    @Test
    void olderThanMatchingNothingDeletesNothing() {
        CliRun run = clear("--older-than", "30d");

        assertEquals(ExitCode.SUCCESS.code(), run.exitCode(), run.err());
        assertEquals("", run.out());
        assertTrue(run.err().contains("nothing to delete in " + cache.folder()), run.err());
    }

    @Test
    void allKeepsOrphansAndLocks() throws IOException {
        CacheFixture.Entry old = cache.addFormat1Entry("old");
        String brokenKey = CacheFixture.key("broken");
        Path brokenMetadata = cache.write(brokenKey + ".json", "not json".getBytes(StandardCharsets.UTF_8));
        Path brokenShard = cache.write(brokenKey + ".0.safetensors", new byte[16]);
        Path orphan = cache.write(CacheFixture.key("orphan") + ".0.safetensors", new byte[16]);
        Path lock = cache.write(CacheFixture.key("orphan") + ".lock", new byte[0]);
        Path notes = cache.write("notes.txt", new byte[4]);

        CliRun run = clear("--all", "--yes");

        assertEquals(ExitCode.SUCCESS.code(), run.exitCode(), run.err());
        assertDeleted(first);
        assertDeleted(second);
        assertDeleted(third);
        assertDeleted(old);
        assertFalse(exists(brokenMetadata));
        assertFalse(exists(brokenShard));
        assertTrue(exists(orphan));
        assertTrue(exists(lock));
        assertTrue(exists(notes));
        assertEquals(5, run.out().lines().count(), run.out());
        assertTrue(run.err().contains("deleted 12 file(s)"), run.err());
    }

    @Test
    void orphansKeepRecentWritesAndEntries() throws IOException {
        Path lone = cache.write(CacheFixture.key("lone") + ".0.safetensors", new byte[100]);
        Path temporary = cache.write("." + CacheFixture.key("crashed") + ".json.x1y2.tmp", new byte[10]);
        Path unlisted = cache.write(second.key() + ".1.safetensors", new byte[20]);
        // A write in progress: its first shard is old, its latest one new.
        String writing = CacheFixture.key("writing");
        Path writingFirst = cache.write(writing + ".0.safetensors", new byte[30]);
        Path writingLatest = cache.write(writing + ".1.safetensors", new byte[30]);
        // A write whose lock file is there: a long batch may not have changed any file for hours.
        String locked = CacheFixture.key("locked");
        Path lockedShard = cache.write(locked + ".0.safetensors", new byte[40]);
        Path lock = cache.write(locked + ".lock", new byte[0]);
        for (Path file : List.of(lone, temporary, unlisted, writingFirst, lockedShard, lock)) {
            CacheFixture.touch(file, NOW.minus(Duration.ofHours(3)));
        }
        CacheFixture.touch(writingLatest, NOW.minus(Duration.ofMinutes(10)));

        CliRun run = clear("--orphans", "--yes");

        assertEquals(ExitCode.SUCCESS.code(), run.exitCode(), run.err());
        assertFalse(exists(lone));
        assertFalse(exists(temporary));
        assertFalse(exists(unlisted));
        assertTrue(exists(writingFirst));
        assertTrue(exists(writingLatest));
        assertTrue(exists(lockedShard));
        assertTrue(exists(lock));
        assertPresent(first);
        assertPresent(second);
        assertPresent(third);
        assertTrue(run.err().contains("deleted 3 file(s), 130 B"), run.err());
        assertTrue(run.err().contains("keep 3 orphan file(s) of keys with a lock file or written to less than 1h"
                + " ago"), run.err());

        CliRun all = clear("--orphans", "--orphan-min-age", "0s", "--yes");

        assertEquals(ExitCode.SUCCESS.code(), all.exitCode(), all.err());
        assertFalse(exists(writingFirst));
        assertFalse(exists(writingLatest));
        assertFalse(exists(lockedShard));
        assertTrue(exists(lock));
    }

    @Test
    void orphansWithPrefixDeleteBoth() throws IOException {
        Path lone = cache.write(CacheFixture.key("lone") + ".0.safetensors", new byte[100]);
        CacheFixture.touch(lone, NOW.minus(Duration.ofDays(1)));

        CliRun run = clear("--key-prefix", third.key().substring(0, 8), "--orphans", "--yes");

        assertEquals(ExitCode.SUCCESS.code(), run.exitCode(), run.err());
        assertDeleted(third);
        assertFalse(exists(lone));
        assertPresent(first);
        assertEquals(third.key() + "\tdeleted" + NL + lone.getFileName() + "\tdeleted" + NL, run.out());
    }

    @ParameterizedTest
    @ValueSource(strings = {"y\n", "yes\n", " YES \n", "Y"})
    void terminalConfirmationDeletes(String typed) {
        CliRun run = clear(terminal(typed), "--key-prefix", second.key().substring(0, 8));

        assertEquals(ExitCode.SUCCESS.code(), run.exitCode(), run.err());
        assertTrue(run.err().contains("delete 1 entry of 2 files, "), run.err());
        assertTrue(run.err().contains(" from " + cache.folder() + "? [y/N] "), run.err());
        assertDeleted(second);
        assertPresent(first);
    }

    @ParameterizedTest
    @ValueSource(strings = {"n\n", "no\n", "\n", "", "yess\n"})
    void terminalRefusalKeepsFiles(String typed) {
        CliRun run = clear(terminal(typed), "--all");

        assertEquals(ExitCode.SUCCESS.code(), run.exitCode(), run.err());
        assertTrue(run.err().contains("[y/N] "), run.err());
        assertTrue(run.err().contains("nothing deleted"), run.err());
        assertEquals("", run.out());
        assertPresent(first);
        assertPresent(second);
        assertPresent(third);
    }

    @Test
    void stdinWithoutTerminalIsRefused() {
        // Even a "y" on a pipe is no confirmation: only --yes deletes without a terminal.
        ProbeContext.StandardInput piped = new ProbeContext.StandardInput(
                new ByteArrayInputStream("y\n".getBytes(StandardCharsets.UTF_8)), false);

        CliRun run = clear(piped, "--all");

        assertEquals(ExitCode.USAGE.code(), run.exitCode());
        assertTrue(run.err().contains("not deleting 3 entries of 8 files, "), run.err());
        assertTrue(run.err().contains("standard input is not a terminal. Pass --yes"), run.err());
        assertTrue(run.err().contains("delete entry " + first.key()), run.err());
        assertEquals("", run.out());
        assertPresent(first);
        assertPresent(second);
        assertPresent(third);
    }

    @Test
    void dryRunListsAndDeletesNothing() {
        CliRun run = clear("--all", "--dry-run");

        assertEquals(ExitCode.SUCCESS.code(), run.exitCode(), run.err());
        assertTrue(run.err().contains("dry run: would delete 3 entries of 8 files, "), run.err());
        assertEquals("", run.out());
        assertPresent(first);
    }

    @Test
    void quietPrintsOnlyDeletedKeys() {
        CliRun run = clear("--key-prefix", first.key().substring(0, 4), "--yes", "--quiet");

        assertEquals(ExitCode.SUCCESS.code(), run.exitCode(), run.err());
        assertEquals(first.key() + "\tdeleted" + NL, run.out());
        assertEquals("", run.err());
    }

    @Test
    void linksAreDeletedButNeverFollowed() throws IOException {
        Path outside = Files.createDirectories(root.resolve("outside"));
        Path precious = Files.writeString(outside.resolve("precious.safetensors"), "keep me");
        Path shardCopy = Files.copy(first.shards().get(0), outside.resolve("copy.safetensors"));
        // An entry's shard, an orphan shard and an unknown name, each a link out of the cache folder.
        Path linkedShard = first.shards().get(0);
        Files.delete(linkedShard);
        Files.createSymbolicLink(linkedShard, shardCopy);
        Path linkedOrphan = Files.createSymbolicLink(
                cache.folder().resolve(CacheFixture.key("linked") + ".0.safetensors"), precious);
        Path linkedFolder = Files.createSymbolicLink(cache.folder().resolve("big-disk"), outside);

        CliRun run = clear("--all", "--orphans", "--orphan-min-age", "0s", "--yes");

        assertEquals(ExitCode.SUCCESS.code(), run.exitCode(), run.err());
        assertEquals("keep me", Files.readString(precious));
        assertTrue(Files.exists(shardCopy));
        try (Stream<Path> outsideFiles = Files.list(outside)) {
            assertEquals(2, outsideFiles.count());
        }
        assertFalse(exists(linkedShard));
        assertFalse(exists(linkedOrphan));
        assertTrue(Files.isSymbolicLink(linkedFolder));
        assertDeleted(first);
    }

    @Test
    void selectorsExcludeEachOther() {
        CliRun run = clear("--all", "--older-than", "7d", "--yes");

        assertEquals(ExitCode.USAGE.code(), run.exitCode());
        assertTrue(run.err().contains("--all, --key-prefix and --older-than exclude each other"), run.err());
        assertPresent(first);
    }

    @Test
    void missingSelectorIsUsageError() {
        CliRun run = clear("--yes");

        assertEquals(ExitCode.USAGE.code(), run.exitCode());
        assertTrue(run.err().contains("nothing selected: give --all, --key-prefix HEX, --older-than AGE or"
                + " --orphans"), run.err());
    }

    @ParameterizedTest
    @ValueSource(strings = {"7", "7x", "d", "-1d", "1.5h"})
    void invalidAgeIsUsageError(String age) {
        CliRun run = clear("--older-than", age, "--yes");

        assertEquals(ExitCode.USAGE.code(), run.exitCode());
        assertTrue(run.err().contains("'" + age + "' is not an age"), run.err());
        assertPresent(first);
    }

    @Test
    void orphanMinAgeNeedsOrphans() {
        CliRun run = clear("--all", "--orphan-min-age", "2h", "--yes");

        assertEquals(ExitCode.USAGE.code(), run.exitCode());
        assertTrue(run.err().contains("--orphan-min-age applies to --orphans only"), run.err());
        assertPresent(first);
    }
}
