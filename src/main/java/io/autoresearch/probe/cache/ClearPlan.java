package io.autoresearch.probe.cache;

import java.nio.file.Path;
import java.util.List;

/**
 * The files that {@code probe cache clear} will delete, listed before the command requests confirmation.
 *
 * @param entries the committed entries to delete, each with its shards
 * @param orphans the orphans to delete
 * @param recentOrphans orphans kept because their key has a lock file or a recently changed file
 */
public record ClearPlan(Path folder, List<CacheEntry> entries, List<Orphan> orphans, List<Orphan> recentOrphans) {
    public ClearPlan {
        entries = List.copyOf(entries);
        orphans = List.copyOf(orphans);
        recentOrphans = List.copyOf(recentOrphans);
    }

    public boolean isEmpty() {
        return entries.isEmpty() && orphans.isEmpty();
    }

    public long entryBytes() {
        return entries.stream().mapToLong(CacheEntry::bytes).sum();
    }

    public long entryFileCount() {
        return entries.stream().mapToLong(CacheEntry::fileCount).sum();
    }

    public long orphanBytes() {
        return orphans.stream().mapToLong(orphan -> orphan.file().size()).sum();
    }

    /** Returns, for example, {@code 2 entries of 6 files, 1.2 KiB (1234 bytes), and 1 orphan file, 40 B}. */
    public String summary() {
        StringBuilder summary = new StringBuilder();
        if (!entries.isEmpty()) {
            summary.append(entries.size()).append(entries.size() == 1 ? " entry of " : " entries of ")
                    .append(entryFileCount()).append(" files, ").append(ByteSize.format(entryBytes()));
        }
        if (!orphans.isEmpty()) {
            if (!summary.isEmpty()) {
                summary.append(", and ");
            }
            summary.append(orphans.size()).append(orphans.size() == 1 ? " orphan file, " : " orphan files, ")
                    .append(ByteSize.format(orphanBytes()));
        }
        return summary.isEmpty() ? "nothing" : summary.toString();
    }
}
