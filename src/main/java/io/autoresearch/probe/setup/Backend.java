package io.autoresearch.probe.setup;

import io.autoresearch.probe.support.ProbeException;
import java.util.List;
import java.util.Set;

/**
 * The libraries a probe script can run its model with. {@code transformer_lens} covers all six
 * interventions; {@code nnsight} covers the logit lens, activation patching and probing, and is
 * the path to models too large for TransformerLens (several GPUs, or remote execution on NDIF).
 */
public enum Backend {
    TRANSFORMER_LENS("transformer_lens"),
    NNSIGHT("nnsight");

    /** The value of {@code --backend} that lets setup choose by parameter count. */
    public static final String AUTO = "auto";
    /** The interventions the nnsight backend implements. */
    public static final Set<Intervention> NNSIGHT_INTERVENTIONS = Set.of(Intervention.LOGIT_LENS,
            Intervention.ACTIVATION_PATCHING, Intervention.PROBING);
    /** The interventions the nnsight backend implements, in the order messages list them. */
    public static final List<String> NNSIGHT_INTERVENTION_IDS = List.of("logit_lens", "activation_patching",
            "probing");

    private final String id;

    Backend(String id) {
        this.id = id;
    }

    /** Returns the name used on the command line, in the manifest and in results files. */
    public String id() {
        return id;
    }

    /** Returns whether this backend implements {@code intervention}. */
    public boolean supports(Intervention intervention) {
        return this == TRANSFORMER_LENS || NNSIGHT_INTERVENTIONS.contains(intervention);
    }

    /**
     * Parses a backend name; {@code auto} is accepted only when {@code allowAuto} is true.
     * An unknown name is a usage error that names the option and the accepted values.
     */
    public static Backend parseOrAuto(String option, String value, boolean allowAuto) {
        if (allowAuto && AUTO.equals(value)) {
            return null;
        }
        for (Backend backend : values()) {
            if (backend.id.equals(value)) {
                return backend;
            }
        }
        throw ProbeException.usage("invalid " + option + " '" + value + "'; use " + names(allowAuto));
    }

    /** Returns the backend recorded in a manifest entry; a missing one (older manifests) is transformer_lens. */
    public static String idOrDefault(String recorded) {
        return recorded == null ? TRANSFORMER_LENS.id : recorded;
    }

    private static String names(boolean allowAuto) {
        return allowAuto ? "transformer_lens, nnsight or auto" : "transformer_lens or nnsight";
    }
}
