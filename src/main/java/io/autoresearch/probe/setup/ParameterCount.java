package io.autoresearch.probe.setup;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Finds how many parameters a model has, for {@code --backend auto}. The sources, in order:
 * the tensor shapes in the safetensors headers of the model folder (exact), an estimate from
 * config.json, and the size in the model's name such as {@code 70b} or {@code 560m}.
 * Only headers are read, never tensor data, so this is fast for a model of any size.
 */
public final class ParameterCount {
    /**
     * A parameter count and where it came from.
     *
     * @param parameters the number of parameters
     * @param source the source as a message names it, such as {@code from the safetensors headers}
     * @param exact whether the count is exact (safetensors) rather than an estimate
     */
    public record Count(long parameters, String source, boolean exact) {
        /** Returns the count for a message, such as {@code about 8.0 billion parameters}. */
        public String describe() {
            return "about " + inWords(parameters) + " parameters " + source;
        }
    }

    /**
     * The largest safetensors header read. The format allows 100 MB; a larger length means the
     * file is not safetensors.
     */
    static final long MAX_HEADER_BYTES = 100L * 1024 * 1024;
    /** The {@code model_type} values whose MLP is gated (three matrices instead of two). */
    private static final Set<String> GATED_MLP_TYPES = Set.of("llama", "mistral", "mixtral", "qwen2", "qwen3",
            "gemma", "gemma2", "gemma3", "phi3");
    /** A size in a model name, such as {@code 70b}, {@code 7B}, {@code 0.5B} or {@code 560m}, between separators. */
    private static final Pattern SIZE_IN_NAME = Pattern.compile(
            "(?i)(?:^|[-_/.])(\\d+(?:\\.\\d+)?)([bm])(?=$|[-_/.])");
    /** A mixture-of-experts size in a model name, such as {@code 8x7b} or {@code 8x22B}, between separators. */
    private static final Pattern EXPERTS_IN_NAME = Pattern.compile(
            "(?i)(?:^|[-_/.])(\\d{1,4})x(\\d+(?:\\.\\d+)?)([bm])(?=$|[-_/.])");
    private static final ObjectMapper JSON = new ObjectMapper();

    private ParameterCount() {
    }

    /** Returns the count of a resolved model from the best available source, or null when no source has one. */
    public static Count of(ResolvedModel model) {
        Path folder = model.isLocal() ? model.localFolder()
                : model.configFile() == null ? null : model.configFile().getParent();
        if (folder != null) {
            Long exact = fromSafetensors(folder);
            if (exact != null) {
                return new Count(exact, "from the safetensors headers", true);
            }
        }
        if (model.configFile() != null) {
            Long estimate = fromConfig(model.configFile());
            if (estimate != null) {
                return new Count(estimate, "estimated from config.json", false);
            }
        }
        String name = model.isLocal() ? model.localFolder().getFileName().toString() : model.hubId();
        Matcher experts = name == null ? null : EXPERTS_IN_NAME.matcher(name);
        if (experts != null && experts.find()) {
            long perExpert = Math.round(Double.parseDouble(experts.group(2)) * scale(experts.group(3)));
            long expertCount = Long.parseLong(experts.group(1));
            return new Count(expertCount * perExpert, "estimated from the mixture-of-experts size '"
                    + experts.group(1) + "x" + experts.group(2) + experts.group(3) + "' in the model name '"
                    + model.argument() + "' (" + expertCount + " x " + inWords(perExpert) + "; the experts share"
                    + " their attention weights, so the real count is lower)", false);
        }
        Long named = fromName(name);
        if (named != null) {
            return new Count(named, "read from the model name '" + model.argument() + "' (a name gives a nominal"
                    + " size, which can differ from the real count)", false);
        }
        return null;
    }

    /**
     * Sums the tensor sizes in {@code model.safetensors}, or in the shards that
     * {@code model.safetensors.index.json} lists. Returns null when the folder has neither, or
     * when a file is missing or is not safetensors; the caller then falls back to an estimate.
     */
    static Long fromSafetensors(Path folder) {
        Path single = folder.resolve("model.safetensors");
        Path index = folder.resolve("model.safetensors.index.json");
        try {
            if (Files.isRegularFile(single)) {
                return sumHeader(single);
            }
            if (!Files.isRegularFile(index)) {
                return null;
            }
            JsonNode weightMap = JSON.readTree(index.toFile()).path("weight_map");
            if (!weightMap.isObject() || weightMap.isEmpty()) {
                return null;
            }
            Set<String> shards = new LinkedHashSet<>();
            weightMap.elements().forEachRemaining(shard -> shards.add(shard.asText()));
            long total = 0;
            for (String shard : shards) {
                Path file = folder.resolve(shard).normalize();
                if (!file.startsWith(folder) || !Files.isRegularFile(file)) {
                    return null;
                }
                Long count = sumHeader(file);
                if (count == null) {
                    return null;
                }
                total += count;
            }
            return total;
        } catch (IOException e) {
            return null;
        }
    }

