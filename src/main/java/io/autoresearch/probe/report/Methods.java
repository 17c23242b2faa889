package io.autoresearch.probe.report;

import java.util.List;

/** Descriptions of the interventions for the report's Method section, with their source papers. */
final class Methods {
    /** The method of one intervention: a title, one paragraph and the papers it follows. */
    record Method(String title, String text, List<String> sources) {
    }

    private static final String OLSSON = "Olsson et al. (2022), \"In-context Learning and Induction Heads\","
            + " Transformer Circuits Thread";
    private static final String ELHAGE = "Elhage et al. (2021), \"A Mathematical Framework for Transformer"
            + " Circuits\", Transformer Circuits Thread";

    private Methods() {
    }

    /** Returns the method of an activation-patching run with {@code method} {@code attribution}. */
    static Method attribution() {
        return new Method("Attribution patching",
                "Attribution patching estimates every activation-patching effect at once from one clean forward"
                        + " pass and one corrupted forward and backward pass: the effect of patching a site is"
                        + " approximated by (clean activation - corrupted activation) times the gradient of the logit"
                        + " difference at the corrupted run, normalised like activation patching as (patched -"
                        + " corrupted) / (clean - corrupted). It is a first-order approximation: it can miss"
                        + " effects that saturate, such as a head that alone restores the whole answer, so the"
                        + " results file compares it with exact patching on the first seed (attribution_check) and"
                        + " the run counts as exploratory. Use it to choose where to run exact patching.",
                List.of("Syed, Rager & Conmy (2023), \"Attribution Patching Outperforms Automated Circuit"
                        + " Discovery\", arXiv:2310.10348",
                        "Heimersheim & Nanda (2024), \"How to use and interpret activation patching\","
                                + " arXiv:2404.15255"));
    }

    static Method of(String intervention) {
        return switch (intervention) {
            case "logit_lens" -> new Method("Logit lens",
                    "Each chosen layer's residual stream is decoded as if it were the last one: the model's final"
                            + " layer norm is recomputed on that residual and the unembedding turns it into"
                            + " next-token logits (the logit lens of nostalgebraist 2020). The metric follows the"
                            + " correct token layer by layer, so it shows where the prediction forms. At the final"
                            + " residual stream the lens equals the model's own logits.",
                    List.of("nostalgebraist (2020), \"interpreting GPT: the logit lens\", LessWrong"));
            case "attention_pattern" -> new Method("Attention pattern",
                    "Each head's attention pattern (the softmax over keys) is read on sequences that repeat a"
                            + " span of random tokens. Each head gets a mean attention score per behaviour: to the"
                            + " previous token (a previous-token head), to the token after the earlier occurrence"
                            + " of the current token (an induction head) and to that earlier occurrence (a"
                            + " duplicate-token head), the scores that Elhage et al. (2021) and Olsson et al."
                            + " (2022) use to find induction heads. A pattern shows where a head reads from, not"
                            + " what it writes.",
                    List.of(ELHAGE, OLSSON));
            case "activation_patching" -> new Method("Activation patching",
                    "The model runs on one prompt of a clean/corrupted pair with a single activation (a residual"
                            + " stream position, an attention or MLP output, or one head) taken from the run on"
                            + " the other prompt. The metric is the share of the clean - corrupted logit"
                            + " difference that this one site moves, (patched - corrupted) / (clean - corrupted),"
                            + " so 0 is the corrupted run and 1 the clean run: causal tracing as in Meng et al."
                            + " (2022), with the metric and the reading of denoising against noising from"
                            + " Heimersheim & Nanda (2024).",
                    List.of("Meng et al. (2022), \"Locating and Editing Factual Associations in GPT\", NeurIPS 2022",
                            "Heimersheim & Nanda (2024), \"How to use and interpret activation patching\","
                                    + " arXiv:2404.15255"));
            case "path_patching" -> new Method("Path patching",
                    "Path patching measures one path instead of one node (Wang et al. 2023). A sender head's"
                            + " output is taken from the corrupted prompt while every other head stays frozen at"
                            + " its clean output; the receiver's query, key or value input from that run is"
                            + " recorded; a second clean run patches only that input. The metric is the fraction of"
                            + " the clean - corrupted logit difference that the path carries. Sender -> logits"
                            + " uses the first run alone.",
                    List.of("Wang et al. (2023), \"Interpretability in the Wild: a Circuit for Indirect Object"
                            + " Identification in GPT-2 small\", ICLR 2023"));
            case "probing" -> new Method("Probing classifier",
                    "A logistic-regression classifier is trained on one layer's activations at one token position"
                            + " to predict a label, and scored by stratified k-fold held-out accuracy, never by"
                            + " its training accuracy. The same classifier is trained on the same activations with"
                            + " the labels permuted, a control task that shows how much a probe of that size fits"
                            + " without the property; selectivity is held-out accuracy minus control accuracy"
                            + " (Hewitt & Liang 2019). High accuracy shows that the layer encodes the property"
                            + " linearly, not that the model uses it.",
                    List.of("Alain & Bengio (2016), \"Understanding intermediate layers using linear classifier"
                            + " probes\"",
                            "Hewitt & Liang (2019), \"Designing and Interpreting Probes with Control Tasks\","
                                    + " EMNLP 2019"));
            case "sae_feature_lookup" -> new Method("SAE feature lookup",
                    "A sparse autoencoder, loaded from disk or trained on the layer's activations, splits each"
                            + " token's activation into sparse features. The probe reports how well the SAE"
                            + " reconstructs held-out activations (explained variance, mean L0, dead features),"
                            + " how often each feature fires, the examples that activate each feature most, and the"
                            + " features most associated with a label or token, against a permuted-label control."
                            + " Features of a poorly reconstructing SAE describe the SAE more than the model.",
                    List.of("Bricken et al. (2023), \"Towards Monosemanticity: Decomposing Language Models With"
                            + " Dictionary Learning\", Transformer Circuits Thread",
                            "Cunningham et al. (2023), \"Sparse Autoencoders Find Highly Interpretable Features in"
                                    + " Language Models\""));
            default -> new Method(intervention, "The results file names the intervention '" + intervention
                    + "', which this version of auto-research does not describe.", List.of());
        };
    }
}
