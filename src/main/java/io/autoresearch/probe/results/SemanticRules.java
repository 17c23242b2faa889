package io.autoresearch.probe.results;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The checks that JSON Schema cannot express. Each check skips values of the wrong type,
 * because the schema already reports those.
 */
final class SemanticRules {
    /** Absolute slack for interval comparisons, so that rounding in the last bits is not reported. */
    static final double TOLERANCE = 1e-9;

    static final int RESULT_MIN_EXAMPLES = 64;
    static final int RESULT_MIN_SEEDS = 3;

    private final Path codeDir;
    private final List<ResultsProblem> problems = new ArrayList<>();

    private SemanticRules(Path codeDir) {
        this.codeDir = codeDir;
    }

    /**
     * Checks {@code document} and returns its problems in document order.
     *
     * @param codeDir the research project's {@code code/} folder, against which artifact paths
     *     are resolved
     */
    static List<ResultsProblem> check(JsonNode document, Path codeDir) {
        SemanticRules rules = new SemanticRules(codeDir);
        rules.checkFiniteNumbers(document, JsonPaths.ROOT);
        if (document.isObject()) {
            rules.checkPerLayer(document, JsonPaths.ROOT, document.get("layers"));
            rules.checkSecondaryMetrics(document);
            rules.checkPerSeed(document);
            rules.checkIntervalContains(document.get("ci_95"), document.get("mean"), JsonPaths.ROOT, "ci_95", "mean");
            rules.checkComponents(document);
            rules.checkResultEvidence(document);
            rules.checkExplanations(document);
            rules.checkArtifacts(document);
            rules.checkPrecisionCheck(document);
            rules.checkNnsightFields(document);
        }
        return rules.problems;
    }

    private void report(String path, String rule, String message) {
        problems.add(new ResultsProblem(path, rule, message));
    }

    private void checkFiniteNumbers(JsonNode node, String path) {
        if (node.isNumber() && !Double.isFinite(node.doubleValue())) {
            report(path, ResultsValidator.RULE_FINITE_NUMBER, node.asText() + " is not a finite number");
        } else if (node.isArray()) {
            for (int i = 0; i < node.size(); i++) {
                checkFiniteNumbers(node.get(i), JsonPaths.index(path, i));
            }
        } else if (node.isObject()) {
            for (Iterator<Map.Entry<String, JsonNode>> fields = node.fields(); fields.hasNext(); ) {
                Map.Entry<String, JsonNode> field = fields.next();
                checkFiniteNumbers(field.getValue(), JsonPaths.property(path, field.getKey()));
            }
        }
    }

    /**
     * Checks that {@code values_per_layer} and {@code ci_per_layer} of {@code owner} have one
     * entry per layer, that each interval is ordered and that each value lies in its interval.
     */
    private void checkPerLayer(JsonNode owner, String ownerPath, JsonNode layers) {
        JsonNode values = owner.get("values_per_layer");
        JsonNode intervals = owner.get("ci_per_layer");
        String valuesPath = JsonPaths.property(ownerPath, "values_per_layer");
        String intervalsPath = JsonPaths.property(ownerPath, "ci_per_layer");
        if (layers != null && layers.isArray()) {
            checkLength(values, valuesPath, layers.size(), "$.layers");
            checkLength(intervals, intervalsPath, layers.size(), "$.layers");
        }
        if (intervals == null || !intervals.isArray()) {
            return;
        }
        for (int i = 0; i < intervals.size(); i++) {
            JsonNode value = values != null && values.isArray() && i < values.size() ? values.get(i) : null;
            checkIntervalContains(intervals.get(i), value, intervalsPath, "[" + i + "]",
                    "values_per_layer[" + i + "]");
        }
    }

    private void checkLength(JsonNode array, String path, int expected, String expectedFrom) {
        if (array != null && array.isArray() && array.size() != expected) {
            report(path, ResultsValidator.RULE_LENGTH, "has " + array.size() + " entries but " + expectedFrom
                    + " has " + expected + "; there must be one entry per element of " + expectedFrom);
        }
    }

