package io.autoresearch.probe.report;

import com.fasterxml.jackson.databind.JsonNode;
import io.autoresearch.probe.workspace.Workspace;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Everything the report and the page state about one valid results file, as plain text. The
 * Markdown and HTML scopes escape it for their format, and nothing here is escaped.
 */
final class ProbeSummary {
    /** The plugin's statistics rule: a result needs at least this many examples per seed... */
    static final int RESULT_MIN_EXAMPLES = 64;
    /** ...and at least this many seeds. */
    static final int RESULT_MIN_SEEDS = 3;
    /** Above this many rows the results table keeps the largest values of each metric. */
    static final int MAX_TABLE_ROWS = 64;

    private static final Set<String> IMAGE_EXTENSIONS = Set.of("png", "svg", "jpg", "jpeg", "gif", "webp");
    private static final Set<String> PAGE_EXTENSIONS = Set.of("html", "htm");
    private static final Pattern DATA_PATH = Pattern.compile(
            "^(PROMPTS_PATH|PAIRS_PATH|LABELS_PATH)\\s*=\\s*['\"]([^'\"]+)['\"]", Pattern.MULTILINE);
    private static final Pattern ATTENTION_COMPONENT = Pattern.compile("^(\\S+) (\\w+)$");

    /** A labelled value; {@code code} marks identifiers such as hashes and paths. */
    record Row(String label, String value, boolean code) {
    }

    /** One row of the results table. */
    record ResultRow(String component, String metric, String value, String interval) {
    }

    /** A file of the probe's artifacts: its path relative to code/ and the file itself. */
    record Artifact(String path, Path file) {
        String name() {
            return file.getFileName().toString();
        }
    }

    /** Source of the hypothesis, as the report names it. */
    enum HypothesisSource {
        OPTION("--hypothesis"),
        RESULTS_FILE("the results file"),
        PLAN("the first hypothesis in 04_EXPERIMENT_PLAN.md"),
        NONE("none given");

        private final String label;

        HypothesisSource(String label) {
            this.label = label;
        }

        String label() {
            return label;
        }
    }

    private final ProbeResults results;
    private final Workspace workspace;
    private final String hypothesis;
    private final HypothesisSource hypothesisSource;
    private final NextProbe.Suggestion next;

    /**
     * @param hypothesisOption {@code --hypothesis}, or null
     * @param planHypothesis the first hypothesis of the experiment plan, or null
     */
    ProbeSummary(ProbeResults results, Workspace workspace, String hypothesisOption, String planHypothesis) {
        this.results = results;
        this.workspace = workspace;
        if (hypothesisOption != null && !hypothesisOption.isBlank()) {
            hypothesis = hypothesisOption.strip();
            hypothesisSource = HypothesisSource.OPTION;
        } else if (results.hypothesis() != null) {
            hypothesis = results.hypothesis();
            hypothesisSource = HypothesisSource.RESULTS_FILE;
        } else if (planHypothesis != null && !planHypothesis.isBlank()) {
            hypothesis = planHypothesis.strip();
            hypothesisSource = HypothesisSource.PLAN;
        } else {
            hypothesis = "No hypothesis was given: pass --hypothesis TEXT, or add one under '## Hypotheses' in"
                    + " 04_EXPERIMENT_PLAN.md.";
            hypothesisSource = HypothesisSource.NONE;
        }
        boolean hasPairs = Files.isRegularFile(workspace.codeDir().resolve("data").resolve("pairs.jsonl"));
        next = NextProbe.suggest(results, workspace.slug().value(), hasPairs, modelArgument());
    }

    ProbeResults results() {
        return results;
    }

    String hypothesis() {
        return hypothesis;
    }

    HypothesisSource hypothesisSource() {
        return hypothesisSource;
    }

    Methods.Method method() {
        if ("attribution".equals(results.text("method"))) {
            return Methods.attribution();
        }
        return Methods.of(results.intervention());
    }

