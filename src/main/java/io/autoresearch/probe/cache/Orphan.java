package io.autoresearch.probe.cache;

/** A file in the cache folder that no committed entry uses, and why. */
public record Orphan(CacheFile file, Kind kind) {
    /** Reason that no entry uses the file. */
    public enum Kind {
        TEMPORARY_FILE("temporary file of an unfinished write"),
        SHARD_WITHOUT_METADATA("shard whose key has no metadata file"),
        UNLISTED_SHARD("shard that the metadata of its key does not list"),
        FORMAT_1_TENSOR_WITHOUT_METADATA("format-1 tensor file whose key has no metadata file");

        private final String description;

        Kind(String description) {
            this.description = description;
        }

        public String description() {
            return description;
        }
    }
}
