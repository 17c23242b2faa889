package io.autoresearch.probe.cache;

import io.autoresearch.probe.support.ProbeException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Selects and deletes cache files. Only files found by {@link CacheInventory#scan(Path)} are
 * deleted, each by its own path in the cache folder: a symbolic link is deleted itself and its
 * target is left alone, and folders are never deleted.
 */
public final class CacheCleaner {
    private static final Pattern KEY_IN_NAME = Pattern.compile("[0-9a-f]{64}");

    private CacheCleaner() {
    }

    /**
     * Outcome of {@link #delete(ClearPlan)}.
     *
     * @param deleted the keys of the entries whose metadata file was deleted, then the names of the deleted orphans
     * @param failures one message per file that could not be deleted
     */
    public record ClearResult(List<String> deleted, long deletedFiles, long deletedBytes, List<String> failures) {
        public ClearResult {
            deleted = List.copyOf(deleted);
            failures = List.copyOf(failures);
        }
    }

    /**
     * Selects the entries and orphans that {@code request} names.
     *
     * @throws ProbeException (USAGE) when a key prefix matches no entry
     */
    public static ClearPlan plan(CacheInventory inventory, ClearRequest request) {
        List<CacheEntry> entries = switch (request.selector()) {
            case NONE -> List.of();
            case ALL -> inventory.entries();
            case KEY_PREFIX -> entriesWithPrefix(inventory, request.keyPrefix());
            case OLDER_THAN -> {
                Instant cutoff = request.now().minus(request.olderThan());
                yield inventory.entries().stream().filter(entry -> entry.createdAt().isBefore(cutoff)).toList();
            }
        };
        List<Orphan> orphans = new ArrayList<>();
        List<Orphan> recentOrphans = new ArrayList<>();
        if (request.orphans()) {
            Instant cutoff = request.now().minus(request.orphanMinAge());
            Map<String, Instant> lastChangeByKey = lastChangeByKey(inventory);
            Set<String> lockedKeys = new HashSet<>();
            inventory.lockFiles().forEach(lock -> lockedKeys.add(keyIn(lock)));
            for (Orphan orphan : inventory.orphans()) {
                String key = keyIn(orphan.file());
                Instant lastChange = lastChangeByKey.getOrDefault(key, orphan.file().modified());
                boolean inUse = lockedKeys.contains(key) || !lastChange.isBefore(cutoff);
                // A zero age takes every orphan, even one whose time is in the future after a clock change.
                if (inUse && !request.orphanMinAge().isZero()) {
                    recentOrphans.add(orphan);
                } else {
                    orphans.add(orphan);
                }
            }
        }
        return new ClearPlan(inventory.folder(), entries, orphans, recentOrphans);
    }

    private static List<CacheEntry> entriesWithPrefix(CacheInventory inventory, String prefix) {
        List<CacheEntry> entries = inventory.entries().stream().filter(entry -> entry.key().startsWith(prefix)).toList();
        if (entries.isEmpty()) {
            throw ProbeException.usage("no cache entry key starts with '" + prefix + "' in " + inventory.folder()
                    + " (" + inventory.entries().size() + " entries there). An entry's key is the name of its"
                    + " <key>.json file; `auto-research probe cache verify` lists them");
        }
        return entries;
    }

    /**
     * Returns, per key, the latest modification of an orphan with that key in its name. A
     * writer adds shards one batch at a time before it commits the metadata, so the first
     * shard of a write in progress can be old while the last is new.
     */
    private static Map<String, Instant> lastChangeByKey(CacheInventory inventory) {
        Map<String, Instant> lastChange = new HashMap<>();
        for (Orphan orphan : inventory.orphans()) {
            CacheFile file = orphan.file();
            String key = keyIn(file);
            if (key != null) {
                lastChange.merge(key, file.modified(), (first, second) -> first.isAfter(second) ? first : second);
            }
        }
        return lastChange;
    }

    private static String keyIn(CacheFile file) {
        Matcher matcher = KEY_IN_NAME.matcher(file.name());
        return matcher.find() ? matcher.group() : null;
    }

    /**
     * Deletes the planned files. Each entry loses its metadata file first, so it stops being a
     * committed entry before any shard goes. When the metadata file cannot be deleted, its
     * shards are kept, because deleting them would leave a committed entry without its tensors.
     */
    public static ClearResult delete(ClearPlan plan) {
        Deletion deletion = new Deletion(plan.folder());
        for (CacheEntry entry : plan.entries()) {
            if (!deletion.delete(entry.metadataFile())) {
                continue;
            }
            // The entry is no longer committed. A shard that fails to go is an orphan now, and its failure is recorded.
            deletion.deleted.add(entry.key());
            for (CacheFile shard : entry.shards()) {
                deletion.delete(shard);
            }
        }
        for (Orphan orphan : plan.orphans()) {
            if (deletion.delete(orphan.file())) {
                deletion.deleted.add(orphan.file().name());
            }
        }
        return new ClearResult(deletion.deleted, deletion.files, deletion.bytes, deletion.failures);
    }

    /** The running totals of one {@link #delete(ClearPlan)}. */
    private static final class Deletion {
        private final Path folder;
        private final List<String> deleted = new ArrayList<>();
        private final List<String> failures = new ArrayList<>();
        private long files;
        private long bytes;

        Deletion(Path folder) {
            this.folder = folder;
        }

        /** Deletes one scanned file, or records why not. Returns whether the file is gone. */
        boolean delete(CacheFile file) {
            Path path = file.path();
            if (!folder.equals(path.getParent()) || file.type() == CacheFile.Type.FOLDER) {
                failures.add("not deleted: " + path + " is not a file directly in " + folder);
                return false;
            }
            try {
                // deleteIfExists removes a symbolic link itself, never its target. A file that
                // is already gone was removed by another process and counts as deleted.
                if (Files.deleteIfExists(path)) {
                    files++;
                    bytes += file.size();
                }
                return true;
            } catch (IOException e) {
                failures.add("could not delete " + path + ": " + e);
                return false;
            }
        }
    }
}
