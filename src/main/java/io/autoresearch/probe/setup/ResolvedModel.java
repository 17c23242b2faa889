package io.autoresearch.probe.setup;

import java.nio.file.Path;
import java.util.Set;

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
 * @param dModel the width of the residual stream, or null when the config does not say
 * @param modelType the config's {@code model_type}, such as {@code gpt2} or {@code bert}, or null
 */
public record ResolvedModel(String argument, Path localFolder, String hubId, Path configFile, Integer nLayers,
        Integer nHeads, Integer nCtx, Integer dModel, String modelType) {
    /**
     * The {@code model_type} values of bidirectional encoders. TransformerLens cannot load them, so
     * only the interventions that read hidden states (probing) run on them.
     */
    public static final Set<String> ENCODER_TYPES = Set.of("bert", "roberta", "distilbert", "albert", "electra",
            "deberta", "deberta-v2", "xlm-roberta", "mpnet");

    /** Creates a model whose config.json was not read, so its shape is unknown. */
    public ResolvedModel(String argument, Path localFolder, String hubId, Path configFile, Integer nLayers) {
        this(argument, localFolder, hubId, configFile, nLayers, null, null, null, null);
    }

    /** Returns whether the config names a bidirectional encoder such as BERT. */
    public boolean isEncoder() {
        return modelType != null && ENCODER_TYPES.contains(modelType);
    }

    public boolean isLocal() {
        return localFolder != null;
    }

    /** Returns the name for messages: the hub id, or the absolute model folder. */
    public String displayName() {
        return isLocal() ? localFolder.toString() : hubId;
    }
}
