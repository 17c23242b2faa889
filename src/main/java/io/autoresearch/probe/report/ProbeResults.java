package io.autoresearch.probe.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One results file that passed validation, read for the report. The validator has already
 * checked the required fields and their types, so the accessors only handle the optional
 * fields, which return null (or an empty list) when the file leaves them out.
 *
 * @param file the results file
 * @param relativePath its path relative to code/, with {@code /} separators
 * @param document the parsed JSON
 */
public record ProbeResults(Path file, String relativePath, JsonNode document) {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** A value with an optional 95% interval, such as one component or one layer. */
    public record Estimate(String name, double value, double[] interval) {
    }

    /** The per-layer values of one metric, with their intervals (null entries when missing). */
    public record PerLayer(List<Double> values, List<double[]> intervals) {
    }

    /** Reads a results file that the validator accepted. */
    public static ProbeResults read(Path file, String relativePath) {
        try {
            return new ProbeResults(file, relativePath, JSON.readTree(file.toFile()));
        } catch (IOException e) {
            throw new UncheckedIOException("could not read " + file, e);
        }
    }

    public String probeId() {
        return text("probe_id");
    }

    public String intervention() {
        return text("intervention");
    }

    public String status() {
        return text("status");
    }

    public String modelId() {
        return text("model_id");
    }

    public String metric() {
        return text("metric");
    }

    /** Returns the metric of mean and ci_95: {@code primary_metric}, else {@code metric}. */
    public String primaryMetric() {
        String primary = text("primary_metric");
        return primary == null || primary.isBlank() ? metric() : primary;
    }

    /** Returns the file's hypothesis, or null when it is missing or blank. */
    public String hypothesis() {
        String hypothesis = text("hypothesis");
        return hypothesis == null || hypothesis.isBlank() ? null : hypothesis.strip();
    }

    public int nExamples() {
        return document.path("n_examples").asInt();
    }

    public List<Integer> seeds() {
        List<Integer> seeds = new ArrayList<>();
        document.path("seeds").forEach(seed -> seeds.add(seed.asInt()));
        return seeds;
    }

    public List<Integer> layers() {
        List<Integer> layers = new ArrayList<>();
        document.path("layers").forEach(layer -> layers.add(layer.asInt()));
        return layers;
    }

    /** Returns the primary per-layer metric: values_per_layer and ci_per_layer. */
    public PerLayer perLayer() {
        return perLayer(document);
    }

    /** Returns the secondary per-layer metrics by name, in file order. */
    public Map<String, PerLayer> secondaryMetrics() {
        Map<String, PerLayer> metrics = new LinkedHashMap<>();
        JsonNode secondary = document.path("secondary_metrics");
        for (Iterator<Map.Entry<String, JsonNode>> fields = secondary.fields(); fields.hasNext(); ) {
            Map.Entry<String, JsonNode> field = fields.next();
            metrics.put(field.getKey(), perLayer(field.getValue()));
        }
        return metrics;
    }

    private static PerLayer perLayer(JsonNode owner) {
        List<Double> values = new ArrayList<>();
        owner.path("values_per_layer").forEach(value -> values.add(value.asDouble()));
        List<double[]> intervals = new ArrayList<>();
        owner.path("ci_per_layer").forEach(interval -> intervals.add(interval(interval)));
        return new PerLayer(values, intervals);
    }

    public Double mean() {
        return number("mean");
    }

    public double[] ci95() {
        return interval(document.get("ci_95"));
    }

    public Double shuffledControlMean() {
        return number("shuffled_control_mean");
    }

    public Double randomBaseline() {
        return number("random_baseline");
    }

    public Double noiseFloor() {
        return number("noise_floor");
    }

    public Double effectSize() {
        return number("effect_size");
    }

    public String layerSemantics() {
        return text("layer_semantics");
    }

    public String ciMethod() {
        return text("ci_method");
    }

    /** Returns the components (heads, paths or features) in file order. */
    public List<Estimate> components() {
        List<Estimate> components = new ArrayList<>();
        for (JsonNode component : document.path("components")) {
            components.add(new Estimate(component.path("name").asText(), component.path("value").asDouble(),
                    interval(component.get("ci_95"))));
        }
        return components;
    }

    public List<String> alternatives() {
        return texts(document.path("alternative_explanations_not_ruled_out"));
    }

    /** Returns the artifact paths, relative to code/. */
    public List<String> artifacts() {
        return texts(document.path("artifacts"));
    }

    /** Returns a provenance field as text, or null when it is missing. */
    public String provenance(String field) {
        JsonNode value = document.path("provenance").get(field);
        return value == null || value.isNull() ? null : value.asText();
    }

    /** Returns the provenance's package versions in file order. */
    public Map<String, String> packageVersions() {
        Map<String, String> versions = new LinkedHashMap<>();
        JsonNode packages = document.path("provenance").path("package_versions");
        for (Iterator<Map.Entry<String, JsonNode>> fields = packages.fields(); fields.hasNext(); ) {
            Map.Entry<String, JsonNode> field = fields.next();
            versions.put(field.getKey(), field.getValue().asText());
        }
        return versions;
    }

    /** Returns a top-level field as text, or null when it is missing or not a string. */
    public String text(String field) {
        JsonNode value = document.get(field);
        return value != null && value.isTextual() ? value.asText() : null;
    }

    /** Returns a top-level number, or null when it is missing or not a number. */
    public Double number(String field) {
        return number(document.get(field));
    }

    static Double number(JsonNode value) {
        return value != null && value.isNumber() ? value.doubleValue() : null;
    }

    /** Returns a {@code [lo, hi]} pair, or null when {@code node} is not one. */
    static double[] interval(JsonNode node) {
        if (node == null || !node.isArray() || node.size() != 2 || !node.get(0).isNumber()
                || !node.get(1).isNumber()) {
            return null;
        }
        return new double[] {node.get(0).doubleValue(), node.get(1).doubleValue()};
    }

    private static List<String> texts(JsonNode array) {
        List<String> texts = new ArrayList<>();
        array.forEach(item -> {
            if (item.isTextual()) {
                texts.add(item.asText());
            }
        });
        return texts;
    }
}
