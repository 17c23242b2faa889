package io.autoresearch.probe.results;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SpecVersion;
import com.networknt.schema.ValidationMessage;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Validates results files against {@code schema/probe-results.schema.json} (JSON Schema draft
 * 2020-12) and against the rules a schema cannot state:
 *
 * <ul>
 *   <li>{@value #RULE_FINITE_NUMBER}: every number is finite (Python's {@code json} module
 *       writes NaN and Infinity by default)
 *   <li>{@value #RULE_LENGTH}: values_per_layer and ci_per_layer (also in secondary_metrics)
 *       have one entry per layer, and values_per_seed one per seed
 *   <li>{@value #RULE_INTERVAL_ORDER}: every [lo, hi] interval has lo <= hi
 *   <li>{@value #RULE_VALUE_IN_INTERVAL}: each per-layer value, mean and component value lies
 *       in its interval
 *   <li>{@value #RULE_RESULT_EVIDENCE}: status "result" needs n_examples >= 64 and >= 3 seeds
 *   <li>{@value #RULE_DISTINCT_EXPLANATIONS}: alternative explanations are non-blank and
 *       distinct, ignoring case and whitespace
 *   <li>{@value #RULE_ARTIFACT_PATH}: artifact paths are relative, exist and stay inside
 *       code/, also after following symbolic links
 *   <li>{@value #RULE_PROBE_ID_FILE_NAME}: probe_id equals the file name without .json
 *   <li>{@value #RULE_PRECISION_CHECK}: precision_check.within_tolerance equals
 *       max_abs_diff <= tolerance, mean_abs_diff <= max_abs_diff, and its dtype is
 *       provenance.dtype and not float32
 *   <li>{@value #RULE_NNSIGHT_ONLY}: precision_check, provenance.remote true, a non-null
 *       provenance.device_map and provenance.module_paths appear only with backend "nnsight"
 * </ul>
 *
 * Comparisons allow an absolute slack of 1e-9, except the within_tolerance verdict, which
 * repeats the runtime's exact comparison. A file that cannot be read or parsed yields
 * one problem ({@value #RULE_JSON_SYNTAX}) instead of an exception.
 *
 * <p>{@code probe run} checks the files its scripts wrote with this class, and
 * {@code probe validate} checks a workspace's files or the files it is given.
 */
public final class ResultsValidator {
    public static final String SCHEMA_RESOURCE = "schema/probe-results.schema.json";

    public static final String RULE_JSON_SYNTAX = "json-syntax";
    public static final String RULE_FINITE_NUMBER = "finite-number";
    public static final String RULE_LENGTH = "per-layer-length";
    public static final String RULE_INTERVAL_ORDER = "interval-order";
    public static final String RULE_VALUE_IN_INTERVAL = "value-in-interval";
    public static final String RULE_RESULT_EVIDENCE = "result-evidence";
    public static final String RULE_DISTINCT_EXPLANATIONS = "distinct-explanations";
    public static final String RULE_ARTIFACT_PATH = "artifact-path";
    public static final String RULE_PROBE_ID_FILE_NAME = "probe-id-file-name";
    public static final String RULE_PRECISION_CHECK = "precision-check";
    public static final String RULE_NNSIGHT_ONLY = "nnsight-only-field";

    /** Prefix of the rule of a problem found by the JSON Schema, followed by the keyword. */
    public static final String SCHEMA_RULE_PREFIX = "schema:";

    private final ObjectMapper mapper;
    private final JsonSchema schema;

    /** Loads the schema from the classpath. */
    public ResultsValidator() {
        // NaN and Infinity parse, so that they are reported with their path instead of failing
        // the whole file. Duplicate keys and trailing content fail the parse.
        this.mapper = JsonMapper.builder()
                .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
                .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
                .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
                .build();
        this.schema = loadSchema(mapper);
    }

    private static JsonSchema loadSchema(ObjectMapper mapper) {
        try (InputStream stream = ResultsValidator.class.getClassLoader().getResourceAsStream(SCHEMA_RESOURCE)) {
            if (stream == null) {
                throw new IllegalStateException(SCHEMA_RESOURCE + " is missing from the classpath; the build is broken");
            }
            JsonNode schemaNode = mapper.readTree(stream);
            return JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V202012).getSchema(schemaNode);
        } catch (IOException e) {
            throw new UncheckedIOException("could not read " + SCHEMA_RESOURCE, e);
        }
    }

    /**
     * Validates the results file at {@code resultsFile}.
     *
     * @param codeDir the research project's {@code code/} folder, against which artifact paths
     *     are resolved
     * @return the problems found, empty when the file is valid
     */
    public List<ResultsProblem> validate(Path resultsFile, Path codeDir) {
        JsonNode document;
        try {
            byte[] content = Files.readAllBytes(resultsFile);
            document = mapper.readTree(content);
        } catch (JacksonException e) {
            return List.of(new ResultsProblem(JsonPaths.ROOT, RULE_JSON_SYNTAX,
                    "not valid JSON: " + e.getOriginalMessage() + locationOf(e)));
        } catch (IOException e) {
            return List.of(new ResultsProblem(JsonPaths.ROOT, RULE_JSON_SYNTAX,
                    "could not read the file: " + e.getMessage()));
        }
        if (document == null || document.isMissingNode()) {
            return List.of(new ResultsProblem(JsonPaths.ROOT, RULE_JSON_SYNTAX, "the file is empty"));
        }

        List<ResultsProblem> problems = new ArrayList<>(validate(document, codeDir));
        String expectedId = fileStem(resultsFile);
        JsonNode probeId = document.path("probe_id");
        if (probeId.isTextual() && !probeId.asText().equals(expectedId)) {
            problems.add(new ResultsProblem(JsonPaths.property(JsonPaths.ROOT, "probe_id"), RULE_PROBE_ID_FILE_NAME,
                    "probe_id \"" + probeId.asText() + "\" does not match the file name " + resultsFile.getFileName()
                            + "; name the file " + probeId.asText() + ".json"));
        }
        return problems;
    }

    /** Validates a parsed results document; see {@link #validate(Path, Path)}. */
    public List<ResultsProblem> validate(JsonNode document, Path codeDir) {
        List<ResultsProblem> problems = new ArrayList<>();
        List<ValidationMessage> messages = new ArrayList<>(schema.validate(document));
        messages.sort(Comparator.comparing((ValidationMessage message) -> message.getInstanceLocation().toString())
                .thenComparing(ValidationMessage::getType));
        for (ValidationMessage message : messages) {
            problems.add(new ResultsProblem(message.getInstanceLocation().toString(),
                    SCHEMA_RULE_PREFIX + message.getType(), schemaMessage(message)));
        }
        problems.addAll(SemanticRules.check(document, codeDir));
        return problems;
    }

    /** Returns the validator's message without its leading {@code "$.path: "}, which the problem already carries. */
    private static String schemaMessage(ValidationMessage message) {
        String text = message.getMessage();
        String prefix = message.getInstanceLocation().toString() + ": ";
        return text.startsWith(prefix) ? text.substring(prefix.length()) : text;
    }

    private static String locationOf(JacksonException e) {
        if (e.getLocation() == null || e.getLocation().getLineNr() < 1) {
            return "";
        }
        return " (line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr() + ")";
    }

    private static String fileStem(Path file) {
        String name = file.getFileName().toString();
        return name.endsWith(".json") ? name.substring(0, name.length() - ".json".length()) : name;
    }
}
