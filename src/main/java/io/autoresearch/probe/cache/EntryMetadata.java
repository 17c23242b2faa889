package io.autoresearch.probe.cache;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * The metadata file of a format-2 cache entry, read leniently: a field that is missing or
 * has the wrong type is null here and described in {@link #problems()}.
 *
 * <p>The rules are those the Python cache applies before it uses an entry, except the
 * comparison with a lookup's request and the check of each shard's safetensors header:
 * shard {@code i} of the list is named
 * {@code <key>.<i>.safetensors}, the shards cover the prompts in list order, {@code bytes}
 * is their total, and {@code shapes} has one {@code layer_<L>} per layer whose first axis is
 * {@code n_prompts}.
 *
 * @param createdAt null when the writer left {@code created_at} out, which is allowed, or
 *     when its value is not a time, which is a problem
 * @param files the valid shard records; an invalid one is left out and named in the problems
 * @param problems what makes this metadata unusable, one sentence each; empty when it is valid
 */
public record EntryMetadata(String key, Instant createdAt, String modelId, String weightsSha256, String dtype,
        String hookPoint, List<Integer> layers, Long nPrompts, List<ShardRecord> files, Long bytes,
        List<String> problems) {
    public EntryMetadata {
        layers = layers == null ? null : List.copyOf(layers);
        files = List.copyOf(files);
        problems = List.copyOf(problems);
    }

    /** One element of {@code files}: a shard with its checksum, size and the prompts it covers. */
    public record ShardRecord(String name, String sha256, long bytes, long firstPrompt, long nPrompts) {
    }

    /** Returns whether the metadata itself has no problem. The shards are checked by {@link CacheVerifier}. */
    public boolean isValid() {
        return problems.isEmpty();
    }

    /**
     * Reads the fields of a format-2 metadata object found in {@code <fileKey>.json}.
     *
     * @param root the parsed file, already known to be an object whose {@code format_version} is 2
     */
    static EntryMetadata parse(JsonNode root, String fileKey) {
        List<String> problems = new ArrayList<>();
        JsonNode version = root.get("format_version");
        if (!version.isIntegralNumber()) {
            problems.add("format_version must be the number " + CacheFormat.FORMAT_VERSION + ", found " + version);
        }
        String key = requiredText(root, "key", problems);
        if (key != null && !key.equals(fileKey)) {
            problems.add("key field '" + key + "' does not match the file name " + CacheFormat.metadataName(fileKey));
        }
        Instant createdAt = createdAt(root, problems);
        String modelId = requiredText(root, "model_id", problems);
        String weightsSha256 = requiredText(root, "weights_sha256", problems);
        String dtype = requiredText(root, "dtype", problems);
        String hookPoint = requiredText(root, "hook_point", problems);
        List<Integer> layers = layers(root, problems);
        Long nPrompts = requiredCount(root, "n_prompts", "n_prompts", 0, problems);
        Long bytes = requiredCount(root, "bytes", "bytes", 0, problems);
        List<ShardRecord> files = files(root, fileKey, problems);

        if (!files.isEmpty() && files.size() == root.path("files").size()) {
            checkTotals(files, nPrompts, bytes, problems);
        }
        checkShapes(root.get("shapes"), layers, nPrompts, problems);
        return new EntryMetadata(key, createdAt, modelId, weightsSha256, dtype, hookPoint, layers, nPrompts, files,
                bytes, problems);
    }

    /** Parses an ISO 8601 time, taking one without an offset as UTC. Returns null when the text is not a time. */
    static Instant parseTime(String text) {
        try {
            return OffsetDateTime.parse(text).toInstant();
        } catch (DateTimeParseException withoutOffset) {
            try {
                return LocalDateTime.parse(text).toInstant(ZoneOffset.UTC);
            } catch (DateTimeParseException e) {
                return null;
            }
        }
    }

    private static Instant createdAt(JsonNode root, List<String> problems) {
        JsonNode node = root.get("created_at");
        if (node == null || node.isNull()) {
            return null;
        }
        Instant time = node.isTextual() ? parseTime(node.textValue()) : null;
        if (time == null) {
            problems.add("created_at " + node + " is not an ISO 8601 time");
        }
        return time;
    }

    private static String requiredText(JsonNode root, String field, List<String> problems) {
        JsonNode node = root.get(field);
        if (node == null || node.isNull()) {
            problems.add("missing field " + field);
            return null;
        }
        if (!node.isTextual() || node.textValue().isEmpty()) {
            problems.add(field + " must be a non-empty string, found " + node);
            return null;
        }
        return node.textValue();
    }

    /** Reads an integer field of {@code node} that must be at least {@code min}. A problem names the field by {@code label}. */
    private static Long requiredCount(JsonNode node, String field, String label, long min, List<String> problems) {
        JsonNode value = node.get(field);
        if (value == null || value.isNull()) {
            problems.add("missing field " + label);
            return null;
        }
        if (!value.isIntegralNumber() || !value.canConvertToLong() || value.longValue() < min) {
            problems.add(label + " must be an integer of at least " + min + ", found " + value);
            return null;
        }
        return value.longValue();
    }

    private static List<Integer> layers(JsonNode root, List<String> problems) {
        JsonNode node = root.get("layers");
        if (node == null || node.isNull()) {
            problems.add("missing field layers");
            return null;
        }
        List<Integer> layers = new ArrayList<>();
        boolean valid = node.isArray();
        for (JsonNode layer : node) {
            valid &= layer.isIntegralNumber() && layer.canConvertToInt();
            layers.add(layer.intValue());
        }
        if (!valid) {
            problems.add("layers must be a list of integers, found " + node);
            return null;
        }
        return layers;
    }

    private static List<ShardRecord> files(JsonNode root, String fileKey, List<String> problems) {
        JsonNode node = root.get("files");
        if (node == null || node.isNull()) {
            problems.add("missing field files");
            return List.of();
        }
        if (!node.isArray() || node.isEmpty()) {
            problems.add("files must be a non-empty list of shards, found " + node);
            return List.of();
        }
        List<ShardRecord> files = new ArrayList<>();
        for (int i = 0; i < node.size(); i++) {
            ShardRecord shard = shard(node.get(i), i, fileKey, problems);
            if (shard != null) {
                files.add(shard);
            }
        }
        return files;
    }

    private static ShardRecord shard(JsonNode node, int index, String fileKey, List<String> problems) {
        String label = "files[" + index + "]";
        if (!node.isObject()) {
            problems.add(label + " must be an object, found " + node);
            return null;
        }
        int before = problems.size();
        // The name is resolved in the cache folder, so anything but this entry's own shard
        // name could point at another entry's file or out of the folder.
        String expectedName = CacheFormat.shardName(fileKey, index);
        JsonNode name = node.get("name");
        if (name == null || !name.isTextual() || !name.textValue().equals(expectedName)) {
            problems.add(label + ".name must be " + expectedName + ", found " + name);
        }
        JsonNode sha256 = node.get("sha256");
        if (sha256 == null || !sha256.isTextual() || !CacheFormat.KEY.matcher(sha256.textValue()).matches()) {
            problems.add(label + ".sha256 must be 64 lower-case hex digits, found " + sha256);
        }
        Long bytes = requiredCount(node, "bytes", label + ".bytes", 0, problems);
        Long firstPrompt = requiredCount(node, "first_prompt", label + ".first_prompt", 0, problems);
        Long nPrompts = requiredCount(node, "n_prompts", label + ".n_prompts", 1, problems);
        if (problems.size() > before) {
            return null;
        }
        return new ShardRecord(expectedName, sha256.textValue(), bytes, firstPrompt, nPrompts);
    }

    /** Checks that the shards cover prompts 0 to n_prompts - 1 in list order, and add up to bytes. */
    private static void checkTotals(List<ShardRecord> files, Long nPrompts, Long bytes, List<String> problems) {
        long nextPrompt = 0;
        for (int i = 0; i < files.size(); i++) {
            ShardRecord shard = files.get(i);
            if (shard.firstPrompt() != nextPrompt) {
                problems.add("files[" + i + "].first_prompt is " + shard.firstPrompt() + ", expected " + nextPrompt
                        + ", the prompt after the previous shard");
            }
            nextPrompt += shard.nPrompts();
        }
        if (nPrompts != null && nextPrompt != nPrompts) {
            problems.add("the shards cover " + nextPrompt + " prompts, but n_prompts is " + nPrompts);
        }
        long shardBytes = files.stream().mapToLong(ShardRecord::bytes).sum();
        if (bytes != null && shardBytes != bytes) {
            problems.add("the shards add up to " + shardBytes + " bytes, but bytes is " + bytes);
        }
    }

    /** Checks that {@code shapes} has exactly one {@code layer_<L>} per layer, each a shape whose first axis is n_prompts. */
    private static void checkShapes(JsonNode shapes, List<Integer> layers, Long nPrompts, List<String> problems) {
        if (shapes == null || shapes.isNull()) {
            problems.add("missing field shapes");
            return;
        }
        if (!shapes.isObject()) {
            problems.add("shapes must be an object of tensor shapes, found " + shapes);
            return;
        }
        Set<String> names = new TreeSet<>();
        shapes.fieldNames().forEachRemaining(names::add);
        if (layers != null) {
            Set<String> expected = new TreeSet<>();
            layers.forEach(layer -> expected.add("layer_" + layer));
            if (!names.equals(expected)) {
                problems.add("shapes must list exactly " + expected + ", found " + names);
            }
        }
        for (String name : names) {
            JsonNode shape = shapes.get(name);
            boolean startsWithPrompts = shape.isArray() && !shape.isEmpty() && shape.get(0).isIntegralNumber()
                    && (nPrompts == null || shape.get(0).longValue() == nPrompts);
            if (!startsWithPrompts) {
                problems.add("shapes." + name + " " + shape + " does not start with n_prompts " + nPrompts);
            }
        }
    }
}
