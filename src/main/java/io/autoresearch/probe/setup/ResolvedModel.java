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
 */
public record ResolvedModel(String argument, Path localFolder, String hubId, Path configFile, Integer nLayers) {
    public boolean isLocal() {
        return localFolder != null;
    }

    /** Returns the name for messages: the hub id, or the absolute model folder. */
    public String displayName() {
        return isLocal() ? localFolder.toString() : hubId;
    }
}
