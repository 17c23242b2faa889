package io.autoresearch.probe.report;

import com.fasterxml.jackson.databind.JsonNode;
import io.autoresearch.probe.setup.Backend;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Chooses one concrete next probe per results file, from its intervention and its numbers:
 *
 * <ul>
 *   <li>logit lens: activation-patch the block(s) between the two lens layers where the metric
 *       changes most;
 *   <li>attention pattern: path-patch the top previous-token head into the top induction head
 *       (K-composition), or activation-patch the heads when no induction score clears its control;
 *   <li>activation patching: path-patch into the strongest head above the top component, or read
 *       the top component's attention pattern when nothing lies above it;
 *   <li>path patching: rerun with MLPs frozen to isolate the direct edge, or read the attention
 *       patterns of the two heads once the edge is direct; with no clear path, pick a receiver by
 *       activation patching.
 *   <li>probing: look up the SAE features of the most selective layer that carry the label, or read
 *       another token position when no layer clears its control;
 *   <li>SAE feature lookup: train a wider SAE when the reconstruction is poor, else activation-patch
 *       the layer whose feature tracks the label.
 * </ul>
 */
final class NextProbe {
    /** The suggestion: what to do and why, and the command that starts it (null when there is none). */
    record Suggestion(String text, String command) {
    }

    /** One head with its score, such as {@code L1H3}. */
    record Head(String name, int layer, double value, double[] interval) {
    }

    private static final Pattern HEAD = Pattern.compile("^L(\\d+)H(\\d+)\\b");
    private static final Pattern PATH = Pattern.compile("^(L\\d+H\\d+)\\s*->\\s*(L(\\d+)H\\d+)\\.([qkv])$");

    private final ProbeResults results;
    private final String slug;
    private final boolean hasPairs;
    private final String model;

    /**
     * @param hasPairs whether the project already has {@code code/data/pairs.jsonl}, so that a
     *     patching setup needs no {@code --pairs}
     */
    private NextProbe(ProbeResults results, String slug, boolean hasPairs, String model) {
        this.results = results;
        this.slug = slug;
        this.hasPairs = hasPairs;
        this.model = model;
    }

    /**
     * @param model the probe's model as the next setup command names it, or null to leave
     *     {@code --model} out
     */
    static Suggestion suggest(ProbeResults results, String slug, boolean hasPairs, String model) {
        NextProbe next = new NextProbe(results, slug, hasPairs, model);
        return switch (results.intervention()) {
            case "logit_lens" -> next.afterLogitLens();
            case "attention_pattern" -> next.afterAttentionPattern();
            case "activation_patching" -> next.afterActivationPatching();
            case "path_patching" -> next.afterPathPatching();
            case "probing" -> next.afterProbing();
            case "sae_feature_lookup" -> next.afterSaeLookup();
            default -> next.patchTopLayer();
        };
    }

    private Suggestion afterLogitLens() {
        List<Integer> layers = results.layers();
        List<Double> values = results.perLayer().values();
        if (layers.size() < 2 || values.size() != layers.size()) {
            return new Suggestion("Only lens layer " + layers + " was read. Rerun the logit lens on every layer to"
                    + " see where the prediction forms.", setup("logit_lens", "--layers all"));
        }
        int jump = 0;
        for (int i = 1; i < layers.size() - 1; i++) {
            if (Math.abs(values.get(i + 1) - values.get(i)) > Math.abs(values.get(jump + 1) - values.get(jump))) {
                jump = i;
            }
        }
        int from = layers.get(jump);
        int to = layers.get(jump + 1);
        boolean singleBlock = to - from <= 1;
        String blocks = singleBlock ? "block " + from : "blocks " + from + " to " + (to - 1);
        return new Suggestion("The largest change in " + results.metric() + " lies between lens layers " + from
                + " and " + to + " (" + Format.number(values.get(jump)) + " to " + Format.number(values.get(jump + 1))
                + "), so " + blocks + (singleBlock ? " writes" : " write") + " most of the prediction."
                + " Activation-patch the attention and MLP outputs and the heads of " + blocks
                + " on clean/corrupted pairs to find which component there the prediction needs." + pairsHint(),
                setup("activation_patching", "--layers " + range(from, Math.max(from, to - 1)) + pairsOption()));
    }

