package io.autoresearch.probe.demo;

import io.autoresearch.probe.setup.Backend;
import io.autoresearch.probe.setup.Intervention;
import io.autoresearch.probe.setup.SetupOptions;
import java.nio.file.Path;
import java.util.List;

/**
 * The fixed inputs of the induction demo: a 2-layer GPT-2-style model trained on sequences in
 * which a span of words repeats, so the induction heads in layer 1 can predict the repeat.
 */
public final class DemoInputs {
    public static final String SLUG = "induction-demo";
    public static final String PACKAGE = "induction_demo";
    /** The classpath folder of the trained demo model, and its place inside code/. */
    public static final String MODEL_RESOURCE = "python/demo/induction-demo-model";
    public static final String MODEL_PATH = "models/induction-demo-model";
    public static final String PROMPTS_RESOURCE = "python/demo/prompts.jsonl";
    public static final String PROMPTS_PATH = "data/prompts.jsonl";
    public static final String PAIRS_RESOURCE = "python/demo/pairs.jsonl";
    public static final String PAIRS_PATH = "data/pairs.jsonl";
    public static final String LABELS_RESOURCE = "python/demo/labels.jsonl";
    public static final String LABELS_PATH = "data/labels.jsonl";
    /** The layer whose residual stream the demo's SAE reads: after block 1, where the induction heads write. */
    public static final int SAE_LAYER = 1;
    /** The demo model has 2 blocks, so the lens layers are 0, 1 and 2 (the final residual stream). */
    public static final String PROBE_ID = "logit_lens_layers_0_to_2";
    public static final String ATTENTION_PROBE_ID = "attention_pattern_layers_0_to_1";
    public static final String PATCHING_PROBE_ID = "activation_patching_layers_0_to_1";
    public static final String PATH_PROBE_ID = "path_patching_receiver_auto";
    public static final String PROBING_PROBE_ID = "probing_layers_0_to_1";
    public static final String SAE_PROBE_ID = "sae_feature_lookup_layer_" + SAE_LAYER;
    /** The demo's interventions in run order. */
    public static final List<Intervention> INTERVENTIONS = List.of(Intervention.LOGIT_LENS,
            Intervention.ATTENTION_PATTERN, Intervention.ACTIVATION_PATCHING, Intervention.PATH_PATCHING,
            Intervention.PROBING, Intervention.SAE_FEATURE_LOOKUP);

    public static final String RESEARCH_QUESTION = "RQ1: At which layer does the demo model's next-token"
            + " prediction on repeated spans form?";
    public static final String ATTENTION_QUESTION = "RQ2: Which heads form the induction circuit, and do"
            + " they compose through keys as the induction-head account predicts?";
    public static final String HYPOTHESIS = "H1: On the repeated half of each sequence, the logit-lens rank of"
            + " the correct next token is poor (mean rank > 5) at the residual stream before layer 1 and near 1"
            + " at the final residual stream, so the prediction forms in layer 1, where the induction heads sit.";
    public static final String ATTENTION_HYPOTHESIS = "H2: On repeated random word sequences, a layer-0 head"
            + " attends to the previous token and a layer-1 head attends to the token after the earlier occurrence"
            + " of the current token (an induction head), both well above the control without a repeat.";
    public static final String PATCHING_HYPOTHESIS = "H3: When the first copy's tokens are swapped so that"
            + " induction points at a different word, patching the clean output of the layer-1 head with the top"
            + " induction score into the corrupted run recovers more of the logit difference than any other head.";
    public static final String PATH_HYPOTHESIS = "H4: The layer-0 previous-token head changes the layer-1"
            + " induction head's output through the induction head's keys (K-composition) much more than through"
            + " its queries or values.";
    public static final String REPEAT_QUESTION = "RQ3: Where does the model represent whether the current word"
            + " already occurred earlier in the sequence?";
    public static final String PROBING_HYPOTHESIS = "H5: Whether the last word of a sequence already occurred"
            + " earlier is linearly decodable from the residual stream after block 1 with a selectivity (held-out"
            + " accuracy minus the permuted-label control) clearly above the selectivity after block 0.";
    public static final String SAE_HYPOTHESIS = "H6: A small SAE trained on the residual stream after block 1"
            + " has a feature whose activation on the last word separates sequences in which that word repeats"
            + " from those in which it is new, well above the permuted-label control.";
    public static final String NULL_HYPOTHESIS = "H0: The mean rank of the correct next token on the repeated"
            + " half does not differ between the residual stream before layer 1 and the final residual stream.";

    private DemoInputs() {
    }

    /** Returns the text of the demo's {@code 04_EXPERIMENT_PLAN.md}. */
    public static String experimentPlan() {
        return String.join("\n",
                "# Experiment plan: induction demo",
                "",
                "A 2-layer GPT-2-style model trained on word sequences in which a span of random words repeats"
                        + " after a random prefix and gap.",
                "The logit lens decodes each residual stream with the final layer norm and the unembedding.",
                "Attention scores, activation patching and path patching look for the previous-token head,"
                        + " the induction head and the path between them.",
                "",
                "## Research Questions",
                "",
                "- " + RESEARCH_QUESTION,
                "- " + ATTENTION_QUESTION,
                "- " + REPEAT_QUESTION,
                "",
                "## Hypotheses",
                "",
                "- " + HYPOTHESIS + " (RQ1)",
                "- " + ATTENTION_HYPOTHESIS + " (RQ2)",
                "- " + PATCHING_HYPOTHESIS + " (RQ2)",
                "- " + PATH_HYPOTHESIS + " (RQ2)",
                "- " + PROBING_HYPOTHESIS + " (RQ3)",
                "- " + SAE_HYPOTHESIS + " (RQ3)",
                "- " + NULL_HYPOTHESIS + " (RQ1)",
                "");
    }

