package io.autoresearch.probe.setup;

import java.util.List;

/**
 * The validated settings that only some interventions read. Each intervention's script receives
 * the ones it reads; the others keep their defaults.
 *
 * @param receiver the path-patching receiver ({@code auto} for the other interventions)
 * @param seqLen the attention-pattern span length
 * @param hook the hook point probing and SAE feature lookup read, such as {@code resid_post}
 * @param position the token position probing reads: {@code last}, {@code first} or {@code mean}
 * @param folds the number of stratified cross-validation folds of probing
 * @param saePath the SAE folder as the script names it (relative to code/ or absolute), or null to
 *     train one
 * @param saeWidth the number of features of a trained SAE, or null for the runtime's default
 * @param targetLabel the label whose features SAE feature lookup ranks, or null for every label
 * @param targetToken the token whose features SAE feature lookup ranks, or null
 * @param topK the number of top-activating examples kept per SAE feature
 * @param method the activation-patching method: {@code exact} or {@code attribution}
 */
public record ProbeSettings(
        Receiver receiver,
        int seqLen,
        String hook,
        String position,
        int folds,
        String saePath,
        Integer saeWidth,
        String targetLabel,
        String targetToken,
        int topK,
        String method) {
    /** The hook points probing and SAE feature lookup accept, named as in TransformerLens. */
    public static final List<String> HOOKS = List.of("resid_pre", "resid_mid", "resid_post", "attn_out", "mlp_out");
    /** The hook points an encoder (BERT) exposes through its hidden states. */
    public static final List<String> ENCODER_HOOKS = List.of("resid_pre", "resid_post");
    public static final List<String> POSITIONS = List.of("last", "first", "mean");
    public static final List<String> METHODS = List.of("exact", "attribution");
    public static final String DEFAULT_HOOK = "resid_post";
    public static final String DEFAULT_POSITION = "last";
    public static final int DEFAULT_FOLDS = 5;
    public static final int MAX_FOLDS = 20;
    public static final int DEFAULT_TOP_K = 10;
    public static final int MAX_TOP_K = 100;
    public static final String DEFAULT_METHOD = "exact";

    /** Returns the settings of an intervention that reads none of the optional ones. */
    public static ProbeSettings defaults() {
        return new ProbeSettings(Receiver.parse(SetupOptions.DEFAULT_RECEIVER), SetupOptions.DEFAULT_SEQ_LEN,
                DEFAULT_HOOK, DEFAULT_POSITION, DEFAULT_FOLDS, null, null, null, null, DEFAULT_TOP_K, DEFAULT_METHOD);
    }
}