    private Suggestion afterAttentionPattern() {
        Head previous = topHead("previous_token");
        Head induction = topHead("induction");
        if (induction == null) {
            return patchTopLayer();
        }
        JsonNode top = results.document().path("top_heads").path("induction");
        Double control = top.has("shuffled_control_mean") ? ProbeResults.number(top.get("shuffled_control_mean"))
                : results.shuffledControlMean();
        Double baseline = top.has("random_baseline") ? ProbeResults.number(top.get("random_baseline"))
                : results.randomBaseline();
        double low = induction.interval() == null ? induction.value() : induction.interval()[0];
        boolean clears = (control == null || low > control) && (baseline == null || low > baseline);
        if (!clears) {
            return new Suggestion("No head's induction score clears its controls (top head " + induction.name() + " "
                    + Format.estimate(induction.value(), induction.interval()) + ", shuffled control "
                    + Format.number(control) + ", uniform attention " + Format.number(baseline) + "), so these"
                    + " sequences show no induction head. Activation-patch every head to find the ones the"
                    + " behaviour needs instead." + pairsHint(),
                    setup("activation_patching", "--layers all" + pairsOption()));
        }
        if (previous != null && previous.layer() < induction.layer()) {
            return new Suggestion("Path-patch the top previous-token head " + previous.name() + " ("
                    + Format.estimate(previous.value(), previous.interval()) + ") into the top induction head "
                    + induction.name() + " (" + Format.estimate(induction.value(), induction.interval())
                    + ") through K: K-composition (Elhage et al. 2021) predicts that " + previous.name() + " -> "
                    + induction.name() + ".k carries much more of the logit difference than the paths through q"
                    + " and v, on pairs whose corruption changes which token precedes the repeated one."
                    + pairsHint(),
                    setup("path_patching", "--receiver " + induction.name() + pairsOption()));
        }
        return new Suggestion("The top induction head " + induction.name() + " has no previous-token head below"
                + " it" + (previous == null ? "" : " (the top one, " + previous.name() + ", is in layer "
                + previous.layer() + ")") + ". Activation-patch the heads of layers 0 to " + induction.layer()
                + " to test whether " + induction.name() + " is needed at all." + pairsHint(),
                setup("activation_patching", "--layers " + range(0, induction.layer()) + pairsOption()));
    }

    private Suggestion afterActivationPatching() {
        List<Head> heads = new ArrayList<>();
        for (ProbeResults.Estimate component : results.components()) {
            Matcher matcher = HEAD.matcher(component.name());
            if (matcher.find() && !component.name().contains("->")) {
                heads.add(new Head(matcher.group(), Integer.parseInt(matcher.group(1)), component.value(),
                        component.interval()));
            }
        }
        if (heads.isEmpty()) {
            return patchTopLayer();
        }
        String named = results.text("top_component");
        Head top = heads.stream().filter(head -> head.name().equals(named)).findFirst()
                .orElse(heads.stream().max((a, b) -> Double.compare(a.value(), b.value())).orElseThrow());
        Head receiver = heads.stream().filter(head -> head.layer() > top.layer())
                .max((a, b) -> Double.compare(a.value(), b.value())).orElse(null);
        if (receiver == null) {
            return new Suggestion("The top head " + top.name() + " (" + Format.estimate(top.value(), top.interval())
                    + ") sits in the highest patched layer. Read its attention pattern to see which token it moves"
                    + " information from.", setup("attention_pattern", "--layers " + top.layer()));
        }
        return new Suggestion("Path-patch into " + receiver.name() + ", the head above layer " + top.layer()
                + " that recovers the most on its own (" + Format.estimate(receiver.value(), receiver.interval())
                + "). The sweep over senders and over q, k and v shows whether the top head " + top.name() + " ("
                + Format.estimate(top.value(), top.interval()) + ") reaches it and through which input."
                + pairsHint(),
                setup("path_patching", "--receiver " + receiver.name() + pairsOption()));
    }

