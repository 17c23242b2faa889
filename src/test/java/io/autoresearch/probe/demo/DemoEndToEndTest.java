package io.autoresearch.probe.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs {@code probe demo} for real: uv sync of the locked stack, the generated logit-lens
 * script on the trained demo model, and validation. Then checks the science against the
 * model's known circuit and the committed results against the fresh ones.
 */
@Tag("e2e")
class DemoEndToEndTest {
    /** Ranks are means over 192 examples; CPU kernels may differ slightly between machines. */
    private static final double RANK_TOLERANCE = 1e-3;

    private static final Path COMMITTED_RESULTS = Path.of("results", "probe", DemoInputs.PROBE_ID + ".json");

    @TempDir
    Path root;

    @TempDir
    Path elsewhere;

    @Test
    void demoWritesValidatedLensResults() throws IOException {
        ProbeContext system = ProbeContext.fromSystem();
        ProbeContext context = new ProbeContext(system.environment(), system.userHome(), root, system.clock());

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

        JsonNode committed = new ObjectMapper().readTree(COMMITTED_RESULTS.toFile());
        JsonNode committedRanks = committed.get("values_per_layer");
        assertEquals(committedRanks.size(), ranks.size());
        for (int i = 0; i < ranks.size(); i++) {
            assertEquals(committedRanks.get(i).asDouble(), ranks.get(i).asDouble(), RANK_TOLERANCE,
                    "layer " + i + ": committed " + COMMITTED_RESULTS + " no longer matches a fresh demo run;"
                            + " rerun the demo and copy its results");
        }

        checkCopiedProjectRuns(codeDir, ranks);
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
