package io.autoresearch.probe.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.autoresearch.probe.cli.CliRun;
import io.autoresearch.probe.cli.ProbeContext;
import io.autoresearch.probe.process.LineListener;
import io.autoresearch.probe.process.ProcessResult;
import io.autoresearch.probe.process.ProcessRunner;
import io.autoresearch.probe.results.ResultsProblem;
import io.autoresearch.probe.results.ResultsValidator;
import io.autoresearch.probe.support.Console;
import io.autoresearch.probe.uv.Uv;
import io.autoresearch.probe.uv.UvLocator;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.OffsetDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs {@code probe demo} for real: uv sync of the locked stack, the six generated scripts
 * on the trained demo model, and validation, once on transformer_lens and once with the
 * nnsight backend. Then checks the science against the
 * model's known circuit and the committed results against the fresh ones.
 */
@Tag("e2e")
class DemoEndToEndTest {
    /** Ranks are means over 192 examples; CPU kernels may differ slightly between machines. */
    private static final double RANK_TOLERANCE = 1e-3;

    /** Patching fractions and attention weights are means of float32 values over 192 examples. */
    private static final double EFFECT_TOLERANCE = 1e-4;

    private static final Path COMMITTED_RESULTS = Path.of("results", "probe", DemoInputs.PROBE_ID + ".json");

    @TempDir
    Path root;

    @TempDir
    Path elsewhere;

    @TempDir
    Path nnsightRoot;

    /** Dummy values of the secret variables the demo runs with; no output may contain them. */
    private static final String NDIF_KEY = "ndif-dummy-secret-0123456789";
    private static final String HF_TOKEN = "hf_dummySecretToken0123456789";

    @Test
    void demoWritesValidatedLensResults() throws IOException {
        ProbeContext system = ProbeContext.fromSystem();
        Map<String, String> environment = new HashMap<>(system.environment());
        environment.put("NDIF_API_KEY", NDIF_KEY);
        environment.put("HF_TOKEN", HF_TOKEN);
        ProbeContext context = new ProbeContext(environment, system.userHome(), root, system.clock());

        CliRun run = CliRun.execute(context, "probe", "demo", "--root", root.toString());

        assertEquals(0, run.exitCode(), "probe demo failed; stderr:\n" + run.err());
        Path codeDir = root.resolve(".research").resolve(DemoInputs.SLUG).resolve("code");
        Path results = codeDir.resolve("results").resolve("probe").resolve(DemoInputs.PROBE_ID + ".json");
        assertTrue(Files.isRegularFile(results), "no results file at " + results + "; stderr:\n" + run.err());
        assertTrue(run.out().contains(results.getFileName().toString()),
                "stdout does not name the results file: " + run.out());

        List<ResultsProblem> problems = new ResultsValidator().validate(results, codeDir);
        assertEquals(List.of(), problems);

        JsonNode fresh = new ObjectMapper().readTree(results.toFile());
        assertEquals("result", fresh.get("status").asText());
        assertEquals(List.of(0, 1, 2), intList(fresh.get("layers")));

        // The demo model's prediction on the repeat needs the layer-1 induction head, so the
        // lens before layer 1 must rank the correct token poorly and the final lens near the top.
        JsonNode ranks = fresh.get("values_per_layer");
        assertTrue(ranks.get(1).asDouble() > 5.0, "rank before layer 1 is " + ranks.get(1));
        assertTrue(ranks.get(2).asDouble() < 1.5, "rank at the final residual stream is " + ranks.get(2));
        assertTrue(fresh.get("shuffled_control_mean").asDouble() > 5.0,
                "shuffled control rank is " + fresh.get("shuffled_control_mean"));

        assertMatchesCommitted(results, COMMITTED_RESULTS, RANK_TOLERANCE);
        checkCircuitResults(codeDir);
        checkCopiedProjectRuns(codeDir, ranks);
        checkNoSecretWritten(context, run);
        checkEventLines(codeDir.resolve("cache").resolve("events.jsonl"));
    }