    /** One sender -> receiver path with its fraction of the logit difference. */
    private record PathEstimate(String sender, String receiver, String input, double value, double[] interval) {
        String name() {
            return sender + " -> " + receiver + "." + input;
        }
    }

    private Suggestion afterPathPatching() {
        PathEstimate top = topPath();
        if (top == null) {
            return patchTopLayer();
        }
        String estimate = Format.estimate(top.value(), top.interval());
        double low = top.interval() == null ? top.value() : top.interval()[0];
        Double noise = results.noiseFloor();
        if (low <= 0 || (noise != null && low <= noise)) {
            return new Suggestion("No path into " + top.receiver() + " carries a clear share of the effect (top "
                    + top.name() + " " + estimate + ", noise floor " + Format.number(noise) + "). Pick another"
                    + " receiver: activation-patch every head and path-patch into the one that recovers the most."
                    + pairsHint(), setup("activation_patching", "--layers all" + pairsOption()));
        }

        String script = results.provenance("script");
        boolean mlpsFrozen = results.document().path("freeze_mlps").asBoolean(false);
        if (!mlpsFrozen && script != null && !script.isBlank()) {
            return new Suggestion(top.name() + " carries " + estimate + " of the logit difference with the MLPs"
                    + " recomputed, so routes through MLPs count as part of the path. Set FREEZE_MLPS = True in "
                    + script + " and rerun it to measure the direct edge alone: a fraction close to "
                    + Format.number(top.value()) + " means the path does not run through an MLP.",
                    "cd .research/" + slug + "/code && uv run --extra attention python " + script);
        }

        Matcher senderHead = HEAD.matcher(top.sender());
        Matcher receiverHead = HEAD.matcher(top.receiver());
        String layers = senderHead.find() && receiverHead.find()
                ? range(Integer.parseInt(senderHead.group(1)), Integer.parseInt(receiverHead.group(1))) : "all";
        String roles = top.input().equals("k")
                ? " Through k, K-composition implies that " + top.sender() + " is a previous-token head and "
                        + top.receiver() + " an induction head."
                : " The patterns show what " + top.sender() + " attends to and where " + top.receiver()
                        + " looks with the " + top.input() + " input the path changes.";
        return new Suggestion(top.name() + " carries " + estimate + " of the logit difference as a direct edge."
                + " Read the attention patterns of both heads to check the roles this path implies." + roles,
                setup("attention_pattern", "--layers " + layers));
    }

    /** Returns the top path: {@code top_path} when the file has it, else the path component with the largest value. */
    private PathEstimate topPath() {
        JsonNode topPath = results.document().path("top_path");
        if (topPath.isObject() && topPath.path("sender").isTextual() && topPath.path("receiver").isTextual()) {
            return new PathEstimate(topPath.path("sender").asText(), topPath.path("receiver").asText(),
                    topPath.path("input").asText("?"), topPath.path("value").asDouble(),
                    ProbeResults.interval(topPath.get("ci_95")));
        }
        ProbeResults.Estimate best = null;
        for (ProbeResults.Estimate component : results.components()) {
            if (PATH.matcher(component.name()).matches() && (best == null || component.value() > best.value())) {
                best = component;
            }
        }
        if (best == null) {
            return null;
        }
        Matcher matcher = PATH.matcher(best.name());
        matcher.matches();
        return new PathEstimate(matcher.group(1), matcher.group(2), matcher.group(4), best.value(), best.interval());
    }

    /** Below this explained variance an SAE's features describe the SAE more than the model. */
    static final double POOR_EXPLAINED_VARIANCE = 0.7;