    /**
     * Notes on the method that the results file adds: the backend, the layer semantics, how
     * intervals were computed and the float32 precision check.
     */
    List<Row> methodNotes() {
        List<Row> notes = new ArrayList<>();
        notes.add(new Row("Backend", backend(), false));
        if (results.layerSemantics() != null) {
            notes.add(new Row("Layers", results.layerSemantics(), false));
        }
        JsonNode freeze = results.document().get("freeze_mlps");
        if (freeze != null && freeze.isBoolean()) {
            notes.add(new Row("MLPs", freeze.asBoolean()
                    ? "frozen at their clean values (FREEZE_MLPS = True): the path is the direct edge alone."
                    : "recomputed (FREEZE_MLPS = False), as in Wang et al. (2023): routes through MLPs count as"
                            + " part of the path.", false));
        }
        if (results.ciMethod() != null) {
            notes.add(new Row("Statistics", results.ciMethod(), false));
        }
        String precision = precisionCheck();
        if (precision != null) {
            notes.add(new Row("Precision", precision, false));
        }
        return notes;
    }

    /** Describes the library the model ran in, and for nnsight where its traces ran. */
    private String backend() {
        JsonNode backend = results.document().get("backend");
        if (backend == null || !backend.isTextual()) {
            return "transformer_lens (the results file names no backend, so a runtime older than the nnsight"
                    + " backend wrote it)";
        }
        if (!backend.asText().equals("nnsight")) {
            return backend.asText();
        }
        JsonNode provenance = results.document().path("provenance");
        StringBuilder text = new StringBuilder("nnsight");
        text.append(provenance.path("remote").asBoolean(false) ? ", traces run remotely on NDIF" : ", run locally");
        JsonNode deviceMap = provenance.get("device_map");
        if (deviceMap != null && deviceMap.isTextual()) {
            text.append(", device_map ").append(deviceMap.asText());
        }
        return text.toString();
    }

    /** Describes the float32 re-check of a bfloat16 or float16 run, or returns null when the file has none. */
    private String precisionCheck() {
        JsonNode check = results.document().get("precision_check");
        if (check == null || !check.isObject()) {
            return null;
        }
        boolean within = check.path("within_tolerance").asBoolean(false);
        return check.path("dtype").asText("?") + " run re-checked in float32 on " + check.path("n_examples").asInt()
                + " examples: " + check.path("metric").asText("the metric") + " differs by at most "
                + Format.number(ProbeResults.number(check.get("max_abs_diff"))) + " (mean "
                + Format.number(ProbeResults.number(check.get("mean_abs_diff"))) + "), "
                + (within ? "within" : "OUTSIDE") + " the tolerance "
                + Format.number(ProbeResults.number(check.get("tolerance"))) + ".";
    }

    List<Row> setupRows() {
        List<Row> rows = new ArrayList<>();
        String loaded = results.provenance("model_id");
        rows.add(new Row("Model", results.modelId() + (loaded != null && !loaded.equals(results.modelId())
                ? " (loaded from " + loaded + ")" : ""), false));
        rows.add(new Row("Weights sha256", orMissing(results.provenance("weights_sha256")), true));
        rows.add(new Row("Dataset", dataset(), false));
        rows.add(new Row("N", sampleSize(), false));
        rows.add(new Row("Seeds", results.seeds().stream().map(String::valueOf).collect(Collectors.joining(", ")),
                false));
        rows.add(new Row("Hardware", orMissing(results.provenance("device")), false));
        rows.add(new Row("dtype", orMissing(results.provenance("dtype")), false));
        Map<String, String> packages = results.packageVersions();
        rows.add(new Row("Packages", packages.isEmpty() ? Format.MISSING : packages.entrySet().stream()
                .map(entry -> entry.getKey() + " " + entry.getValue()).collect(Collectors.joining(", ")), false));
        rows.add(new Row("Script", orMissing(results.provenance("script")), true));
        rows.add(new Row("Script sha256", orMissing(results.provenance("script_sha256")), true));
        rows.add(new Row("Run id", orMissing(results.provenance("run_id")), true));
        rows.add(new Row("Created", orMissing(results.provenance("created_at")), false));
        String duration = results.provenance("duration_s");
        rows.add(new Row("Duration", duration == null ? Format.MISSING
                : Format.number(Double.parseDouble(duration)) + " s", false));
        return rows;
    }

    String sampleSize() {
        int seeds = results.seeds().size();
        return results.nExamples() + " examples per seed × " + seeds + (seeds == 1 ? " seed" : " seeds") + " = "
                + (long) results.nExamples() * seeds + " examples";
    }