    /**
     * Runs {@code probe demo --backend nnsight}: the logit lens, activation patching and probing
     * run on nnsight, the other three on transformer_lens, and every results file must be valid.
     * NOTE: this needs the runtime's nnsight backend (the configs' {@code backend}, {@code remote},
     * {@code device_map} and {@code recheck_float32} fields); without it the scripts stop with a TypeError.
     */
    @Test
    void nnsightDemoWritesValidResults() throws IOException {
        ProbeContext system = ProbeContext.fromSystem();
        ProbeContext context = new ProbeContext(system.environment(), system.userHome(), nnsightRoot, system.clock());

        CliRun run = CliRun.execute(context, "probe", "demo", "--backend", "nnsight", "--root", nnsightRoot.toString());

        assertEquals(0, run.exitCode(), "probe demo --backend nnsight failed; stderr:\n" + run.err());
        Path codeDir = nnsightRoot.resolve(".research").resolve(DemoInputs.SLUG).resolve("code");
        for (String probeId : List.of(DemoInputs.PROBE_ID, DemoInputs.PATCHING_PROBE_ID,
                DemoInputs.PROBING_PROBE_ID)) {
            Path file = codeDir.resolve("results").resolve("probe").resolve(probeId + ".json");
            assertTrue(Files.isRegularFile(file), "no results file at " + file + "; stderr:\n" + run.err());
            assertEquals(List.of(), new ResultsValidator().validate(file, codeDir), probeId);
            JsonNode results = new ObjectMapper().readTree(file.toFile());
            assertEquals("nnsight", results.path("backend").asText(), probeId + " backend");
            assertEquals("result", results.path("status").asText(), probeId + " status");
        }
        for (String probeId : List.of(DemoInputs.ATTENTION_PROBE_ID, DemoInputs.PATH_PROBE_ID,
                DemoInputs.SAE_PROBE_ID)) {
            Path file = codeDir.resolve("results").resolve("probe").resolve(probeId + ".json");
            assertEquals(List.of(), new ResultsValidator().validate(file, codeDir), probeId);
        }
    }

    @Test
    void eventLineCheckRejectsBadLines() throws IOException {
        String good = "{\"event\": \"cache.hit\", \"level\": \"info\", \"ts\": \"2026-12-04T10:00:00.123Z\","
                + " \"run_id\": \"20261204-100000-1a2b3c4-5d6e7f\", \"duration_ms\": 1.5}";
        Path events = elsewhere.resolve("events.jsonl");
        Files.writeString(events, good + "\n");
        checkEventLines(events);

        List<String> badLines = List.of(
                good.replace("\"info\"", "\"notice\""),
                good.replace("2026-12-04T10:00:00.123Z", "04/12/2026 10:00"),
                good.replace("1a2b3c4-5d6e7f", "1a2b3c4"),
                good.replace(", \"duration_ms\": 1.5", ""),
                good.replace("\"info\"", "\"error\""));
        for (String bad : badLines) {
            Files.writeString(events, good + "\n" + bad + "\n");
            AssertionError error = org.junit.jupiter.api.Assertions.assertThrows(AssertionError.class,
                    () -> checkEventLines(events), bad);
            assertTrue(error.getMessage().contains("line 2"), error.getMessage());
        }
    }

    private static final Pattern RUN_ID = Pattern.compile("^\\d{8}-\\d{6}-[0-9a-f]{7}-[0-9a-f]{6}$");
    private static final Set<String> LEVELS = Set.of("debug", "info", "warning", "error");

    /**
     * Checks that every line of an events.jsonl carries the fields the plugin reads: event, level,
     * ts (ISO 8601), run_id and a numeric duration_ms. Error lines also need error_type and error_message.
     */
    static void checkEventLines(Path events) throws IOException {
        List<String> lines = Files.readAllLines(events, StandardCharsets.UTF_8);
        assertFalse(lines.isEmpty(), "no lines in " + events);
        ObjectMapper mapper = new ObjectMapper();
        for (int index = 0; index < lines.size(); index++) {
            String where = events.getFileName() + " line " + (index + 1) + ": " + lines.get(index);
            JsonNode line = mapper.readTree(lines.get(index));
            assertTrue(line.isObject(), where);
            assertTrue(line.path("event").isTextual(), "event, " + where);
            assertFalse(line.path("event").asText().isBlank(), "event, " + where);
            assertTrue(LEVELS.contains(line.path("level").asText()), "level, " + where);
            assertTrue(line.path("ts").isTextual(), "ts, " + where);
            try {
                OffsetDateTime.parse(line.get("ts").asText(), DateTimeFormatter.ISO_OFFSET_DATE_TIME);
            } catch (DateTimeParseException e) {
                throw new AssertionError("ts is not ISO 8601, " + where, e);
            }
            assertTrue(line.path("run_id").isTextual(), "run_id, " + where);
            assertTrue(RUN_ID.matcher(line.get("run_id").asText()).matches(), "run_id, " + where);
            assertTrue(line.path("duration_ms").isNumber(), "duration_ms, " + where);
            assertTrue(line.get("duration_ms").asDouble() >= 0, "duration_ms, " + where);
            if ("error".equals(line.get("level").asText())) {
                assertTrue(line.path("error_type").isTextual(), "error_type, " + where);
                assertTrue(line.path("error_message").isTextual(), "error_message, " + where);
            }
        }
    }

