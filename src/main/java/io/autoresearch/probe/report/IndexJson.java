package io.autoresearch.probe.report;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.autoresearch.probe.results.ResultsProblem;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Builds {@code code/results/probe/index.json}, the collation of every valid results file.
 *
 * <pre>
 * {
 *   "index_version": "1",
 *   "slug": "induction-demo",
 *   "tool_version": "0.1.0",
 *   "paths_relative_to": "code/",
 *   "probes": [
 *     {"probe_id", "intervention", "status", "model_id", "metric", "primary_metric", "mean", "ci_95",
 *      "n_examples", "seeds", "results", "artifacts", "report", "run_id", "created_at"}
 *   ],
 *   "invalid": [
 *     {"results": "results/probe/bad.json", "problems": [{"path", "rule", "message"}]}
 *   ]
 * }
 * </pre>
 *
 * Probes are sorted by probe_id. Every path is relative to the research project's code/
 * folder, like the results files' artifacts, so the report is {@code ../06_RUNS/attention/<probe_id>.md}.
 * {@code mean} and {@code ci_95} are null when the results file leaves them out. Invalid
 * files are listed with their problems and never among the probes. The file contains no time
 * stamp, so rerunning the report on the same results gives the same bytes.
 */
final class IndexJson {
    static final String INDEX_VERSION = "1";

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /** One collated probe: its results and the path of its report relative to code/. */
    record Entry(ProbeResults results, String reportPath) {
    }

    private IndexJson() {
    }

    static byte[] render(String slug, String toolVersion, List<Entry> probes,
            List<ReportOutcome.InvalidResults> invalid) {
        ObjectNode root = JSON.createObjectNode();
        root.put("index_version", INDEX_VERSION);
        root.put("slug", slug);
        root.put("tool_version", toolVersion);
        root.put("paths_relative_to", "code/");
        ArrayNode probeArray = root.putArray("probes");
        for (Entry entry : probes) {
            ProbeResults results = entry.results();
            JsonNode document = results.document();
            ObjectNode probe = probeArray.addObject();
            probe.put("probe_id", results.probeId());
            probe.put("intervention", results.intervention());
            probe.put("status", results.status());
            probe.put("model_id", results.modelId());
            probe.put("metric", results.metric());
            probe.put("primary_metric", results.primaryMetric());
            probe.set("mean", copyOrNull(document.get("mean")));
            probe.set("ci_95", copyOrNull(document.get("ci_95")));
            probe.put("n_examples", results.nExamples());
            probe.set("seeds", document.get("seeds").deepCopy());
            probe.put("results", results.relativePath());
            ArrayNode artifacts = probe.putArray("artifacts");
            results.artifacts().forEach(artifacts::add);
            probe.put("report", entry.reportPath());
            probe.put("run_id", results.provenance("run_id"));
            probe.put("created_at", results.provenance("created_at"));
        }
        ArrayNode invalidArray = root.putArray("invalid");
        for (ReportOutcome.InvalidResults file : invalid) {
            ObjectNode item = invalidArray.addObject();
            item.put("results", file.relativePath());
            ArrayNode problems = item.putArray("problems");
            for (ResultsProblem problem : file.problems()) {
                problems.addObject().put("path", problem.path()).put("rule", problem.rule())
                        .put("message", problem.message());
            }
        }
        try {
            return (JSON.writeValueAsString(root) + "\n").getBytes(StandardCharsets.UTF_8);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a tree of JSON nodes always serialises", e);
        }
    }

    private static JsonNode copyOrNull(JsonNode node) {
        return node == null ? JSON.nullNode() : node.deepCopy();
    }
}