    /**
     * Returns the model as a next setup command must name it, run from the folder that contains
     * {@code .research/}. A model folder inside code/ gets its path from there; a hub id or an
     * absolute path stays as the results file names it.
     */
    private String modelArgument() {
        String model = results.modelId();
        if (model == null || model.isBlank()) {
            return null;
        }
        try {
            Path folder = workspace.codeDir().resolve(model).normalize();
            if (!Path.of(model).isAbsolute() && folder.startsWith(workspace.codeDir()) && Files.isDirectory(folder)) {
                return ".research/" + workspace.slug().value() + "/code/" + model;
            }
        } catch (java.nio.file.InvalidPathException e) {
            return model;
        }
        return model;
    }

    /** Describes the data: a dataset field, the sequences' description, or the data file the script reads. */
    private String dataset() {
        JsonNode document = results.document();
        String description = null;
        JsonNode dataset = document.get("dataset");
        if (dataset != null && dataset.isTextual()) {
            description = dataset.asText();
        } else if (dataset != null && dataset.isObject()) {
            description = dataset.path("description").asText(dataset.path("path").asText(null));
        }
        if (description == null && document.path("sequences").path("description").isTextual()) {
            description = "generated: " + document.path("sequences").path("description").asText();
        }
        if (description == null) {
            description = dataFileOfScript();
        }
        if (description == null) {
            description = "not recorded in the results file";
        }
        if (document.path("n_pairs_total").isInt()) {
            description += "; " + document.path("n_pairs_total").asInt() + " pairs used in all";
        }
        JsonNode lengths = document.path("token_lengths");
        if (lengths.isArray() && !lengths.isEmpty()) {
            List<String> values = new ArrayList<>();
            lengths.forEach(length -> values.add(length.asText()));
            description += "; token length" + (values.size() == 1 ? " " : "s ") + String.join(", ", values);
        }
        return description;
    }

    /** Returns the prompts or pairs file the probe's script reads (PROMPTS_PATH or PAIRS_PATH), or null. */
    private String dataFileOfScript() {
        String script = results.provenance("script");
        if (script == null || script.isBlank()) {
            return null;
        }
        Path file = workspace.codeDir().resolve(script).normalize();
        if (!file.startsWith(workspace.codeDir()) || !Files.isRegularFile(file)) {
            return null;
        }
        String source;
        try {
            source = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return null;
        }
        Matcher matcher = DATA_PATH.matcher(source);
        if (!matcher.find()) {
            return null;
        }
        String kind = switch (matcher.group(1)) {
            case "PAIRS_PATH" -> "clean/corrupted pairs";
            case "LABELS_PATH" -> "labelled texts";
            default -> "prompts";
        };
        return kind + " from code/" + matcher.group(2) + " (as read by " + script + ")";
    }

    /** Returns the primary metric with its interval, and the top components the file names. */
    String headline() {
        StringBuilder line = new StringBuilder(results.primaryMetric() + " (primary metric): "
                + Format.estimate(results.mean(), results.ci95()) + ".");
        JsonNode document = results.document();
        JsonNode topHeads = document.path("top_heads");
        if (topHeads.isObject() && !topHeads.isEmpty()) {
            List<String> heads = new ArrayList<>();
            for (Iterator<Map.Entry<String, JsonNode>> fields = topHeads.fields(); fields.hasNext(); ) {
                Map.Entry<String, JsonNode> field = fields.next();
                JsonNode head = field.getValue();
                if (head.path("head").isTextual()) {
                    heads.add(field.getKey().replace('_', '-') + " " + head.path("head").asText() + " "
                            + Format.estimate(ProbeResults.number(head.get("value")),
                            ProbeResults.interval(head.get("ci_95"))));
                }
            }
            line.append(" Top head per score: ").append(String.join("; ", heads)).append('.');
        }
        JsonNode topPath = document.path("top_path");
        if (topPath.path("sender").isTextual()) {
            line.append(" Top path: ").append(topPath.path("sender").asText()).append(" -> ")
                    .append(topPath.path("receiver").asText()).append('.').append(topPath.path("input").asText())
                    .append(' ').append(Format.estimate(ProbeResults.number(topPath.get("value")),
                            ProbeResults.interval(topPath.get("ci_95")))).append('.');
        }
        String topComponent = results.text("top_component");
        if (topComponent != null) {
            line.append(" Top component: ").append(topComponent).append('.');
        }
        return line.toString();
    }