    /**
     * Reads one safetensors header: an 8-byte little-endian length, then that many bytes of JSON
     * that map each tensor name to its dtype, shape and offsets. Returns the sum of the shapes'
     * products, or null when the file is not safetensors.
     */
    static Long sumHeader(Path file) throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer length = ByteBuffer.allocate(Long.BYTES).order(ByteOrder.LITTLE_ENDIAN);
            if (readFully(channel, length) < Long.BYTES) {
                return null;
            }
            long headerBytes = length.flip().getLong();
            if (headerBytes <= 0 || headerBytes > MAX_HEADER_BYTES || headerBytes > channel.size() - Long.BYTES) {
                return null;
            }
            ByteBuffer header = ByteBuffer.allocate((int) headerBytes);
            if (readFully(channel, header) < headerBytes) {
                return null;
            }
            JsonNode tensors = JSON.readTree(header.array());
            if (!tensors.isObject()) {
                return null;
            }
            long total = 0;
            Iterator<Map.Entry<String, JsonNode>> fields = tensors.fields();
            while (fields.hasNext()) {
                Map.Entry<String, JsonNode> tensor = fields.next();
                if (tensor.getKey().equals("__metadata__")) {
                    continue;
                }
                JsonNode shape = tensor.getValue().path("shape");
                if (!shape.isArray()) {
                    return null;
                }
                long elements = 1;
                for (JsonNode dimension : shape) {
                    if (!dimension.canConvertToLong() || dimension.asLong() < 0) {
                        return null;
                    }
                    elements = Math.multiplyExact(elements, dimension.asLong());
                }
                total = Math.addExact(total, elements);
            }
            return total;
        } catch (com.fasterxml.jackson.core.JacksonException | ArithmeticException e) {
            return null;
        }
    }

    private static int readFully(FileChannel channel, ByteBuffer buffer) throws IOException {
        int total = 0;
        while (buffer.hasRemaining()) {
            int read = channel.read(buffer);
            if (read < 0) {
                break;
            }
            total += read;
        }
        return total;
    }

    /**
     * Estimates the count from config.json: the token embedding (and an untied unembedding), plus
     * per block the attention projections (with fewer key/value heads when the config sets {@code num_key_value_heads})
     * and the MLP, whose width is {@code intermediate_size} or 4 x the model width. Layer norms,
     * biases and position embeddings are left out. Returns null without the width, depth or
     * vocabulary size.
     */
    static Long fromConfig(Path config) {
        JsonNode root;
        try {
            root = JSON.readTree(config.toFile());
        } catch (IOException e) {
            return null;
        }
        JsonNode text = root.path("text_config").isObject() ? root.path("text_config") : root;
        Long width = positive(text, List.of("hidden_size", "n_embd", "d_model"));
        Long layers = positive(text, List.of("num_hidden_layers", "n_layer", "n_layers"));
        Long vocabulary = positive(text, List.of("vocab_size"));
        if (width == null || layers == null || vocabulary == null) {
            return null;
        }
        Long heads = positive(text, List.of("num_attention_heads", "n_head", "n_heads"));
        Long keyValueHeads = positive(text, List.of("num_key_value_heads"));
        Long headDim = positive(text, List.of("head_dim"));
        long dimension = width;
        if (headDim != null) {
            dimension = headDim;
        } else if (heads != null) {
            dimension = width / heads;
        }
        long queryWidth = heads != null ? heads * dimension : width;
        long keyValueWidth = keyValueHeads != null ? keyValueHeads * dimension : queryWidth;
        long attention = width * queryWidth * 2 + width * keyValueWidth * 2;

        Long intermediate = positive(text, List.of("intermediate_size", "n_inner", "ffn_dim"));
        long mlpWidth = intermediate != null ? intermediate : 4 * width;
        String modelType = text.path("model_type").asText(root.path("model_type").asText(""));
        long mlp = (GATED_MLP_TYPES.contains(modelType) ? 3 : 2) * width * mlpWidth;

        boolean tied = root.path("tie_word_embeddings").asBoolean(true);
        long embeddings = vocabulary * width * (tied ? 1 : 2);
        return embeddings + layers * (attention + mlp);
    }

    /** Reads a size such as {@code 70b} (billions) or {@code 560m} (millions) from a model name, or null. */
    static Long fromName(String name) {
        if (name == null) {
            return null;
        }
        Matcher matcher = SIZE_IN_NAME.matcher(name);
        if (!matcher.find()) {
            return null;
        }
        return Math.round(Double.parseDouble(matcher.group(1)) * scale(matcher.group(2)));
    }

    private static double scale(String unit) {
        return unit.equalsIgnoreCase("b") ? 1e9 : 1e6;
    }

    /** Returns a count in words: {@code 8.0 billion}, {@code 560 million} or {@code 12,345}. */
    public static String inWords(long parameters) {
        if (parameters >= 1_000_000_000L) {
            return String.format(Locale.ROOT, "%.1f billion", parameters / 1e9);
        }
        if (parameters >= 1_000_000L) {
            return String.format(Locale.ROOT, "%.0f million", parameters / 1e6);
        }
        return String.format(Locale.ROOT, "%,d", parameters);
    }

    private static Long positive(JsonNode node, List<String> keys) {
        for (String key : keys) {
            JsonNode value = node.path(key);
            if (value.canConvertToLong() && value.isIntegralNumber() && value.asLong() > 0) {
                return value.asLong();
            }
        }
        return null;
    }
}