    /**
     * Writes the reports of the demo with the same dummy secrets set. Then checks that neither
     * value is in the output of either command, or in any file under the root: results, plots,
     * pages, events, cache, logs, reports, index and manifests. The installed packages in
     * {@code code/.venv} are skipped, because uv writes them and reading them all takes minutes.
     */
    private void checkNoSecretWritten(ProbeContext context, CliRun demo) throws IOException {
        CliRun report = CliRun.execute(context, "probe", "report", DemoInputs.SLUG, "--root", root.toString());
        assertEquals(0, report.exitCode(), report.err());

        for (String output : List.of(demo.out(), demo.err(), report.out(), report.err())) {
            assertFalse(output.contains(NDIF_KEY), "NDIF_API_KEY in the output");
            assertFalse(output.contains(HF_TOKEN), "HF_TOKEN in the output");
        }
        Path venv = root.resolve(".research").resolve(DemoInputs.SLUG).resolve("code").resolve(".venv");
        List<Path> files;
        try (Stream<Path> paths = Files.walk(root)) {
            files = paths.filter(path -> !path.startsWith(venv)).filter(Files::isRegularFile).toList();
        }
        assertTrue(files.stream().anyMatch(path -> path.toString().endsWith("events.jsonl")), files.toString());
        assertTrue(files.stream().anyMatch(path -> path.toString().endsWith(".md")), files.toString());
        for (Path file : files) {
            String content = new String(Files.readAllBytes(file), StandardCharsets.ISO_8859_1);
            assertFalse(content.contains(NDIF_KEY), "NDIF_API_KEY in " + file);
            assertFalse(content.contains(HF_TOKEN), "HF_TOKEN in " + file);
        }
    }

    /**
     * Checks the three circuit probes: each results file is valid and a result, the committed
     * copy still matches, and the probes agree on the induction circuit. The heads come from
     * the fresh results, never from constants.
     */
    private void checkCircuitResults(Path codeDir) throws IOException {
        Map<String, JsonNode> results = new HashMap<>();
        for (String probeId : List.of(DemoInputs.ATTENTION_PROBE_ID, DemoInputs.PATCHING_PROBE_ID,
                DemoInputs.PATH_PROBE_ID)) {
            Path file = codeDir.resolve("results").resolve("probe").resolve(probeId + ".json");
            assertTrue(Files.isRegularFile(file), "no results file at " + file);
            assertEquals(List.of(), new ResultsValidator().validate(file, codeDir));
            JsonNode fresh = new ObjectMapper().readTree(file.toFile());
            assertEquals("result", fresh.get("status").asText(), probeId);
            assertMatchesCommitted(file, Path.of("results", "probe", probeId + ".json"), EFFECT_TOLERANCE);
            results.put(probeId, fresh);
        }

        JsonNode topHeads = results.get(DemoInputs.ATTENTION_PROBE_ID).get("top_heads");
        String inductionHead = topHeads.get("induction").get("head").asText();
        String previousTokenHead = topHeads.get("previous_token").get("head").asText();
        assertTrue(inductionHead.startsWith("L1"), "top induction head " + inductionHead);
        assertTrue(previousTokenHead.startsWith("L0"), "top previous-token head " + previousTokenHead);

        // Activation patching: among the layer-1 heads, the top induction head recovers the most.
        JsonNode headSweep = results.get(DemoInputs.PATCHING_PROBE_ID).get("sweeps").get("head_out").get("values");
        JsonNode layerOne = headSweep.get(1);
        int best = 0;
        for (int head = 1; head < layerOne.size(); head++) {
            best = layerOne.get(head).asDouble() > layerOne.get(best).asDouble() ? head : best;
        }
        assertEquals(inductionHead, "L1H" + best, "head sweep of layer 1: " + layerOne);

        // Path patching: the auto receiver is that head, and its top sender through K is the
        // previous-token head, far above the top senders through Q and V.
        JsonNode path = results.get(DemoInputs.PATH_PROBE_ID);
        assertEquals(inductionHead, path.get("receiver").asText());
        JsonNode tops = path.get("top_sender_per_input");
        assertEquals(previousTokenHead, tops.get("k").get("sender").asText());
        double k = tops.get("k").get("value").asDouble();
        assertTrue(k > 5 * Math.max(0.0, Math.max(tops.get("q").get("value").asDouble(),
                tops.get("v").get("value").asDouble())), "q/k/v tops: " + tops);
    }

