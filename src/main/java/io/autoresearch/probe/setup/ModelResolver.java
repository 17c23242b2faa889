package io.autoresearch.probe.setup;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.autoresearch.probe.support.ProbeException;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Decides whether a {@code --model} value is a local Hugging Face folder or a hub id, checks
 * that the model is available without a download, and reads its number of layers from
 * config.json.
 *
 * <p>Hub ids are looked up in the Hugging Face hub cache the way huggingface_hub locates it:
 * {@code $HF_HUB_CACHE}, else {@code $HF_HOME/hub}, else {@code $XDG_CACHE_HOME/huggingface/hub},
 * else {@code ~/.cache/huggingface/hub}; a model is cached when
 * {@code models--<org>--<name>/snapshots/<revision>/config.json} exists.
 */
public final class ModelResolver {
    /** A hub id: {@code name} or {@code org/name}. */
    private static final Pattern HUB_ID = Pattern.compile("^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$");
    private static final List<String> LAYER_COUNT_KEYS = List.of("n_layer", "num_hidden_layers", "n_layers");
    private static final List<String> HEAD_COUNT_KEYS = List.of("n_head", "num_attention_heads", "n_heads");
    private static final List<String> CONTEXT_KEYS = List.of("n_ctx", "n_positions", "max_position_embeddings");
    private static final List<String> WIDTH_KEYS = List.of("n_embd", "hidden_size", "d_model");

    private final Map<String, String> environment;
    private final Path userHome;
    private final Path workingDirectory;

    /**
     * @param environment the variables that locate the hub cache (HF_HUB_CACHE, HF_HOME, XDG_CACHE_HOME)
     * @param userHome the home folder, for {@code ~} and the default cache
     * @param workingDirectory the folder relative model paths are resolved against
     */
    public ModelResolver(Map<String, String> environment, Path userHome, Path workingDirectory) {
        this.environment = Map.copyOf(environment);
        this.userHome = userHome;
        this.workingDirectory = workingDirectory;
    }

    /** Resolves a model; every problem is a usage error naming the value and the fix. */
    public ResolvedModel resolve(String argument, boolean allowDownload) {
        if (argument == null || argument.isBlank()) {
            throw ProbeException.usage("missing --model: pass a Hugging Face model folder or a hub id such as gpt2");
        }
        Path asPath = toPath(argument);
        if (looksLikePath(argument) || Files.exists(asPath)) {
            return resolveFolder(argument, asPath);
        }
        if (!HUB_ID.matcher(argument).matches()) {
            throw ProbeException.usage("invalid --model '" + argument + "': not an existing folder and not a hub id"
                    + " of the form name or org/name");
        }
        return resolveHubId(argument, allowDownload);
    }

    /** Returns the hub cache folder that huggingface_hub would use with this environment. */
    public Path hubCache() {
        String hubCache = environment.get("HF_HUB_CACHE");
        if (hubCache != null && !hubCache.isBlank()) {
            return Path.of(hubCache);
        }
        String hfHome = environment.get("HF_HOME");
        if (hfHome != null && !hfHome.isBlank()) {
            return Path.of(hfHome, "hub");
        }
        String xdgCache = environment.get("XDG_CACHE_HOME");
        if (xdgCache != null && !xdgCache.isBlank()) {
            return Path.of(xdgCache, "huggingface", "hub");
        }
        return userHome.resolve(".cache").resolve("huggingface").resolve("hub");
    }

    private ResolvedModel resolveFolder(String argument, Path folder) {
        Path absolute = folder.toAbsolutePath().normalize();
        if (!Files.exists(absolute)) {
            throw ProbeException.usage("model path '" + argument + "' does not exist (resolved to " + absolute
                    + "); pass an existing Hugging Face model folder or a hub id");
        }
        if (!Files.isDirectory(absolute)) {
            throw ProbeException.usage("model path '" + argument + "' is not a folder; pass the folder that"
                    + " save_pretrained wrote (it contains config.json)");
        }
        Path config = absolute.resolve("config.json");
        if (!Files.isRegularFile(config)) {
            throw ProbeException.usage("model folder '" + argument + "' has no config.json; pass the folder that"
                    + " save_pretrained wrote");
        }
        return withShape(argument, absolute, null, config);
    }

