package io.autoresearch.probe.cache;

import java.time.Instant;
import java.util.List;

/**
 * A committed cache entry: a {@code <key>.json} metadata file and the shard files on disk
 * that belong to it.
 *
 * @param metadata the parsed metadata of a {@link Format#CURRENT} entry, else null
 * @param readProblem why an {@link Format#INVALID} entry's metadata could not be read, else null
 * @param shards the files of this entry present on disk. A current entry with valid metadata
 *     has the shards that its metadata lists, an invalid one every shard of its key, and a
 *     format-1 entry its {@code <key>.safetensors}
 */
public record CacheEntry(String key, CacheFile metadataFile, Format format, EntryMetadata metadata,
        String readProblem, List<CacheFile> shards) {
    public CacheEntry {
        shards = List.copyOf(shards);
    }

    /** How far the metadata file could be read. */
    public enum Format {
        /** Format 2, parsed. {@link EntryMetadata#problems()} may still list problems. */
        CURRENT,
        /** Format 1, which this tool no longer reads: a cache lookup misses it. */
        FORMAT_1,
        /** Not readable as metadata: a link, not JSON, not an object, or an unsupported format version. */
        INVALID
    }

    /** Returns the bytes on disk of the metadata file and the shards. */
    public long bytes() {
        return metadataFile.size() + shards.stream().mapToLong(CacheFile::size).sum();
    }

    /** Returns the number of files on disk: the metadata file and the shards. */
    public int fileCount() {
        return 1 + shards.size();
    }

    /** Returns the creation time: {@code created_at} of the metadata when it has one, else the metadata file's modification time. */
    public Instant createdAt() {
        if (metadata != null && metadata.createdAt() != null) {
            return metadata.createdAt();
        }
        return metadataFile.modified();
    }
}
