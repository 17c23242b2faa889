package io.autoresearch.probe.setup;

import java.nio.file.Path;

/**
 * A {@code --model} value after checking that the model can be loaded offline.
 *
 * @param argument the value as given on the command line
 * @param localFolder the absolute Hugging Face model folder, or null for a hub id
 * @param hubId the hub id, or null for a local folder
 * @param configFile the config.json that {@code nLayers} came from, or null when the model is not cached
 * @param nLayers the number of transformer blocks, or null when the config is not available
 * @param nHeads the number of attention heads per block, or null when the config does not say
 * @param nCtx the longest input in tokens, or null when the config does not say
 */
public record ResolvedModel(String argument, Path localFolder, String hubId, Path configFile, Integer nLayers,
        Integer nHeads, Integer nCtx) {
    /** Creates a model whose config.json was not read, so its shape is unknown. */
    public ResolvedModel(String argument, Path localFolder, String hubId, Path configFile, Integer nLayers) {
        this(argument, localFolder, hubId, configFile, nLayers, null, null);
    }

    public boolean isLocal() {
        return localFolder != null;
    }

    /** Returns the name for messages: the hub id, or the absolute model folder. */
    public String displayName() {
        return isLocal() ? localFolder.toString() : hubId;
    }
}