    private Suggestion afterProbing() {
        JsonNode document = results.document();
        List<Integer> layers = results.layers();
        List<Double> values = results.perLayer().values();
        List<double[]> intervals = results.perLayer().intervals();
        int best = -1;
        for (int i = 0; i < values.size() && i < layers.size(); i++) {
            if (best < 0 || values.get(i) > values.get(best)) {
                best = i;
            }
        }

        String position = document.path("position").asText("last");
        String hook = document.path("hook").asText("resid_post");
        String labels = labelsOption(document);
        boolean clears = best >= 0 && best < intervals.size() && intervals.get(best) != null
                && intervals.get(best)[0] > 0;
        if (!clears) {
            String other = position.equals("mean") ? "last" : "mean";
            return new Suggestion("No layer's selectivity clears zero" + (best < 0 ? "" : " (best: layer "
                    + layers.get(best) + ", " + Format.estimate(values.get(best), intervalAt(intervals, best)) + ")")
                    + ", so this probe finds no linear trace of the label at the " + position + " position. Probe the "
                    + other + " position, or add texts: the interval narrows with more examples per seed.",
                    setup("probing", "--hook " + hook + " --position " + other + labels));
        }

        int layer = layers.get(best);
        String estimate = Format.estimate(values.get(best), intervalAt(intervals, best));
        if ("encoder".equals(document.path("model_kind").asText())) {
            return new Suggestion("Layer " + layer + " is the most selective (" + estimate + "). A probe shows that"
                    + " the label is decodable, not that the model uses it; the causal interventions here need a"
                    + " causal language model, so test the direction with an ablation in your own code.", null);
        }
        return new Suggestion("Layer " + layer + " is the most selective (" + estimate + "). A probe shows that the"
                + " label is decodable there, not which features carry it or whether the model uses it. Train an SAE"
                + " on that layer and rank its features by the label.",
                setup("sae_feature_lookup", "--layers " + layer + " --hook " + hook + labels));
    }

    private Suggestion afterSaeLookup() {
        JsonNode document = results.document();
        JsonNode reconstruction = document.path("reconstruction");
        Double explained = ProbeResults.number(reconstruction.get("explained_variance"));
        int layer = results.layers().isEmpty() ? 0 : results.layers().get(0);
        int width = document.path("sae").path("d_sae").asInt(0);
        boolean trained = "trained".equals(document.path("sae").path("source").asText());
        String labels = labelsOption(document);
        if (explained != null && explained < POOR_EXPLAINED_VARIANCE) {
            return new Suggestion("The SAE explains only " + Format.number(explained) + " of the variance of held-out"
                    + " activations, so its features describe the SAE more than the model. "
                    + (trained ? "Train a wider SAE" : "Train an SAE on this layer") + " and compare.",
                    setup("sae_feature_lookup", "--layers " + layer + labels
                            + (width > 0 ? " --sae-width " + 2 * width : "")));
        }
        JsonNode top = document.path("top_feature");
        if (!top.isObject()) {
            return new Suggestion("No label or token was ranked, so the features are listed but none is tied to the"
                    + " question. Rerun with the label that the hypothesis is about.",
                    setup("sae_feature_lookup", "--layers " + layer + labels + " --target-label LABEL"));
        }
        return new Suggestion("Feature " + top.path("feature").asInt() + " tracks " + top.path("target").asText()
                + " (AUROC " + Format.estimate(top.path("auroc").asDouble(), ProbeResults.interval(top.get("ci_95")))
                + ", permuted-label control " + Format.number(results.shuffledControlMean()) + "). A feature that"
                + " tracks the label need not cause the behaviour: activation-patch the components of blocks 0 to "
                + layer + " on pairs that differ in the label." + pairsHint(),
                setup("activation_patching", "--layers " + range(0, layer) + pairsOption()));
    }

    /** Returns {@code --labels PATH} when the probe read a file other than the one setup reuses. */
    private String labelsOption(JsonNode document) {
        String path = document.path("labels_path").asText("");
        if (path.isEmpty()) {
            path = document.path("provenance").path("labels_path").asText("");
        }
        return path.isEmpty() || path.equals("data/labels.jsonl") ? "" : " --labels .research/" + slug + "/code/" + path;
    }