    /** Returns the results table: the components when the file has any, else one row per layer and metric. */
    List<ResultRow> resultRows() {
        List<Estimated> rows = new ArrayList<>();
        List<ProbeResults.Estimate> components = results.components();
        if (!components.isEmpty()) {
            for (ProbeResults.Estimate component : components) {
                rows.add(componentRow(component));
            }
        } else {
            addLayerRows(rows, results.metric(), results.perLayer());
            results.secondaryMetrics().forEach((metric, perLayer) -> addLayerRows(rows, metric, perLayer));
        }
        return limit(rows).stream().map(Estimated::row).toList();
    }

    /** Says how many rows the table leaves out, or returns null when it shows them all. */
    String omittedNote() {
        int total = results.components().isEmpty()
                ? results.perLayer().values().size() + results.secondaryMetrics().values().stream()
                        .mapToInt(perLayer -> perLayer.values().size()).sum()
                : results.components().size();
        int shown = resultRows().size();
        if (shown == total) {
            return null;
        }
        return "The table shows the largest values of each metric, " + shown + " of " + total + " rows; the"
                + " results file holds them all.";
    }

    private record Estimated(String component, String metric, double value, double[] interval) {
        ResultRow row() {
            return new ResultRow(component, metric, Format.number(value), Format.interval(interval));
        }
    }

    private Estimated componentRow(ProbeResults.Estimate component) {
        String name = component.name();
        String metric = results.primaryMetric();
        if ("attention_pattern".equals(results.intervention())) {
            // Attention components are named "<head> <score>", such as "L1H3 induction".
            Matcher matcher = ATTENTION_COMPONENT.matcher(name);
            if (matcher.matches()) {
                name = matcher.group(1);
                metric = scoreName(matcher.group(2));
            }
        }
        return new Estimated(name, metric, component.value(), component.interval());
    }

    /** Returns {@code <score>_score} when the file has a metric of that name, else the score as written. */
    private String scoreName(String score) {
        String candidate = score + "_score";
        if (candidate.equals(results.metric()) || results.secondaryMetrics().containsKey(candidate)) {
            return candidate;
        }
        return score;
    }

    private void addLayerRows(List<Estimated> rows, String metric, ProbeResults.PerLayer perLayer) {
        List<Integer> layers = results.layers();
        for (int i = 0; i < perLayer.values().size(); i++) {
            String layer = i < layers.size() ? "layer " + layers.get(i) : "entry " + i;
            double[] interval = i < perLayer.intervals().size() ? perLayer.intervals().get(i) : null;
            rows.add(new Estimated(layer, metric, perLayer.values().get(i), interval));
        }
    }

    /** Keeps every row up to {@link #MAX_TABLE_ROWS}; above that the largest values of each metric, in file order. */
    private static List<Estimated> limit(List<Estimated> rows) {
        if (rows.size() <= MAX_TABLE_ROWS) {
            return rows;
        }
        Map<String, List<Estimated>> byMetric = new LinkedHashMap<>();
        rows.forEach(row -> byMetric.computeIfAbsent(row.metric(), key -> new ArrayList<>()).add(row));
        int perMetric = Math.max(1, MAX_TABLE_ROWS / byMetric.size());
        Set<Estimated> kept = Collections.newSetFromMap(new IdentityHashMap<>());
        for (List<Estimated> group : byMetric.values()) {
            group.stream().sorted(Comparator.comparingDouble(Estimated::value).reversed()).limit(perMetric)
                    .forEach(kept::add);
        }
        return rows.stream().filter(kept::contains).toList();
    }

    List<Artifact> images() {
        return artifacts(IMAGE_EXTENSIONS, true);
    }

    List<Artifact> pages() {
        return artifacts(PAGE_EXTENSIONS, true);
    }

    /** Artifacts that are neither images nor pages. */
    List<Artifact> otherFiles() {
        Set<String> known = new HashSet<>(IMAGE_EXTENSIONS);
        known.addAll(PAGE_EXTENSIONS);
        return artifacts(known, false);
    }

    private List<Artifact> artifacts(Set<String> extensions, boolean include) {
        List<Artifact> artifacts = new ArrayList<>();
        for (String path : results.artifacts()) {
            int dot = path.lastIndexOf('.');
            String extension = dot < 0 ? "" : path.substring(dot + 1).toLowerCase(Locale.ROOT);
            if (extensions.contains(extension) == include) {
                artifacts.add(new Artifact(path, workspace.codeDir().resolve(path).normalize()));
            }
        }
        return artifacts;
    }

