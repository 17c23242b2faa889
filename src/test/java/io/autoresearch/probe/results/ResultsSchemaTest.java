package io.autoresearch.probe.results;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The schema's own rules (components, the per-seed group, the controls) and the agreement
 * between the schema, the validator's rule names and docs/results-schema.md.
 */
class ResultsSchemaTest {
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final ResultsValidator VALIDATOR = new ResultsValidator();
    private static final Path DOCS = Path.of("docs/results-schema.md");

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

    private List<ResultsProblem> validate(ObjectNode document) throws IOException {
        Path file = codeDir.resolve("results/probe/logit_lens_demo.json");
        Files.writeString(file, MAPPER.writeValueAsString(document), StandardCharsets.UTF_8);
        return VALIDATOR.validate(file, codeDir);
    }

    private static ObjectNode withComponent(ObjectNode component) {
        ObjectNode document = ResultsValidatorTest.validDocument();
        document.putArray("components").add(component);
        return document;
    }

    private static ObjectNode component(String name, double value) {
        ObjectNode component = MAPPER.createObjectNode();
        component.put("name", name);
        component.put("value", value);
        return component;
    }

    private static void assertSingleProblem(List<ResultsProblem> problems, String path, String rule) {
        assertEquals(1, problems.size(), "problems: " + problems);
        assertEquals(path, problems.get(0).path(), "problems: " + problems);
        assertEquals(rule, problems.get(0).rule(), "problems: " + problems);
    }

    /** Returns a valid document of an nnsight probe with a precision check and nnsight provenance. */
    private static ObjectNode nnsightDocument() {
        ObjectNode document = ResultsValidatorTest.validDocument();
        document.put("backend", "nnsight");
        ObjectNode check = document.putObject("precision_check");
        check.put("dtype", "bfloat16");
        check.put("reference_dtype", "float32");
        check.put("n_examples", 16);
        check.put("metric", "rank_of_correct_token");
        check.put("max_abs_diff", 0.5);
        check.put("mean_abs_diff", 0.0625);
        check.put("within_tolerance", true);
        check.put("tolerance", 1.0);
        ObjectNode provenance = (ObjectNode) document.get("provenance");
        provenance.put("dtype", "bfloat16");
        provenance.put("remote", false);
        provenance.put("device_map", "auto");
        return document;
    }

    @Test
    void nnsightFieldsAreValid() throws IOException {
        assertEquals(List.of(), validate(nnsightDocument()));

        ObjectNode oneDevice = nnsightDocument();
        ((ObjectNode) oneDevice.get("provenance")).putNull("device_map");
        assertEquals(List.of(), validate(oneDevice));
    }

    @Test
    void unknownBackendIsReported() throws IOException {
        ObjectNode document = nnsightDocument();
        document.put("backend", "pytorch");

        assertSingleProblem(validate(document), "$.backend", "schema:enum");
    }

    @Test
    void precisionCheckWithoutToleranceIsReported() throws IOException {
        ObjectNode document = nnsightDocument();
        ((ObjectNode) document.get("precision_check")).remove("tolerance");

        List<ResultsProblem> problems = validate(document);

        assertSingleProblem(problems, "$.precision_check", "schema:required");
        assertTrue(problems.get(0).message().contains("tolerance"), problems.toString());
    }

    @Test
    void negativePrecisionDifferenceIsReported() throws IOException {
        ObjectNode document = nnsightDocument();
        ((ObjectNode) document.get("precision_check")).put("max_abs_diff", -0.5);

        assertSingleProblem(validate(document), "$.precision_check.max_abs_diff", "schema:minimum");
    }

    @Test
    void zeroPrecisionToleranceIsReported() throws IOException {
        ObjectNode document = nnsightDocument();
        ((ObjectNode) document.get("precision_check")).put("tolerance", 0.0);

        assertSingleProblem(validate(document), "$.precision_check.tolerance", "schema:exclusiveMinimum");
    }

    @Test
    void nonBooleanRemoteIsReported() throws IOException {
        ObjectNode document = nnsightDocument();
        ((ObjectNode) document.get("provenance")).put("remote", "yes");

        assertSingleProblem(validate(document), "$.provenance.remote", "schema:type");
    }