    private void checkSecondaryMetrics(JsonNode document) {
        JsonNode secondary = document.get("secondary_metrics");
        if (secondary == null || !secondary.isObject()) {
            return;
        }
        String secondaryPath = JsonPaths.property(JsonPaths.ROOT, "secondary_metrics");
        for (Iterator<Map.Entry<String, JsonNode>> fields = secondary.fields(); fields.hasNext(); ) {
            Map.Entry<String, JsonNode> metric = fields.next();
            if (!metric.getValue().isObject()) {
                continue;
            }
            // Secondary metrics have no layers of their own; they use the top-level ones.
            checkPerLayer(metric.getValue(), JsonPaths.property(secondaryPath, metric.getKey()), document.get("layers"));
        }
    }

    private void checkPerSeed(JsonNode document) {
        JsonNode seeds = document.get("seeds");
        if (seeds != null && seeds.isArray()) {
            checkLength(document.get("values_per_seed"), JsonPaths.property(JsonPaths.ROOT, "values_per_seed"),
                    seeds.size(), "$.seeds");
        }
    }

    private void checkComponents(JsonNode document) {
        JsonNode components = document.get("components");
        if (components == null || !components.isArray()) {
            return;
        }
        String componentsPath = JsonPaths.property(JsonPaths.ROOT, "components");
        for (int i = 0; i < components.size(); i++) {
            JsonNode component = components.get(i);
            if (component.isObject()) {
                checkIntervalContains(component.get("ci_95"), component.get("value"),
                        JsonPaths.index(componentsPath, i), "ci_95", "value");
            }
        }
    }

    /**
     * Checks that {@code interval} is an ordered [lo, hi] pair and, when {@code value} is a
     * number, that lo <= value <= hi.
     *
     * @param parentPath path of the object or array holding the interval
     * @param intervalName the interval's property name, or {@code [i]} for an array element
     */
    private void checkIntervalContains(
            JsonNode interval, JsonNode value, String parentPath, String intervalName, String valueName) {
        if (interval == null || !interval.isArray() || interval.size() != 2
                || !interval.get(0).isNumber() || !interval.get(1).isNumber()) {
            return;
        }
        String path = intervalName.startsWith("[")
                ? parentPath + intervalName
                : JsonPaths.property(parentPath, intervalName);
        double lo = interval.get(0).doubleValue();
        double hi = interval.get(1).doubleValue();
        if (!Double.isFinite(lo) || !Double.isFinite(hi)) {
            return;
        }
        if (lo > hi + TOLERANCE) {
            report(path, ResultsValidator.RULE_INTERVAL_ORDER,
                    "lower bound " + lo + " is greater than upper bound " + hi + "; write intervals as [lo, hi]");
            return;
        }
        if (value == null || !value.isNumber() || !Double.isFinite(value.doubleValue())) {
            return;
        }
        double number = value.doubleValue();
        if (number < lo - TOLERANCE || number > hi + TOLERANCE) {
            report(path, ResultsValidator.RULE_VALUE_IN_INTERVAL,
                    valueName + " = " + number + " lies outside its interval [" + lo + ", " + hi + "]");
        }
    }

    private void checkResultEvidence(JsonNode document) {
        JsonNode status = document.get("status");
        if (status == null || !"result".equals(status.asText())) {
            return;
        }
        JsonNode examples = document.get("n_examples");
        if (examples != null && examples.isIntegralNumber() && examples.asLong() < RESULT_MIN_EXAMPLES) {
            report(JsonPaths.property(JsonPaths.ROOT, "n_examples"), ResultsValidator.RULE_RESULT_EVIDENCE,
                    "status \"result\" needs at least " + RESULT_MIN_EXAMPLES + " examples per seed, but n_examples is "
                            + examples.asLong() + "; collect more examples or set status to \"exploratory\"");
        }
        JsonNode seeds = document.get("seeds");
        if (seeds != null && seeds.isArray() && seeds.size() < RESULT_MIN_SEEDS) {
            report(JsonPaths.property(JsonPaths.ROOT, "seeds"), ResultsValidator.RULE_RESULT_EVIDENCE,
                    "status \"result\" needs at least " + RESULT_MIN_SEEDS + " seeds, but seeds has " + seeds.size()
                            + "; run more seeds or set status to \"exploratory\"");
        }
        // The plugin's rule also requires an effect size, a noise floor and a control for a result.
        for (String field : List.of("effect_size", "noise_floor")) {
            if (!document.hasNonNull(field)) {
                report(JsonPaths.property(JsonPaths.ROOT, field), ResultsValidator.RULE_RESULT_EVIDENCE,
                        "status \"result\" needs " + field + ", but it is missing; compute it or set status to"
                                + " \"exploratory\"");
            }
        }
        if (!document.hasNonNull("shuffled_control_mean") && !document.hasNonNull("random_baseline")) {
            report(JsonPaths.ROOT, ResultsValidator.RULE_RESULT_EVIDENCE, "status \"result\" needs a control:"
                    + " shuffled_control_mean or random_baseline, but neither is present; add one or set status to"
                    + " \"exploratory\"");
        }
        // Attribution patching is a linear estimate of the patching effects, not a measurement of them.
        if ("attribution".equals(document.path("method").asText())) {
            report(JsonPaths.property(JsonPaths.ROOT, "method"), ResultsValidator.RULE_RESULT_EVIDENCE,
                    "status \"result\" needs measured effects, but method is \"attribution\", a linear estimate;"
                            + " confirm the top sites with exact patching or set status to \"exploratory\"");
        }
    }