    /** Checks that the committed copy of a demo results file matches a fresh run within {@code tolerance}. */
    private static void assertMatchesCommitted(Path freshFile, Path committedFile, double tolerance) throws IOException {
        JsonNode fresh = new ObjectMapper().readTree(freshFile.toFile());
        JsonNode committed = new ObjectMapper().readTree(committedFile.toFile());
        String hint = committedFile + " no longer matches a fresh demo run; rerun the demo and copy its results";
        JsonNode freshValues = fresh.get("values_per_layer");
        JsonNode committedValues = committed.get("values_per_layer");
        assertEquals(committedValues.size(), freshValues.size(), hint);
        for (int i = 0; i < freshValues.size(); i++) {
            assertEquals(committedValues.get(i).asDouble(), freshValues.get(i).asDouble(), tolerance,
                    "values_per_layer[" + i + "]: " + hint);
        }
        assertEquals(committed.get("mean").asDouble(), fresh.get("mean").asDouble(), tolerance, "mean: " + hint);
    }

    /**
     * Copies code/ without its virtual environment, results and cache to a folder outside the
     * workspace and this repository, and runs the lens script there with uv alone. The
     * project must need nothing but its own files and the package index.
     */
    private void checkCopiedProjectRuns(Path codeDir, JsonNode expectedRanks) throws IOException {
        Path copy = elsewhere.resolve("code");
        copyTree(codeDir, copy);
        Path script;
        try (Stream<Path> scripts = Files.list(copy.resolve("analysis"))) {
            script = scripts.filter(path -> path.getFileName().toString().startsWith("logit_lens_")).findFirst()
                    .orElseThrow();
        }
        Map<String, String> environment = new HashMap<>(System.getenv());
        environment.put("HF_HUB_OFFLINE", "1");
        environment.put("TRANSFORMERS_OFFLINE", "1");
        Path uvExecutable = new UvLocator(UvLocator.defaultToolHome(environment), environment)
                .locate(true, new Console(new PrintWriter(new StringWriter()), new PrintWriter(new StringWriter()),
                        true, false));
        List<String> stderr = new ArrayList<>();

        ProcessResult result = new ProcessRunner().run(
                new Uv(uvExecutable, environment).runPython(copy, "attention", copy.relativize(script)),
                LineListener.IGNORE, stderr::add);

        assertEquals(0, result.exitCode(), "the copied project failed:\n" + String.join("\n", stderr));
        Path results = copy.resolve("results").resolve("probe").resolve(DemoInputs.PROBE_ID + ".json");
        JsonNode copied = new ObjectMapper().readTree(results.toFile());
        assertEquals(expectedRanks, copied.get("values_per_layer"));
    }

    private static void copyTree(Path source, Path target) throws IOException {
        Set<String> skipped = Set.of(".venv", "results", "cache");
        try (Stream<Path> paths = Files.walk(source)) {
            for (Path path : paths.filter(path -> skipped.stream().noneMatch(
                    name -> source.relativize(path).startsWith(name))).toList()) {
                Path destination = target.resolve(source.relativize(path).toString());
                if (Files.isDirectory(path)) {
                    Files.createDirectories(destination);
                } else {
                    Files.copy(path, destination);
                }
            }
        }
    }

    private static List<Integer> intList(JsonNode array) {
        return java.util.stream.StreamSupport.stream(array.spliterator(), false).map(JsonNode::asInt).toList();
    }
}