    @Test
    void componentWithNameValueAndCi95IsValid() throws IOException {
        ObjectNode head = component("L1H3 induction", 0.59);
        head.putArray("ci_95").add(0.58).add(0.60);

        assertEquals(List.of(), validate(withComponent(head)));
    }

    @Test
    void componentWithoutCi95IsReported() throws IOException {
        List<ResultsProblem> problems = validate(withComponent(component("L1H3 induction", 0.59)));

        assertSingleProblem(problems, "$.components[0]", "schema:required");
        assertTrue(problems.get(0).message().contains("ci_95"), problems.toString());
    }

    @Test
    void componentWithoutNameOrValueIsReported() throws IOException {
        ObjectNode nameless = MAPPER.createObjectNode();
        nameless.putArray("ci_95").add(0.0).add(1.0);

        List<ResultsProblem> problems = validate(withComponent(nameless));

        assertEquals(2, problems.size(), problems.toString());
        for (ResultsProblem problem : problems) {
            assertEquals("$.components[0]", problem.path(), problems.toString());
            assertEquals("schema:required", problem.rule(), problems.toString());
        }
    }

    @Test
    void componentCi95WithOneBoundIsReported() throws IOException {
        ObjectNode head = component("L0H3 head_out", 0.99);
        head.putArray("ci_95").add(0.98);

        assertSingleProblem(validate(withComponent(head)), "$.components[0].ci_95", "schema:minItems");
    }

    @Test
    void componentCi95WithThreeBoundsIsReported() throws IOException {
        ObjectNode head = component("L0H3 head_out", 0.99);
        head.putArray("ci_95").add(0.98).add(0.99).add(1.0);

        assertSingleProblem(validate(withComponent(head)), "$.components[0].ci_95", "schema:maxItems");
    }

    @Test
    void componentCi95WithTextBoundIsReported() throws IOException {
        ObjectNode head = component("L0H3 head_out", 0.99);
        head.putArray("ci_95").add("0.98").add(1.0);

        assertSingleProblem(validate(withComponent(head)), "$.components[0].ci_95[0]", "schema:type");
    }

    @Test
    void componentCi95OrderAndContainmentAreChecked() throws IOException {
        ObjectNode reversed = component("L0H3 head_out", 0.99);
        reversed.putArray("ci_95").add(1.0).add(0.98);
        ObjectNode outside = component("L0H2 head_out", 0.5);
        outside.putArray("ci_95").add(0.6).add(0.7);
        ObjectNode document = withComponent(reversed);
        document.withArray("components").add(outside);

        List<ResultsProblem> problems = validate(document);

        assertEquals(2, problems.size(), problems.toString());
        assertEquals("$.components[0].ci_95", problems.get(0).path());
        assertEquals(ResultsValidator.RULE_INTERVAL_ORDER, problems.get(0).rule());
        assertEquals("$.components[1].ci_95", problems.get(1).path());
        assertEquals(ResultsValidator.RULE_VALUE_IN_INTERVAL, problems.get(1).rule());
    }

    @Test
    void perSeedFieldsAreOptionalAsAGroup() throws IOException {
        ObjectNode document = ResultsValidatorTest.validDocument();
        document.remove(List.of("primary_metric", "values_per_seed", "mean", "ci_95"));

        assertEquals(List.of(), validate(document));
    }

    @Test
    void meanWithoutCi95IsReported() throws IOException {
        ObjectNode document = ResultsValidatorTest.validDocument();
        document.remove("ci_95");

        List<ResultsProblem> problems = validate(document);

        assertSingleProblem(problems, "$", "schema:dependentRequired");
        assertTrue(problems.get(0).message().contains("ci_95"), problems.toString());
    }

    @Test
    void ci95WithoutMeanIsReported() throws IOException {
        ObjectNode document = ResultsValidatorTest.validDocument();
        document.remove(List.of("primary_metric", "values_per_seed", "mean"));

        List<ResultsProblem> problems = validate(document);

        assertSingleProblem(problems, "$", "schema:dependentRequired");
        assertTrue(problems.get(0).message().contains("mean"), problems.toString());
    }

    @Test
    void negativeNoiseFloorIsReported() throws IOException {
        ObjectNode document = ResultsValidatorTest.validDocument();
        document.put("noise_floor", -0.1);

        assertSingleProblem(validate(document), "$.noise_floor", "schema:minimum");
    }

