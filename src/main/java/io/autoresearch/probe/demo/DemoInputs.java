package io.autoresearch.probe.demo;

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
    /** The demo model has 2 blocks, so the lens layers are 0, 1 and 2 (the final residual stream). */
    public static final String PROBE_ID = "logit_lens_layers_0_to_2";

    public static final String RESEARCH_QUESTION = "RQ1: At which layer does the demo model's next-token"
            + " prediction on repeated spans form?";
    public static final String HYPOTHESIS = "H1: On the repeated half of each sequence, the logit-lens rank of"
            + " the correct next token is poor (mean rank > 5) at the residual stream before layer 1 and near 1"
            + " at the final residual stream, so the prediction forms in layer 1, where the induction heads sit.";
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
                "",
                "## Research Questions",
                "",
                "- " + RESEARCH_QUESTION,
                "",
                "## Hypotheses",
                "",
                "- " + HYPOTHESIS,
                "- " + NULL_HYPOTHESIS,
                "");
    }

    /** Returns the setup options the demo uses for the project under {@code codeDir}. */
    public static SetupOptions setupOptions(Path root, Path codeDir, boolean noInstall) {
        return new SetupOptions(root, SLUG, "logit_lens", codeDir.resolve(MODEL_PATH).toString(),
                SetupOptions.DEFAULT_LAYERS, codeDir.resolve(PROMPTS_PATH), null, SetupOptions.DEFAULT_N_EXAMPLES,
                SetupOptions.DEFAULT_SEEDS, SetupOptions.DEFAULT_DTYPE, HYPOTHESIS, true, false, noInstall, false);
    }

    /** Returns the seeds of {@link SetupOptions#DEFAULT_SEEDS} as a list. */
    static List<Integer> seeds() {
        return List.of(0, 1, 2);
    }
}