    /** Returns the setup options of the demo's logit-lens probe for the project under {@code codeDir}. */
    public static SetupOptions setupOptions(Path root, Path codeDir, boolean noInstall) {
        return setupOptions(Intervention.LOGIT_LENS, root, codeDir, noInstall);
    }

    /** Returns the setup options the demo uses for one intervention in the project under {@code codeDir}. */
    public static SetupOptions setupOptions(Intervention intervention, Path root, Path codeDir, boolean noInstall) {
        return setupOptions(intervention, root, codeDir, noInstall, false);
    }

    /**
     * Returns the setup options the demo uses for one intervention; with {@code force} they
     * overwrite demo files a person edited.
     */
    public static SetupOptions setupOptions(Intervention intervention, Path root, Path codeDir, boolean noInstall,
            boolean force) {
        return setupOptions(intervention, root, codeDir, noInstall, force, Backend.TRANSFORMER_LENS);
    }

    /**
     * Returns the setup options the demo uses for one intervention with {@code backend}: with
     * nnsight, the interventions nnsight implements get nnsight and the others transformer_lens.
     */
    public static SetupOptions setupOptions(Intervention intervention, Path root, Path codeDir, boolean noInstall,
            boolean force, Backend backend) {
        Path prompts = intervention.input() == Intervention.Input.PROMPTS ? codeDir.resolve(PROMPTS_PATH) : null;
        Path pairs = intervention.input() == Intervention.Input.PAIRS ? codeDir.resolve(PAIRS_PATH) : null;
        Path labels = intervention.input() == Intervention.Input.LABELS ? codeDir.resolve(LABELS_PATH) : null;
        return new SetupOptions(root, SLUG, intervention.id(), codeDir.resolve(MODEL_PATH).toString(),
                layers(intervention), prompts, null, SetupOptions.DEFAULT_N_EXAMPLES,
                SetupOptions.DEFAULT_SEEDS, SetupOptions.DEFAULT_DTYPE, hypothesis(intervention), true, force,
                noInstall, false, pairs, null, null, labels, null, null, null, null, null, null, null, null, null, false, null,
                backendFor(intervention, backend).id(), false, null, null, backendReason(intervention, backend));
    }

    /**
     * Returns the backend reason setup prints for the demo's probe of {@code intervention}, or null
     * when the probe runs on {@code backend} itself, so setup prints {@code --backend <backend>}.
     */
    static String backendReason(Intervention intervention, Backend backend) {
        if (backendFor(intervention, backend) == backend) {
            return null;
        }
        return backend.id() + " does not cover " + intervention.id() + ", so the demo runs it on transformer_lens";
    }

    /** Returns the backend of the demo's probe of {@code intervention} when the demo runs with {@code backend}. */
    public static Backend backendFor(Intervention intervention, Backend backend) {
        return backend.supports(intervention) ? backend : Backend.TRANSFORMER_LENS;
    }

    /** Returns the {@code --layers} value of the demo's probe of {@code intervention}. */
    public static String layers(Intervention intervention) {
        return intervention == Intervention.SAE_FEATURE_LOOKUP ? Integer.toString(SAE_LAYER) : SetupOptions.DEFAULT_LAYERS;
    }

    /** Returns the probe id setup gives the demo's probe of {@code intervention}. */
    public static String probeId(Intervention intervention) {
        return switch (intervention) {
            case LOGIT_LENS -> PROBE_ID;
            case ATTENTION_PATTERN -> ATTENTION_PROBE_ID;
            case ACTIVATION_PATCHING -> PATCHING_PROBE_ID;
            case PATH_PATCHING -> PATH_PROBE_ID;
            case PROBING -> PROBING_PROBE_ID;
            case SAE_FEATURE_LOOKUP -> SAE_PROBE_ID;
            default -> throw new IllegalArgumentException("the demo has no " + intervention.id() + " probe");
        };
    }

    /** Returns the hypothesis the demo's probe of {@code intervention} tests. */
    public static String hypothesis(Intervention intervention) {
        return switch (intervention) {
            case LOGIT_LENS -> HYPOTHESIS;
            case ATTENTION_PATTERN -> ATTENTION_HYPOTHESIS;
            case ACTIVATION_PATCHING -> PATCHING_HYPOTHESIS;
            case PATH_PATCHING -> PATH_HYPOTHESIS;
            case PROBING -> PROBING_HYPOTHESIS;
            case SAE_FEATURE_LOOKUP -> SAE_HYPOTHESIS;
            default -> throw new IllegalArgumentException("the demo has no " + intervention.id() + " probe");
        };
    }

    /** Returns the seeds of {@link SetupOptions#DEFAULT_SEEDS} as a list. */
    static List<Integer> seeds() {
        return List.of(0, 1, 2);
    }
}