    private static double[] intervalAt(List<double[]> intervals, int index) {
        return index < intervals.size() ? intervals.get(index) : null;
    }

    /** Suggests activation patching of the layer with the largest per-layer value: the fallback. */
    private Suggestion patchTopLayer() {
        List<Integer> layers = results.layers();
        List<Double> values = results.perLayer().values();
        if (layers.isEmpty() || values.size() != layers.size()) {
            return new Suggestion("Activation-patch every layer to test which component the behaviour needs."
                    + pairsHint(), setup("activation_patching", "--layers all" + pairsOption()));
        }
        int best = 0;
        for (int i = 1; i < values.size(); i++) {
            if (values.get(i) > values.get(best)) {
                best = i;
            }
        }
        return new Suggestion("Layer " + layers.get(best) + " has the largest " + results.metric() + " ("
                + Format.number(values.get(best)) + "). Activation-patch its components to test whether the model"
                + " uses what this probe shows there." + pairsHint(),
                setup("activation_patching", "--layers " + layers.get(best) + pairsOption()));
    }

    /** Returns the top head of one attention score: from {@code top_heads}, else from the components. */
    private Head topHead(String score) {
        JsonNode top = results.document().path("top_heads").path(score);
        if (top.path("head").isTextual()) {
            Matcher matcher = HEAD.matcher(top.path("head").asText());
            int layer = top.has("layer") ? top.path("layer").asInt()
                    : matcher.find() ? Integer.parseInt(matcher.group(1)) : -1;
            return new Head(top.path("head").asText(), layer, top.path("value").asDouble(),
                    ProbeResults.interval(top.get("ci_95")));
        }
        Head best = null;
        for (ProbeResults.Estimate component : results.components()) {
            String[] parts = component.name().split("\\s+");
            if (parts.length != 2 || !parts[1].equals(score)) {
                continue;
            }
            Matcher matcher = HEAD.matcher(parts[0]);
            if (matcher.find() && (best == null || component.value() > best.value())) {
                best = new Head(parts[0], Integer.parseInt(matcher.group(1)), component.value(),
                        component.interval());
            }
        }
        return best;
    }

    private String setup(String intervention, String options) {
        // Setup's default model is gpt2, so the command names the model this probe ran on.
        String modelOption = model == null ? "" : " --model " + shellWord(model);
        return "auto-research probe setup " + slug + " --intervention " + intervention + modelOption
                + backendOptions(intervention) + " " + options;
    }

    /**
     * Returns {@code --backend nnsight} (and {@code --remote} for a remote run) when this probe ran
     * on nnsight and nnsight implements the next intervention, so the next probe runs where this one
     * did. The other interventions exist on transformer_lens only, so their command names no backend.
     */
    private String backendOptions(String intervention) {
        boolean nnsight = "nnsight".equals(results.document().path("backend").asText());
        if (!nnsight || !Backend.NNSIGHT_INTERVENTION_IDS.contains(intervention)) {
            return "";
        }
        boolean remote = results.document().path("provenance").path("remote").asBoolean(false);
        return " --backend nnsight" + (remote ? " --remote" : "");
    }

    /** Quotes {@code word} for a POSIX shell unless it holds only characters that need no quoting. */
    private static String shellWord(String word) {
        return word.matches("[A-Za-z0-9_./:=@+-]+") ? word : "'" + word.replace("'", "'\\''") + "'";
    }

    private String pairsOption() {
        return hasPairs ? "" : " --pairs PAIRS.jsonl";
    }

    private String pairsHint() {
        return hasPairs ? "" : " The project has no code/data/pairs.jsonl yet: write clean/corrupted pairs and"
                + " pass them with --pairs.";
    }

    private static String range(int from, int to) {
        return from == to ? String.valueOf(from) : from + "-" + to;
    }
}
