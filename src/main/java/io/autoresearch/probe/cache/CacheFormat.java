package io.autoresearch.probe.cache;

import java.util.regex.Pattern;

/**
 * File names of the activation cache folder {@code code/cache/activations/}, format 2.
 *
 * <p>An entry is the metadata file {@code <key>.json} and its tensor shards
 * {@code <key>.<i>.safetensors}, where the key is 64 lower-case hex digits. The writer
 * renames the metadata into place last, so a metadata file marks a committed entry, and
 * shards without one are left over from an unfinished write. Format 1 stored one
 * {@code <key>.safetensors} beside {@code <key>.json} with a {@code tensor_sha256} field.
 * Temporary files of an atomic write are named {@code .<name>.<random>.tmp}, and the
 * writers' lock files {@code <key>.lock}.
 */
public final class CacheFormat {
    /** The format version that this tool reads. */
    public static final int FORMAT_VERSION = 2;

    static final Pattern KEY = Pattern.compile("[0-9a-f]{64}");
    static final Pattern METADATA_NAME = Pattern.compile("([0-9a-f]{64})\\.json");
    static final Pattern SHARD_NAME = Pattern.compile("([0-9a-f]{64})\\.([0-9]{1,9})\\.safetensors");
    static final Pattern FORMAT_1_TENSOR_NAME = Pattern.compile("([0-9a-f]{64})\\.safetensors");
    static final Pattern LOCK_NAME = Pattern.compile("([0-9a-f]{64})\\.lock");
    static final Pattern TEMPORARY_NAME = Pattern.compile("\\..+\\.tmp");

    private CacheFormat() {
    }

    /** Returns the metadata file name of {@code key}. */
    public static String metadataName(String key) {
        return key + ".json";
    }

    /** Returns the name of shard {@code index} of {@code key}. */
    public static String shardName(String key, int index) {
        return key + "." + index + ".safetensors";
    }
}
