package io.autoresearch.probe.setup;

import io.autoresearch.probe.support.ProbeException;
import java.util.Arrays;
import java.util.stream.Collectors;

/** The six interventions of the product, named as in the results-file schema. */
public enum Intervention {
    LOGIT_LENS("logit_lens", Input.PROMPTS),
    ATTENTION_PATTERN("attention_pattern", Input.NONE),
    ACTIVATION_PATCHING("activation_patching", Input.PAIRS),
    PATH_PATCHING("path_patching", Input.PAIRS),
    PROBING("probing", Input.LABELS),
    SAE_FEATURE_LOOKUP("sae_feature_lookup", Input.LABELS);

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
    private final Input input;

    Intervention(String id, Input input) {
        this.id = id;
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

    /** Parses an intervention name; an unknown one is a usage error that lists the six. */
    public static Intervention parse(String value) {
        for (Intervention intervention : values()) {
            if (intervention.id.equals(value)) {
                return intervention;
            }
        }
        throw ProbeException.usage("unknown intervention '" + value + "'; known interventions: " + allIds());
    }

    static String allIds() {
        return Arrays.stream(values()).map(Intervention::id).collect(Collectors.joining(", "));
    }
}
