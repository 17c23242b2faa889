package io.autoresearch.probe.cache;

import java.time.Duration;
import java.time.Instant;

/**
 * Selection of the files that {@code probe cache clear} removes.
 *
 * @param selector which committed entries to remove
 * @param keyPrefix lower-case hex, for {@link Selector#KEY_PREFIX}, else null
 * @param olderThan for {@link Selector#OLDER_THAN}, else null
 * @param orphans whether to remove orphans (temporary files, unlisted shards, lone format-1 tensors)
 * @param orphanMinAge orphans of a key with a lock file, or with a file modified more recently
 *     than this, are kept because they may belong to a write in progress. Zero keeps none
 * @param now the time that ages are measured from
 */
public record ClearRequest(Selector selector, String keyPrefix, Duration olderThan, boolean orphans,
        Duration orphanMinAge, Instant now) {
    /** Rule that selects the committed entries to remove. */
    public enum Selector {
        NONE, ALL, KEY_PREFIX, OLDER_THAN
    }
}