    /**
     * Checks that the alternative explanations are non-blank and distinct. Two entries that
     * differ only in case or whitespace count as the same explanation.
     */
    private void checkExplanations(JsonNode document) {
        JsonNode explanations = document.get("alternative_explanations_not_ruled_out");
        if (explanations == null || !explanations.isArray()) {
            return;
        }
        String listPath = JsonPaths.property(JsonPaths.ROOT, "alternative_explanations_not_ruled_out");
        Map<String, Integer> firstIndexByText = new HashMap<>();
        for (int i = 0; i < explanations.size(); i++) {
            JsonNode explanation = explanations.get(i);
            if (!explanation.isTextual()) {
                continue;
            }
            String path = JsonPaths.index(listPath, i);
            String normalized = explanation.asText().strip().replaceAll("\\s+", " ").toLowerCase(Locale.ROOT);
            if (normalized.isEmpty()) {
                report(path, ResultsValidator.RULE_DISTINCT_EXPLANATIONS, "explanation is blank");
                continue;
            }
            Integer first = firstIndexByText.putIfAbsent(normalized, i);
            if (first != null) {
                report(path, ResultsValidator.RULE_DISTINCT_EXPLANATIONS,
                        "repeats explanation [" + first + "] (\"" + explanations.get(first).asText()
                                + "\"); list distinct explanations");
            }
        }
    }

    /**
     * Checks that the precision check agrees with itself and with the run: the verdict equals
     * max_abs_diff <= tolerance, the mean difference is not above the largest, and the checked
     * dtype is the run's dtype and not float32, the reference it is compared with.
     */
    private void checkPrecisionCheck(JsonNode document) {
        JsonNode check = document.get("precision_check");
        if (check == null || !check.isObject()) {
            return;
        }
        String checkPath = JsonPaths.property(JsonPaths.ROOT, "precision_check");
        String rule = ResultsValidator.RULE_PRECISION_CHECK;
        JsonNode max = check.get("max_abs_diff");
        JsonNode mean = check.get("mean_abs_diff");
        JsonNode tolerance = check.get("tolerance");
        JsonNode verdict = check.get("within_tolerance");

        // Negative differences and a tolerance that is not positive are schema problems; comparing them
        // here would only repeat those.
        if (isNonNegative(max) && isNonNegative(tolerance) && tolerance.doubleValue() > 0 && verdict != null
                && verdict.isBoolean()) {
            boolean within = max.doubleValue() <= tolerance.doubleValue();
            if (verdict.booleanValue() != within) {
                report(JsonPaths.property(checkPath, "within_tolerance"), rule, "within_tolerance is "
                        + verdict.booleanValue() + ", but max_abs_diff " + max.doubleValue() + (within ? " <= " : " > ")
                        + "tolerance " + tolerance.doubleValue() + "; set it to " + within);
            }
        }

        if (isNonNegative(max) && isNonNegative(mean) && mean.doubleValue() > max.doubleValue() + TOLERANCE) {
            report(JsonPaths.property(checkPath, "mean_abs_diff"), rule, "mean_abs_diff " + mean.doubleValue()
                    + " is larger than max_abs_diff " + max.doubleValue() + ", which a mean cannot be");
        }

        JsonNode dtype = check.get("dtype");
        if (dtype == null || !dtype.isTextual()) {
            return;
        }
        String dtypePath = JsonPaths.property(checkPath, "dtype");
        if (dtype.asText().equals("float32")) {
            report(dtypePath, rule, "dtype is \"float32\", the reference dtype itself; a precision check compares"
                    + " a bfloat16 or float16 run with float32");
        }
        JsonNode runDtype = document.path("provenance").get("dtype");
        if (runDtype != null && runDtype.isTextual() && !runDtype.asText().equals(dtype.asText())) {
            report(dtypePath, rule, "dtype is \"" + dtype.asText() + "\", but the run's provenance.dtype is \""
                    + runDtype.asText() + "\"; the check must name the dtype the probe ran in");
        }
    }

