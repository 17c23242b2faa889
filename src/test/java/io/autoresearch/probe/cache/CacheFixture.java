package io.autoresearch.probe.cache;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * A format-2 activation cache on disk in a temporary research workspace: real safetensors
 * shards, their real sha256 and sizes, and the metadata file written last.
 */
public final class CacheFixture {
    public static final String SLUG = "cache-study";

    /** The layers of every entry, each stored as a tensor {@code layer_<L>} of shape [prompts, COLUMNS]. */
    static final int[] LAYERS = {0, 1};
    static final int COLUMNS = 4;

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path folder;
    private final Path eventsFile;

    /** One written entry. */
    public record Entry(String key, Path metadata, List<Path> shards) {
        /** Returns the bytes of the metadata file and every shard. */
        public long bytes() throws IOException {
            long bytes = Files.size(metadata);
            for (Path shard : shards) {
                bytes += Files.size(shard);
            }
            return bytes;
        }
    }

    /** Creates {@code <root>/.research/cache-study/code/cache/activations/}. */
    public CacheFixture(Path root) throws IOException {
        this.folder = Files.createDirectories(root.resolve(".research").resolve(SLUG)
                .resolve("code/cache/activations"));
        this.eventsFile = folder.getParent().resolve("events.jsonl");
    }

    public Path folder() {
        return folder;
    }

    public Path eventsFile() {
        return eventsFile;
    }

    /** Returns a cache key: the sha256 of {@code seed}, 64 lower-case hex digits. */
    public static String key(String seed) {
        return sha256(seed.getBytes(StandardCharsets.UTF_8));
    }

    public static String sha256(byte[] content) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(content));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Writes an entry of key {@code key(seed)} with one shard per element of {@code promptsPerShard},
     * each a safetensors file with one float32 tensor of shape [prompts, COLUMNS] per layer.
     */
    public Entry addEntry(String seed, String hookPoint, String modelId, Instant createdAt, int... promptsPerShard)
            throws IOException {
        String key = key(seed);
        ObjectNode metadata = JSON.createObjectNode();
        metadata.put("format_version", 2);
        metadata.put("key", key);
        metadata.put("created_at", createdAt.toString());
        metadata.put("model_id", modelId);
        metadata.put("weights_sha256", key("weights of " + modelId));
        metadata.put("dtype", "float32");
        metadata.put("hook_point", hookPoint);
        ArrayNode layers = metadata.putArray("layers");
        for (int layer : LAYERS) {
            layers.add(layer);
        }
        ArrayNode files = metadata.putArray("files");
        List<Path> shards = new ArrayList<>();
        int firstPrompt = 0;
        long totalBytes = 0;
        for (int i = 0; i < promptsPerShard.length; i++) {
            byte[] content = safetensors(key, promptsPerShard[i], seed.hashCode() + i);
            Path shard = Files.write(folder.resolve(CacheFormat.shardName(key, i)), content);
            shards.add(shard);
            ObjectNode file = files.addObject();
            file.put("name", shard.getFileName().toString());
            file.put("sha256", sha256(content));
            file.put("bytes", content.length);
            file.put("first_prompt", firstPrompt);
            file.put("n_prompts", promptsPerShard[i]);
            firstPrompt += promptsPerShard[i];
            totalBytes += content.length;
        }
        metadata.put("n_prompts", firstPrompt);
        ObjectNode shapes = metadata.putObject("shapes");
        for (int layer : LAYERS) {
            shapes.putArray("layer_" + layer).add(firstPrompt).add(COLUMNS);
        }
        metadata.put("bytes", totalBytes);
        Path metadataFile = writeMetadata(key, metadata);
        return new Entry(key, metadataFile, shards);
    }

    /** Returns the parsed metadata of {@code key}. */
    public ObjectNode readMetadata(String key) throws IOException {
        return (ObjectNode) JSON.readTree(folder.resolve(CacheFormat.metadataName(key)).toFile());
    }

    /** Writes {@code metadata} as {@code <key>.json} and returns its path. */
    public Path writeMetadata(String key, ObjectNode metadata) throws IOException {
        Path file = folder.resolve(CacheFormat.metadataName(key));
        Files.writeString(file, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(metadata) + "\n");
        return file;
    }

    /** Writes a format-1 entry: {@code <key>.safetensors} and {@code <key>.json} with tensor_sha256. */
    public Entry addFormat1Entry(String seed) throws IOException {
        String key = key(seed);
        byte[] content = safetensors(key, 3, seed.hashCode());
        Path tensor = Files.write(folder.resolve(key + ".safetensors"), content);
        ObjectNode metadata = JSON.createObjectNode();
        metadata.put("format_version", "1");
        metadata.put("key", key);
        metadata.put("model_id", "gpt2");
        metadata.put("hook_point", "resid_pre");
        metadata.put("tensor_sha256", sha256(content));
        metadata.put("bytes", content.length);
        return new Entry(key, writeMetadata(key, metadata), List.of(tensor));
    }

    /** Writes a file directly in the cache folder. */
    public Path write(String name, byte[] content) throws IOException {
        return Files.write(folder.resolve(name), content);
    }

    /** Sets the modification time of {@code file}. */
    public static void touch(Path file, Instant modified) throws IOException {
        Files.setLastModifiedTime(file, FileTime.from(modified));
    }

    /** Appends one event line with the fields the Python event log writes. */
    public void event(String event, String runId, String key) throws IOException {
        ObjectNode line = JSON.createObjectNode();
        line.put("event", event);
        line.put("level", "info");
        line.put("ts", "2026-12-04T09:00:00.000Z");
        line.put("run_id", runId);
        line.put("duration_ms", 1.5);
        line.put("key", key);
        line.put("bytes", 100);
        appendEventLine(JSON.writeValueAsString(line));
    }

    /** Appends {@code line} and a newline to the events file as it is. */
    public void appendEventLine(String line) throws IOException {
        Files.writeString(eventsFile, line + "\n", StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }

    /**
     * Returns a safetensors file: an 8-byte little-endian header length, a JSON header padded
     * with spaces to a multiple of 8 bytes, then the float32 data of one tensor
     * {@code layer_<L>} of shape [rows, COLUMNS] per layer.
     */
    static byte[] safetensors(String key, int rows, int seed) {
        int tensorBytes = rows * COLUMNS * Float.BYTES;
        StringBuilder header = new StringBuilder("{\"__metadata__\":{\"key\":\"" + key + "\"}");
        for (int i = 0; i < LAYERS.length; i++) {
            header.append(",\"layer_").append(LAYERS[i]).append("\":{\"dtype\":\"F32\",\"shape\":[").append(rows)
                    .append(',').append(COLUMNS).append("],\"data_offsets\":[").append(i * tensorBytes).append(',')
                    .append((i + 1) * tensorBytes).append("]}");
        }
        header.append('}');
        while (header.length() % 8 != 0) {
            header.append(' ');
        }
        byte[] headerBytes = header.toString().getBytes(StandardCharsets.UTF_8);
        int dataBytes = LAYERS.length * tensorBytes;
        ByteBuffer buffer = ByteBuffer.allocate(8 + headerBytes.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        buffer.putLong(headerBytes.length);
        buffer.put(headerBytes);
        for (int i = 0; i < dataBytes / Float.BYTES; i++) {
            buffer.putFloat((seed % 97 + i) / 8.0f);
        }
        return buffer.array();
    }
}