    @Test
    void createdAtMustBeRfc3339WithTimeZone() throws IOException {
        ObjectNode document = ResultsValidatorTest.validDocument();
        ((ObjectNode) document.get("provenance")).put("created_at", "2026-12-04 19:00:00");

        assertSingleProblem(validate(document), "$.provenance.created_at", "schema:pattern");

        ((ObjectNode) document.get("provenance")).put("created_at", "2026-12-04T19:00:00.250+09:00");
        assertEquals(List.of(), validate(document));
    }

    @Test
    void demoShapedExtraFieldsAreValid() throws IOException {
        ObjectNode document = ResultsValidatorTest.validDocument();
        document.put("shuffled_control_mean", 107.0);
        document.put("random_baseline", 102.5);
        document.put("noise_floor", 0.0);
        document.put("effect_size", 2.51);
        document.put("top_component", "L0H3");
        ObjectNode clean = document.putObject("clean_logit_diff");
        clean.put("mean", 10.76);
        clean.putArray("ci_95").add(10.4).add(11.1);
        ObjectNode sweep = document.putObject("sweeps").putObject("head_out");
        sweep.putArray("axes").add("layer").add("head");
        sweep.putArray("layers").add(0);
        sweep.putArray("values").addArray().add(0.1).add(0.9);
        sweep.putArray("ci").addArray().add(MAPPER.createArrayNode().add(0.0).add(0.2))
                .add(MAPPER.createArrayNode().add(0.8).add(1.0));
        document.putObject("sweeps_skipped").put("resid_pre", "pairs of token lengths [5, 7]");
        document.putArray("inputs").add("q").add("k").add("v");
        document.put("freeze_mlps", false);

        assertEquals(List.of(), validate(document));
    }

    @Test
    void sweepWithoutAxesIsReported() throws IOException {
        ObjectNode document = ResultsValidatorTest.validDocument();
        ObjectNode sweep = document.putObject("sweeps").putObject("head_out");
        sweep.putArray("layers").add(0);
        sweep.putArray("values").addArray().add(0.1);

        assertSingleProblem(validate(document), "$.sweeps.head_out", "schema:required");
    }

    /** Every property the schema names is documented in docs/results-schema.md. */
    @Test
    void docsNameEverySchemaProperty() throws IOException {
        String docs = Files.readString(DOCS);
        JsonNode schema = readSchema();
        List<String> missing = new ArrayList<>();
        collectUndocumented(schema.get("properties"), "", docs, missing);
        collectUndocumented(schema.at("/properties/provenance/properties"), "", docs, missing);
        collectUndocumented(schema.at("/properties/components/items/properties"), "components[].", docs, missing);
        collectUndocumented(schema.at("/properties/precision_check/properties"), "", docs, missing);

        assertEquals(List.of(), missing, "fields missing from " + DOCS);
    }

    /** Every rule name the validator prints is documented in docs/results-schema.md. */
    @Test
    void docsNameEveryValidatorRule() throws IOException, IllegalAccessException {
        String docs = Files.readString(DOCS);
        List<String> missing = new ArrayList<>();
        for (Field field : ResultsValidator.class.getFields()) {
            if (field.getName().startsWith("RULE_") && Modifier.isStatic(field.getModifiers())) {
                String rule = (String) field.get(null);
                if (!docs.contains("`" + rule + "`")) {
                    missing.add(rule);
                }
            }
        }

        assertEquals(List.of(), missing, "rules missing from " + DOCS);
    }

    private static void collectUndocumented(JsonNode properties, String prefix, String docs, List<String> missing) {
        assertTrue(properties.size() > 0, "no properties under " + prefix);
        for (Iterator<String> names = properties.fieldNames(); names.hasNext(); ) {
            String name = prefix + names.next();
            if (!docs.contains("`" + name + "`")) {
                missing.add(name);
            }
        }
    }

    private static JsonNode readSchema() throws IOException {
        try (InputStream stream = ResultsValidator.class.getClassLoader()
                .getResourceAsStream(ResultsValidator.SCHEMA_RESOURCE)) {
            return MAPPER.readTree(stream);
        }
    }
}