    /**
     * Checks that the fields only an nnsight run can write are absent when backend is
     * "transformer_lens" or missing (a file without backend ran on transformer_lens):
     * precision_check, provenance.remote true, a non-null provenance.device_map and
     * provenance.module_paths.
     */
    private void checkNnsightFields(JsonNode document) {
        JsonNode backend = document.get("backend");
        if (backend != null && !"transformer_lens".equals(backend.asText(null))) {
            // nnsight may write these fields, and any other value is a schema problem.
            return;
        }
        String provenancePath = JsonPaths.property(JsonPaths.ROOT, "provenance");
        JsonNode provenance = document.path("provenance");
        List<String> fields = new ArrayList<>();
        if (document.has("precision_check")) {
            fields.add(JsonPaths.property(JsonPaths.ROOT, "precision_check"));
        }
        if (provenance.path("remote").isBoolean() && provenance.get("remote").booleanValue()) {
            fields.add(JsonPaths.property(provenancePath, "remote"));
        }
        if (provenance.has("device_map") && !provenance.get("device_map").isNull()) {
            fields.add(JsonPaths.property(provenancePath, "device_map"));
        }
        if (provenance.has("module_paths")) {
            fields.add(JsonPaths.property(provenancePath, "module_paths"));
        }
        for (String path : fields) {
            report(path, ResultsValidator.RULE_NNSIGHT_ONLY, "only an nnsight run writes this field, but backend is"
                    + (backend == null ? " missing, so the file ran on transformer_lens" : " \"transformer_lens\"")
                    + "; remove the field or set backend to \"nnsight\"");
        }
    }

    private static boolean isNonNegative(JsonNode node) {
        return node != null && node.isNumber() && Double.isFinite(node.doubleValue()) && node.doubleValue() >= 0;
    }

    private void checkArtifacts(JsonNode document) {
        JsonNode artifacts = document.get("artifacts");
        if (artifacts == null || !artifacts.isArray()) {
            return;
        }
        String listPath = JsonPaths.property(JsonPaths.ROOT, "artifacts");
        for (int i = 0; i < artifacts.size(); i++) {
            if (artifacts.get(i).isTextual()) {
                checkArtifact(artifacts.get(i).asText(), JsonPaths.index(listPath, i));
            }
        }
    }

    /** Checks that an artifact path is relative, exists, and stays inside code/ even after symbolic links. */
    private void checkArtifact(String artifact, String path) {
        String rule = ResultsValidator.RULE_ARTIFACT_PATH;
        if (artifact.startsWith("/") || artifact.startsWith("\\") || artifact.matches("^[A-Za-z]:.*")) {
            report(path, rule, "\"" + artifact + "\" is absolute; give the path relative to the code/ folder");
            return;
        }
        for (String segment : artifact.split("[/\\\\]")) {
            if (segment.equals("..")) {
                report(path, rule, "\"" + artifact + "\" contains \"..\"; give a path inside the code/ folder");
                return;
            }
        }
        Path resolved;
        try {
            resolved = codeDir.resolve(artifact).normalize();
        } catch (InvalidPathException e) {
            report(path, rule, "\"" + artifact + "\" is not a valid path: " + e.getReason());
            return;
        }
        if (!Files.exists(resolved)) {
            report(path, rule, "\"" + artifact + "\" not found in " + codeDir);
            return;
        }
        try {
            Path realCodeDir = codeDir.toRealPath();
            Path realArtifact = resolved.toRealPath();
            if (!realArtifact.startsWith(realCodeDir)) {
                report(path, rule, "\"" + artifact + "\" resolves to " + realArtifact
                        + " through a symbolic link, outside the code/ folder " + realCodeDir);
            }
        } catch (IOException e) {
            report(path, rule, "\"" + artifact + "\" could not be resolved: " + e.getMessage());
        }
    }
}