    List<Row> checkRows() {
        List<Row> rows = new ArrayList<>();
        rows.add(new Row(results.primaryMetric() + " (mean, 95% CI)",
                Format.estimate(results.mean(), results.ci95()), false));
        rows.add(new Row("Shuffled control (mean)", Format.number(results.shuffledControlMean()), false));
        rows.add(new Row("Random baseline", Format.number(results.randomBaseline()), false));
        rows.add(new Row("Noise floor", Format.number(results.noiseFloor()), false));
        rows.add(new Row("Effect size (Cohen's d)", Format.number(results.effectSize()), false));
        rows.add(new Row("Sample", sampleSize(), false));
        return rows;
    }

    /** Compares the controls with the primary interval, in the sentences under the check table. */
    List<String> checkNotes() {
        List<String> notes = new ArrayList<>();
        double[] interval = results.ci95();
        Double mean = results.mean();
        Double control = results.shuffledControlMean();
        Double baseline = results.randomBaseline();
        if (control == null && baseline == null) {
            notes.add("The results file reports neither a shuffled control nor a random baseline; the plugin's"
                    + " rule needs one of them before a finding counts as a result.");
        }

        if (interval != null) {
            if (control != null) {
                notes.add(compare(interval, control, "the shuffled control"));
            }
            if (baseline != null) {
                notes.add(compare(interval, baseline, "the random baseline"));
            }
        }

        Double noise = results.noiseFloor();
        if (noise != null && mean != null && control != null) {
            double difference = Math.abs(mean - control);
            if (noise == 0.0) {
                notes.add("The noise floor is 0: the seeds agree exactly, so it bounds nothing here; the interval"
                        + " carries the uncertainty.");
            } else if (difference <= noise) {
                notes.add("The distance from the shuffled control, " + Format.number(difference)
                        + ", is within the noise floor " + Format.number(noise) + ".");
            } else {
                notes.add("The distance from the shuffled control, " + Format.number(difference) + ", is "
                        + Format.number(difference / noise) + " times the noise floor " + Format.number(noise) + ".");
            }
        }

        Double effect = results.effectSize();
        if (effect != null) {
            notes.add("Cohen's d = " + Format.number(effect) + ", " + cohenLabel(effect) + " by Cohen's (1988)"
                    + " conventions (0.2 small, 0.5 medium, 0.8 large).");
        }
        return notes;
    }

    private String compare(double[] interval, double reference, String name) {
        String metric = results.primaryMetric();
        if (interval[0] > reference) {
            return "The 95% interval of " + metric + " lies above " + name + " (" + Format.number(reference) + ").";
        }
        if (interval[1] < reference) {
            return "The 95% interval of " + metric + " lies below " + name + " (" + Format.number(reference) + ").";
        }
        return "The 95% interval of " + metric + " includes " + name + " (" + Format.number(reference)
                + "): this probe cannot tell the effect from it.";
    }

    private static String cohenLabel(double effect) {
        double magnitude = Math.abs(effect);
        if (magnitude < 0.2) {
            return "a negligible effect";
        }
        if (magnitude < 0.5) {
            return "a small effect";
        }
        return magnitude < 0.8 ? "a medium effect" : "a large effect";
    }

    /** Returns the plugin's rule for a result and whether this probe meets it. */
    String statusRule() {
        int seeds = results.seeds().size();
        boolean meets = results.nExamples() >= RESULT_MIN_EXAMPLES && seeds >= RESULT_MIN_SEEDS;
        String rule = "The plugin's rule: a result needs at least " + RESULT_MIN_EXAMPLES + " examples per seed"
                + " and at least " + RESULT_MIN_SEEDS + " seeds, with an effect size, a noise floor and a control;"
                + " anything less is a hypothesis. This probe has " + results.nExamples() + " examples × " + seeds
                + (seeds == 1 ? " seed" : " seeds");
        if ("result".equals(results.status())) {
            return rule + ", so it counts as a result.";
        }
        if (meets) {
            return rule + ", enough for a result, but the results file marks it exploratory.";
        }
        return rule + ": treat it as a hypothesis and rerun with --n-examples " + RESULT_MIN_EXAMPLES
                + " --seeds 0,1,2 or more before calling it a result.";
    }

    List<String> alternatives() {
        return results.alternatives();
    }

    NextProbe.Suggestion next() {
        return next;
    }

    private static String orMissing(String value) {
        return value == null || value.isBlank() ? Format.MISSING : value;
    }
}
