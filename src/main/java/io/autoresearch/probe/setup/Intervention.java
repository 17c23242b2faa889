package io.autoresearch.probe.setup;

import io.autoresearch.probe.support.ProbeException;
import java.util.Arrays;
import java.util.stream.Collectors;

/** The six interventions of the product, named as in the results-file schema. */
public enum Intervention {
    LOGIT_LENS("logit_lens", true, Input.PROMPTS),
    ATTENTION_PATTERN("attention_pattern", true, Input.NONE),
    ACTIVATION_PATCHING("activation_patching", true, Input.PAIRS),
    PATH_PATCHING("path_patching", true, Input.PAIRS),
    PROBING("probing", true, Input.LABELS),
    SAE_FEATURE_LOOKUP("sae_feature_lookup", true, Input.LABELS);

    /** The input file an intervention reads, which setup validates and copies into code/data/. */
    public enum Input {
        /** Prompts JSONL, {@code {"prompt": ..., "answer": ...}} per line. */
        PROMPTS,
        /** Clean/corrupted pairs JSONL, see {@link PairsFile}. */
        PAIRS,
        /** Labelled texts JSONL, {@code {"text": ..., "label": ...}} per line, see {@link LabelsFile}. */
        LABELS,
        /** No file: the script makes its own inputs. */
        NONE
    }

    private final String id;
    private final boolean implemented;
    private final Input input;

    Intervention(String id, boolean implemented, Input input) {
        this.id = id;
        this.implemented = implemented;
        this.input = input;
    }

    /** Returns the input file kind this intervention reads. */
    public Input input() {
        return input;
    }

    /** Returns the name used on the command line, in script names and in results files. */
    public String id() {
        return id;
    }

    public boolean implemented() {
        return implemented;
    }

    /**
     * Parses an intervention name and checks that setup can scaffold it. Both an unknown name
     * and a known one without a template yet are usage errors that name the value.
     */
    public static Intervention parseImplemented(String value) {
        for (Intervention intervention : values()) {
            if (intervention.id.equals(value)) {
                if (!intervention.implemented) {
                    throw ProbeException.usage("intervention '" + value + "' is not implemented yet;"
                            + " implemented: " + implementedIds());
                }
                return intervention;
            }
        }
        throw ProbeException.usage("unknown intervention '" + value + "'; known interventions: "
                + allIds() + " (implemented: " + implementedIds() + ")");
    }

    static String allIds() {
        return Arrays.stream(values()).map(Intervention::id).collect(Collectors.joining(", "));
    }

    static String implementedIds() {
        return Arrays.stream(values()).filter(Intervention::implemented).map(Intervention::id)
                .collect(Collectors.joining(", "));
    }
}
