package io.autoresearch.probe.results;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ResultsValidatorTest {
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final ResultsValidator VALIDATOR = new ResultsValidator();

    @TempDir
    Path tempDir;

    private Path codeDir;

    @BeforeEach
    void createCodeDir() throws IOException {
        codeDir = Files.createDirectories(tempDir.resolve("code"));
        Files.createDirectories(codeDir.resolve("results/probe"));
        Files.createDirectories(codeDir.resolve("results/plots"));
        Files.writeString(codeDir.resolve("results/plots/lens.png"), "png");
    }

    /** Builds a results document that passes every rule, for each test to break in one place. */
    static ObjectNode validDocument() {
        ObjectNode document = MAPPER.createObjectNode();
        document.put("schema_version", "1");
        document.put("probe_id", "logit_lens_demo");
        document.put("intervention", "logit_lens");
        document.put("model_id", "models/induction-demo-model");
        document.put("status", "result");
        document.put("hypothesis", "The correct token becomes top-ranked in layer 1.");
        document.put("n_examples", 64);
        document.putArray("seeds").add(0).add(1).add(2);
        document.putArray("layers").add(0).add(1).add(2);
        document.put("metric", "rank_of_correct_token");

        document.putArray("values_per_layer").add(12.5).add(3.25).add(1.0);
        ArrayNode intervals = document.putArray("ci_per_layer");
        intervals.addArray().add(11.0).add(14.0);
        intervals.addArray().add(3.0).add(3.5);
        intervals.addArray().add(1.0).add(1.0);

        document.put("primary_metric", "rank_of_correct_token");
        document.putArray("values_per_seed").add(1.0).add(1.1).add(0.9);
        document.put("mean", 1.0);
        document.putArray("ci_95").add(0.9).add(1.1);
        document.put("shuffled_control_mean", 97.0);
        document.put("random_baseline", 102.5);
        document.put("noise_floor", 0.1);
        document.put("effect_size", 2.5);
        document.putArray("alternative_explanations_not_ruled_out")
                .add("The prompts share surface statistics that a bigram model also exploits.")
                .add("The final layer norm alone could sharpen the distribution.");
        document.putArray("artifacts").add("results/plots/lens.png");

        ObjectNode provenance = document.putObject("provenance");
        provenance.put("created_at", "2026-12-04T19:00:00Z");
        provenance.put("run_id", "20261204-190000-abcdef0-123abc");
        provenance.put("script", "analysis/logit_lens_20261204.py");
        provenance.put("script_sha256", "a".repeat(64));
        provenance.putObject("package_versions").put("transformer-lens", "3.5.1");
        provenance.put("model_id", "models/induction-demo-model");
        provenance.put("weights_sha256", "b".repeat(64));
        provenance.put("dtype", "float32");
        provenance.put("device", "cpu");
        provenance.put("duration_s", 3.5);
        return document;
    }

    private Path write(ObjectNode document) throws IOException {
        return writeText(MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(document));
    }

    private Path writeText(String text) throws IOException {
        Path file = codeDir.resolve("results/probe/logit_lens_demo.json");
        Files.writeString(file, text, StandardCharsets.UTF_8);
        return file;
    }

    private List<ResultsProblem> validate(ObjectNode document) throws IOException {
        return VALIDATOR.validate(write(document), codeDir);
    }

    private static void assertSingleProblem(List<ResultsProblem> problems, String path, String rule) {
        assertEquals(1, problems.size(), "problems: " + problems);
        assertEquals(path, problems.get(0).path(), "problems: " + problems);
        assertEquals(rule, problems.get(0).rule(), "problems: " + problems);
    }

    /** Builds a valid results document of a bfloat16 nnsight run with every nnsight-only field. */
    static ObjectNode nnsightDocument() {
        ObjectNode document = validDocument();
        document.put("backend", "nnsight");
        ObjectNode provenance = (ObjectNode) document.get("provenance");
        provenance.put("dtype", "bfloat16");
        provenance.put("remote", false);
        provenance.put("device_map", "balanced_low_0");
        ObjectNode modulePaths = provenance.putObject("module_paths");
        modulePaths.put("blocks", "model.layers");
        modulePaths.put("final_norm", "model.norm");
        modulePaths.put("unembed", "lm_head");
        ObjectNode check = document.putObject("precision_check");
        check.put("dtype", "bfloat16");
        check.put("reference_dtype", "float32");
        check.put("n_examples", 8);
        check.put("metric", "rank_of_correct_token");
        check.put("max_abs_diff", 1.0);
        check.put("mean_abs_diff", 0.25);
        check.put("within_tolerance", true);
        check.put("tolerance", 1.0);
        return document;
    }

    private static ObjectNode precisionCheck(ObjectNode document) {
        return (ObjectNode) document.get("precision_check");
    }

    private static ObjectNode provenance(ObjectNode document) {
        return (ObjectNode) document.get("provenance");
    }

    @Test
    void nnsightFieldsAcceptedOnNnsight() throws IOException {
        assertEquals(List.of(), validate(nnsightDocument()));
    }

    @Test
    void verdictMustMatchTolerance() throws IOException {
        ObjectNode document = nnsightDocument();
        precisionCheck(document).put("max_abs_diff", 1.5);

        assertSingleProblem(validate(document), "$.precision_check.within_tolerance",
                ResultsValidator.RULE_PRECISION_CHECK);
    }

    @Test
    void falseVerdictWithinToleranceIsReported() throws IOException {
        ObjectNode document = nnsightDocument();
        precisionCheck(document).put("within_tolerance", false);

        assertSingleProblem(validate(document), "$.precision_check.within_tolerance",
                ResultsValidator.RULE_PRECISION_CHECK);
    }

    @Test
    void falseVerdictAboveToleranceIsValid() throws IOException {
        ObjectNode document = nnsightDocument();
        precisionCheck(document).put("max_abs_diff", 2.0);
        precisionCheck(document).put("within_tolerance", false);

        assertEquals(List.of(), validate(document));
    }

    @Test
    void meanAboveMaxIsReported() throws IOException {
        ObjectNode document = nnsightDocument();
        precisionCheck(document).put("mean_abs_diff", 1.01);

        assertSingleProblem(validate(document), "$.precision_check.mean_abs_diff",
                ResultsValidator.RULE_PRECISION_CHECK);
    }

    @Test
    void checkDtypeMustBeRunDtype() throws IOException {
        ObjectNode document = nnsightDocument();
        precisionCheck(document).put("dtype", "float16");

        List<ResultsProblem> problems = validate(document);

        assertSingleProblem(problems, "$.precision_check.dtype", ResultsValidator.RULE_PRECISION_CHECK);
        assertTrue(problems.get(0).message().contains("provenance.dtype is \"bfloat16\""), problems.toString());
    }

    @Test
    void float32CheckIsReported() throws IOException {
        ObjectNode document = nnsightDocument();
        precisionCheck(document).put("dtype", "float32");
        provenance(document).put("dtype", "float32");

        List<ResultsProblem> problems = validate(document);

        assertSingleProblem(problems, "$.precision_check.dtype", ResultsValidator.RULE_PRECISION_CHECK);
        assertTrue(problems.get(0).message().contains("the reference dtype itself"), problems.toString());
    }

    @Test
    void nnsightFieldsRejectedOnTransformerLens() throws IOException {
        List<String> paths = List.of("$.precision_check", "$.provenance.remote", "$.provenance.device_map",
                "$.provenance.module_paths");
        for (String backend : new String[] {"transformer_lens", null}) {
            ObjectNode document = nnsightDocument();
            provenance(document).put("remote", true);
            provenance(document).remove("device_map");
            provenance(document).put("device_map", "auto");
            if (backend == null) {
                document.remove("backend");
            } else {
                document.put("backend", backend);
            }

            List<ResultsProblem> problems = validate(document);

            assertEquals(paths, problems.stream().map(ResultsProblem::path).toList(), "backend " + backend);
            for (ResultsProblem problem : problems) {
                assertEquals(ResultsValidator.RULE_NNSIGHT_ONLY, problem.rule(), problems.toString());
            }
        }
    }

    @Test
    void transformerLensDefaultsAreValid() throws IOException {
        ObjectNode document = validDocument();
        document.put("backend", "transformer_lens");
        provenance(document).put("remote", false);
        provenance(document).putNull("device_map");

        assertEquals(List.of(), validate(document));
    }

    @Test
    void unknownDeviceMapIsRejected() throws IOException {
        ObjectNode document = nnsightDocument();
        provenance(document).put("device_map", "cuda:0");

        assertSingleProblem(validate(document), "$.provenance.device_map", "schema:enum");
    }

    @Test
    void unknownModuleRoleIsRejected() throws IOException {
        ObjectNode document = nnsightDocument();
        ((ObjectNode) provenance(document).get("module_paths")).put("embed", "model.embed_tokens");

        List<ResultsProblem> problems = validate(document);

        assertEquals(1, problems.size(), problems.toString());
        assertTrue(problems.get(0).path().startsWith("$.provenance.module_paths"), problems.toString());
        assertTrue(problems.get(0).rule().startsWith(ResultsValidator.SCHEMA_RULE_PREFIX), problems.toString());
    }

    @Test
    void emptyModulePathIsRejected() throws IOException {
        ObjectNode document = nnsightDocument();
        ((ObjectNode) provenance(document).get("module_paths")).put("mlp", "");

        assertSingleProblem(validate(document), "$.provenance.module_paths.mlp", "schema:minLength");
    }

    @Test
    void validateAcceptsValidFile() throws IOException {
        assertEquals(List.of(), validate(validDocument()));
    }

    @Test
    void validateAcceptsExploratoryWithFewExamples() throws IOException {
        ObjectNode document = validDocument();
        document.put("status", "exploratory");
        document.put("n_examples", 8);
        document.putArray("seeds").add(0);
        document.putArray("values_per_seed").add(1.0);

        assertEquals(List.of(), validate(document));
    }

    @Test
    void invalidJsonGivesOneProblem() throws IOException {
        Path file = writeText("{\"probe_id\": \"logit_lens_demo\",\n  \"layers\": [0, 1,\n");

        List<ResultsProblem> problems = VALIDATOR.validate(file, codeDir);

        assertSingleProblem(problems, "$", ResultsValidator.RULE_JSON_SYNTAX);
        assertTrue(problems.get(0).message().contains("line "), problems.get(0).message());
    }

    @Test
    void emptyFileGivesOneProblem() throws IOException {
        List<ResultsProblem> problems = VALIDATOR.validate(writeText(""), codeDir);

        assertSingleProblem(problems, "$", ResultsValidator.RULE_JSON_SYNTAX);
    }

    @Test
    void missingFileGivesOneProblem() {
        List<ResultsProblem> problems = VALIDATOR.validate(codeDir.resolve("results/probe/absent.json"), codeDir);

        assertSingleProblem(problems, "$", ResultsValidator.RULE_JSON_SYNTAX);
    }

    @Test
    void duplicateKeyGivesOneProblem() throws IOException {
        String text = MAPPER.writeValueAsString(validDocument()).replaceFirst("\\{", "{\"metric\": \"x\", ");

        List<ResultsProblem> problems = VALIDATOR.validate(writeText(text), codeDir);

        assertSingleProblem(problems, "$", ResultsValidator.RULE_JSON_SYNTAX);
        assertTrue(problems.get(0).message().contains("metric"), problems.get(0).message());
    }

    @Test
    void schemaReportsMissingRequiredField() throws IOException {
        ObjectNode document = validDocument();
        document.remove("metric");

        List<ResultsProblem> problems = validate(document);

        assertSingleProblem(problems, "$", "schema:required");
        assertTrue(problems.get(0).message().contains("metric"), problems.get(0).message());
    }

    @Test
    void schemaReportsWrongTypeWithPath() throws IOException {
        ObjectNode document = validDocument();
        ((ArrayNode) document.get("layers")).set(1, MAPPER.getNodeFactory().textNode("one"));

        List<ResultsProblem> problems = validate(document);

        assertSingleProblem(problems, "$.layers[1]", "schema:type");
    }

    @Test
    void schemaReportsBadRunIdPattern() throws IOException {
        ObjectNode document = validDocument();
        ((ObjectNode) document.get("provenance")).put("run_id", "2026-12-04");

        List<ResultsProblem> problems = validate(document);

        assertSingleProblem(problems, "$.provenance.run_id", "schema:pattern");
    }

    @Test
    void nanLiteralIsReportedWithPath() throws IOException {
        String text = MAPPER.writeValueAsString(validDocument())
                .replace("\"values_per_layer\":[12.5,3.25,1.0]", "\"values_per_layer\":[12.5,NaN,1.0]");
        assertTrue(text.contains("NaN"), "the fixture must contain NaN");

        List<ResultsProblem> problems = VALIDATOR.validate(writeText(text), codeDir);

        assertSingleProblem(problems, "$.values_per_layer[1]", ResultsValidator.RULE_FINITE_NUMBER);
    }

    @Test
    void infinityLiteralIsReportedWithPath() throws IOException {
        String text = MAPPER.writeValueAsString(validDocument())
                .replace("\"mean\":1.0", "\"mean\":-Infinity")
                .replace("\"duration_s\":3.5", "\"duration_s\":Infinity");

        List<ResultsProblem> problems = VALIDATOR.validate(writeText(text), codeDir);

        List<String> finiteProblemPaths = problems.stream()
                .filter(problem -> problem.rule().equals(ResultsValidator.RULE_FINITE_NUMBER))
                .map(ResultsProblem::path)
                .toList();
        assertEquals(List.of("$.mean", "$.provenance.duration_s"), finiteProblemPaths);
    }

    @Test
    void valuesPerLayerLengthMustMatchLayers() throws IOException {
        ObjectNode document = validDocument();
        ((ArrayNode) document.get("values_per_layer")).remove(2);

        List<ResultsProblem> problems = validate(document);

        assertSingleProblem(problems, "$.values_per_layer", ResultsValidator.RULE_LENGTH);
        assertTrue(problems.get(0).message().contains("has 2 entries but $.layers has 3"), problems.get(0).message());
    }

    @Test
    void ciPerLayerLengthMustMatchLayers() throws IOException {
        ObjectNode document = validDocument();
        ((ArrayNode) document.get("ci_per_layer")).addArray().add(0.0).add(1.0);

        List<ResultsProblem> problems = validate(document);

        assertSingleProblem(problems, "$.ci_per_layer", ResultsValidator.RULE_LENGTH);
    }

    @Test
    void valuesPerSeedLengthMustMatchSeeds() throws IOException {
        ObjectNode document = validDocument();
        ((ArrayNode) document.get("values_per_seed")).add(1.0);

        List<ResultsProblem> problems = validate(document);

        assertSingleProblem(problems, "$.values_per_seed", ResultsValidator.RULE_LENGTH);
    }

    @Test
    void intervalWithLoAboveHiIsReported() throws IOException {
        ObjectNode document = validDocument();
        ((ArrayNode) document.get("ci_per_layer")).set(2, MAPPER.createArrayNode().add(1.5).add(0.5));

        List<ResultsProblem> problems = validate(document);

        assertSingleProblem(problems, "$.ci_per_layer[2]", ResultsValidator.RULE_INTERVAL_ORDER);
    }

    @Test
    void intervalOrderAllowsRoundingSlack() throws IOException {
        ObjectNode document = validDocument();
        ((ArrayNode) document.get("ci_per_layer")).set(2, MAPPER.createArrayNode().add(1.0 + 1e-12).add(1.0));

        assertEquals(List.of(), validate(document));
    }

    @Test
    void valueOutsideLayerIntervalIsReported() throws IOException {
        ObjectNode document = validDocument();
        ((ArrayNode) document.get("values_per_layer")).set(1, MAPPER.getNodeFactory().numberNode(4.0));

        List<ResultsProblem> problems = validate(document);

        assertSingleProblem(problems, "$.ci_per_layer[1]", ResultsValidator.RULE_VALUE_IN_INTERVAL);
        assertTrue(problems.get(0).message().contains("values_per_layer[1] = 4.0"), problems.get(0).message());
    }

    @Test
    void meanOutsideCi95IsReported() throws IOException {
        ObjectNode document = validDocument();
        document.put("mean", 1.2);

        List<ResultsProblem> problems = validate(document);

        assertSingleProblem(problems, "$.ci_95", ResultsValidator.RULE_VALUE_IN_INTERVAL);
    }

    @Test
    void componentValueOutsideItsIntervalIsReported() throws IOException {
        ObjectNode document = validDocument();
        ObjectNode head = document.putArray("components").addObject();
        head.put("name", "L1H0");
        head.put("value", 0.2);
        head.putArray("ci_95").add(0.5).add(0.9);

        List<ResultsProblem> problems = validate(document);

        assertSingleProblem(problems, "$.components[0].ci_95", ResultsValidator.RULE_VALUE_IN_INTERVAL);
    }

    @Test
    void secondaryMetricLengthAndIntervalAreChecked() throws IOException {
        ObjectNode document = validDocument();
        ObjectNode entropy = document.putObject("secondary_metrics").putObject("entropy");
        entropy.putArray("values_per_layer").add(2.0).add(1.0);
        entropy.putArray("ci_per_layer").addArray().add(2.5).add(3.0);

        List<ResultsProblem> problems = validate(document);

        assertEquals(3, problems.size(), "problems: " + problems);
        assertEquals("$.secondary_metrics.entropy.values_per_layer", problems.get(0).path());
        assertEquals(ResultsValidator.RULE_LENGTH, problems.get(0).rule());
        assertEquals("$.secondary_metrics.entropy.ci_per_layer", problems.get(1).path());
        assertEquals(ResultsValidator.RULE_LENGTH, problems.get(1).rule());
        assertEquals("$.secondary_metrics.entropy.ci_per_layer[0]", problems.get(2).path());
        assertEquals(ResultsValidator.RULE_VALUE_IN_INTERVAL, problems.get(2).rule());
    }

    @Test
    void resultStatusNeedsSixtyFourExamples() throws IOException {
        ObjectNode document = validDocument();
        document.put("n_examples", 63);

        List<ResultsProblem> problems = validate(document);

        assertSingleProblem(problems, "$.n_examples", ResultsValidator.RULE_RESULT_EVIDENCE);
    }

    @Test
    void resultStatusNeedsThreeSeeds() throws IOException {
        ObjectNode document = validDocument();
        document.putArray("seeds").add(0).add(1);
        document.putArray("values_per_seed").add(1.0).add(1.0);

        List<ResultsProblem> problems = validate(document);

        assertSingleProblem(problems, "$.seeds", ResultsValidator.RULE_RESULT_EVIDENCE);
    }

    @Test
    void attributionEstimateIsNeverAResult() throws IOException {
        ObjectNode document = validDocument();
        document.put("method", "attribution");

        assertSingleProblem(validate(document), "$.method", ResultsValidator.RULE_RESULT_EVIDENCE);

        document.put("status", "exploratory");
        assertEquals(List.of(), validate(document));
    }

    @Test
    void explanationsDifferingOnlyInCaseAreDuplicates() throws IOException {
        ObjectNode document = validDocument();
        ((ArrayNode) document.get("alternative_explanations_not_ruled_out"))
                .add("  the FINAL layer norm alone could   sharpen the distribution. ");

        List<ResultsProblem> problems = validate(document);

        assertSingleProblem(problems, "$.alternative_explanations_not_ruled_out[2]",
                ResultsValidator.RULE_DISTINCT_EXPLANATIONS);
        assertTrue(problems.get(0).message().contains("repeats explanation [1]"), problems.get(0).message());
    }

    @Test
    void blankExplanationIsReported() throws IOException {
        ObjectNode document = validDocument();
        ((ArrayNode) document.get("alternative_explanations_not_ruled_out")).add(" \t ");

        List<ResultsProblem> problems = validate(document);

        boolean semantic = problems.stream().anyMatch(problem ->
                problem.path().equals("$.alternative_explanations_not_ruled_out[2]")
                        && problem.rule().equals(ResultsValidator.RULE_DISTINCT_EXPLANATIONS));
        assertTrue(semantic, "problems: " + problems);
    }

    @Test
    void absoluteArtifactPathIsReported() throws IOException {
        ObjectNode document = validDocument();
        ((ArrayNode) document.get("artifacts")).add(codeDir.resolve("results/plots/lens.png").toString());

        List<ResultsProblem> problems = validate(document);

        assertSingleProblem(problems, "$.artifacts[1]", ResultsValidator.RULE_ARTIFACT_PATH);
        assertTrue(problems.get(0).message().contains("is absolute"), problems.get(0).message());
    }

    @Test
    void parentSegmentInArtifactPathIsReported() throws IOException {
        Files.writeString(tempDir.resolve("outside.png"), "png");
        ObjectNode document = validDocument();
        ((ArrayNode) document.get("artifacts")).add("results/../../outside.png");

        List<ResultsProblem> problems = validate(document);

        assertSingleProblem(problems, "$.artifacts[1]", ResultsValidator.RULE_ARTIFACT_PATH);
        assertTrue(problems.get(0).message().contains("\"..\""), problems.get(0).message());
    }

    @Test
    void missingArtifactIsReported() throws IOException {
        ObjectNode document = validDocument();
        ((ArrayNode) document.get("artifacts")).add("results/plots/missing.html");

        List<ResultsProblem> problems = validate(document);

        assertSingleProblem(problems, "$.artifacts[1]", ResultsValidator.RULE_ARTIFACT_PATH);
        assertTrue(problems.get(0).message().contains("not found"), problems.get(0).message());
    }

    @Test
    void artifactSymlinkEscapingCodeFolderIsReported() throws IOException {
        Path outside = Files.writeString(tempDir.resolve("secret.txt"), "outside code/");
        Files.createSymbolicLink(codeDir.resolve("results/plots/link.txt"), outside);
        ObjectNode document = validDocument();
        ((ArrayNode) document.get("artifacts")).add("results/plots/link.txt");

        List<ResultsProblem> problems = validate(document);

        assertSingleProblem(problems, "$.artifacts[1]", ResultsValidator.RULE_ARTIFACT_PATH);
        assertTrue(problems.get(0).message().contains("symbolic link"), problems.get(0).message());
    }

    @Test
    void artifactSymlinkInsideCodeFolderIsAccepted() throws IOException {
        Files.createSymbolicLink(codeDir.resolve("results/latest.png"), codeDir.resolve("results/plots/lens.png"));
        ObjectNode document = validDocument();
        ((ArrayNode) document.get("artifacts")).add("results/latest.png");

        assertEquals(List.of(), validate(document));
    }

    @Test
    void probeIdMustMatchFileName() throws IOException {
        ObjectNode document = validDocument();
        document.put("probe_id", "other_probe");

        List<ResultsProblem> problems = validate(document);

        assertSingleProblem(problems, "$.probe_id", ResultsValidator.RULE_PROBE_ID_FILE_NAME);
    }

    @Test
    void problemToStringShowsPathMessageAndRule() {
        ResultsProblem problem = new ResultsProblem("$.seeds", "result-evidence", "needs 3 seeds");

        assertEquals("$.seeds: needs 3 seeds [result-evidence]", problem.toString());
    }

    @Test
    void resultWithoutEffectSizeOrControlIsReported() throws IOException {
        ObjectNode document = validDocument();
        document.remove("effect_size");
        document.remove("shuffled_control_mean");
        document.remove("random_baseline");

        List<ResultsProblem> problems = validate(document);

        assertEquals(2, problems.size(), problems.toString());
        assertEquals("$.effect_size", problems.get(0).path());
        assertEquals(ResultsValidator.RULE_RESULT_EVIDENCE, problems.get(0).rule());
        assertEquals("$", problems.get(1).path());
        assertTrue(problems.get(1).message().contains("needs a control"), problems.get(1).message());
    }

    @Test
    void exploratoryNeedsNoEffectSize() throws IOException {
        ObjectNode document = validDocument();
        document.put("status", "exploratory");
        document.remove("effect_size");
        document.remove("noise_floor");

        assertEquals(List.of(), validate(document));
    }
}