    private ResolvedModel resolveHubId(String hubId, boolean allowDownload) {
        Path cache = hubCache();
        Path modelDir = cache.resolve("models--" + hubId.replace("/", "--"));
        Path config = findSnapshotConfig(modelDir);
        if (config != null) {
            return withShape(hubId, null, hubId, config);
        }
        if (allowDownload) {
            return new ResolvedModel(hubId, null, hubId, null, null);
        }
        StringBuilder message = new StringBuilder("model '" + hubId + "' is not in the local Hugging Face cache "
                + cache);
        List<String> similar = similarCachedIds(cache, hubId);
        if (!similar.isEmpty()) {
            message.append(" (cached: ").append(String.join(", ", similar)).append(')');
        }
        if (hubId.contains("/")) {
            // An id of the form a/b may be a folder path given relative to another folder, such as code/.
            message.append("; no folder '").append(hubId).append("' exists under ").append(workingDirectory)
                    .append(" either, the folder relative paths are resolved against");
        }
        message.append("; download it first, pass a local folder with --model PATH, or pass --allow-download");
        throw ProbeException.usage(message.toString());
    }

    private static Path findSnapshotConfig(Path modelDir) {
        Path snapshots = modelDir.resolve("snapshots");
        if (!Files.isDirectory(snapshots)) {
            return null;
        }
        try (DirectoryStream<Path> revisions = Files.newDirectoryStream(snapshots)) {
            for (Path revision : revisions) {
                Path config = revision.resolve("config.json");
                if (Files.isRegularFile(config)) {
                    return config;
                }
            }
        } catch (IOException e) {
            return null;
        }
        return null;
    }

    /** Lists cached hub ids whose model name equals the requested one, such as org/gpt2 for gpt2. */
    private static List<String> similarCachedIds(Path cache, String hubId) {
        String name = hubId.substring(hubId.lastIndexOf('/') + 1);
        List<String> similar = new ArrayList<>();
        if (!Files.isDirectory(cache)) {
            return similar;
        }
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(cache, "models--*")) {
            for (Path entry : entries) {
                String id = entry.getFileName().toString().substring("models--".length()).replace("--", "/");
                if (id.endsWith("/" + name) || id.equals(name)) {
                    similar.add(id);
                }
            }
        } catch (IOException e) {
            return similar;
        }
        similar.sort(String::compareTo);
        return similar;
    }

    private static ResolvedModel withShape(String argument, Path localFolder, String hubId, Path config) {
        JsonNode root = readConfig(config);
        return new ResolvedModel(argument, localFolder, hubId, config, readLayerCount(config),
                positiveInt(root, HEAD_COUNT_KEYS), positiveInt(root, CONTEXT_KEYS), positiveInt(root, WIDTH_KEYS),
                root.path("model_type").isTextual() ? root.path("model_type").asText() : null);
    }

    /** Returns the first positive integer under one of {@code keys}, also inside {@code text_config}, or null. */
    private static Integer positiveInt(JsonNode root, List<String> keys) {
        for (JsonNode node : List.of(root, root.path("text_config"))) {
            for (String key : keys) {
                JsonNode value = node.path(key);
                if (value.isInt() && value.asInt() > 0) {
                    return value.asInt();
                }
            }
        }
        return null;
    }

    private static JsonNode readConfig(Path config) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(config.toFile());
        } catch (JsonProcessingException e) {
            throw ProbeException.usage("invalid JSON in " + config + ": " + e.getOriginalMessage());
        } catch (IOException e) {
            throw ProbeException.usage("cannot read " + config + ": " + e.getMessage());
        }
        return root;
    }

    /** Reads the number of transformer blocks from a config.json, also inside {@code text_config}. */
    static int readLayerCount(Path config) {
        Integer layers = positiveInt(readConfig(config), LAYER_COUNT_KEYS);
        if (layers != null) {
            return layers;
        }
        throw ProbeException.usage("cannot find the number of layers in " + config + ": none of "
                + String.join(", ", LAYER_COUNT_KEYS) + " is a positive integer");
    }

    private static boolean looksLikePath(String argument) {
        return argument.startsWith("/") || argument.startsWith(".") || argument.startsWith("~")
                || argument.contains("\\");
    }

    private Path toPath(String argument) {
        if (argument.equals("~") || argument.startsWith("~/")) {
            return userHome.resolve(argument.length() == 1 ? "" : argument.substring(2));
        }
        try {
            return workingDirectory.resolve(argument);
        } catch (java.nio.file.InvalidPathException e) {
            throw ProbeException.usage("invalid --model '" + argument + "': " + e.getReason());
        }
    }
}
