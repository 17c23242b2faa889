package io.autoresearch.probe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.autoresearch.probe.setup.AtomicFiles;
import io.autoresearch.probe.setup.Fixtures;
import io.autoresearch.probe.setup.ToolVersion;
import io.autoresearch.probe.support.ExitCode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Setup on an existing uv project whose attention extra already matches, so no uv runs. */
class SetupCommandTest {
    private static final String LENS_SCRIPT = "analysis/logit_lens_20261204.py";

    @TempDir
    Path root;

    private Path code;
    private Path model;
    private Path prompts;

    @BeforeEach
    void createProject() throws IOException {
        code = Fixtures.project(root, "lens-study", "Lens.Study");
        model = Fixtures.modelFolder(root.resolve("models").resolve("tiny"), 2);
        prompts = Fixtures.promptsFile(root.resolve("inputs").resolve("my prompts.jsonl"));
    }

    private CliRun setup(String... extra) {
        return setupWithClock(CliRun.FIXED_CLOCK, extra);
    }

    private CliRun setupWithClock(Clock clock, String... extra) {
        List<String> args = new ArrayList<>(List.of("probe", "setup", "lens-study", "--intervention", "logit_lens",
                "--model", model.toString(), "--prompts", prompts.toString(), "--root", root.toString()));
        args.addAll(List.of(extra));
        ProbeContext context = new ProbeContext(Map.of("PATH", ""), root, root, clock);
        return CliRun.execute(context, args.toArray(String[]::new));
    }

    @Test
    void setupWritesScriptsRuntimeAndFolders() throws IOException {
        CliRun run = setup();

        assertEquals(0, run.exitCode(), run.err());
        assertTrue(Files.isRegularFile(code.resolve("src/lens_study/probe.py")));
        assertTrue(Files.isRegularFile(code.resolve("src/lens_study/probe_runtime/__init__.py")));
        assertTrue(Files.isRegularFile(code.resolve("src/lens_study/probe_runtime/logit_lens.py")));
        assertTrue(Files.isRegularFile(code.resolve(LENS_SCRIPT)));
        assertTrue(Files.isRegularFile(code.resolve("analysis/lens-study.py")));
        assertTrue(Files.isRegularFile(code.resolve("data/my prompts.jsonl")));
        assertTrue(Files.isDirectory(code.resolve("cache/activations")));
        assertTrue(Files.isDirectory(code.resolve("results/probe")));
        assertFalse(Files.exists(code.resolve("src/lens_study/probe_runtime/__pycache__")));
        assertEquals(List.of(code.resolve(LENS_SCRIPT).toString(), code.resolve("analysis/lens-study.py").toString()),
                run.out().lines().toList());
    }

    @Test
    void scriptCarriesLiteralsOfInputs() throws IOException {
        CliRun run = setup("--layers", "0-2", "--hypothesis", "it's \"formed\" in layer 1\n{{probe}}");

        assertEquals(0, run.exitCode(), run.err());
        String script = Files.readString(code.resolve(LENS_SCRIPT));
        assertTrue(script.contains("from lens_study.probe import PROJECT_ROOT"), script);
        assertTrue(script.contains("PROBE_ID = 'logit_lens_layers_0_to_2'"), script);
        assertTrue(script.contains("MODEL_ID = '" + model + "'"), script);
        assertTrue(script.contains("PROMPTS_PATH = 'data/my prompts.jsonl'"), script);
        assertTrue(script.contains("LAYERS = [0, 1, 2]"), script);
        assertTrue(script.contains("N_EXAMPLES = 64"), script);
        assertTrue(script.contains("SEEDS = [0, 1, 2]"), script);
        assertTrue(script.contains("DTYPE = 'float32'"), script);
        assertTrue(script.contains("HYPOTHESIS = 'it\\'s \"formed\" in layer 1\\n{{probe}}'"), script);
        assertTrue(script.contains("on 2026-12-04"), script);
    }

    @Test
    void allLayersPassNoneAndNameFullRange() throws IOException {
        CliRun run = setup();

        assertEquals(0, run.exitCode(), run.err());
        String script = Files.readString(code.resolve(LENS_SCRIPT));
        assertTrue(script.contains("LAYERS = None"), script);
        assertTrue(script.contains("PROBE_ID = 'logit_lens_layers_0_to_2'"), script);
    }

    @Test
    void manifestRecordsFilesAndProbe() throws IOException {
        setup();

        JsonNode manifest = new ObjectMapper().readTree(code.resolve(".auto-research/manifest.json").toFile());
        assertEquals(ToolVersion.current(), manifest.path("tool_version").asText());
        boolean found = false;
        for (JsonNode file : manifest.path("files")) {
            Path onDisk = code.resolve(file.path("path").asText());
            assertEquals(AtomicFiles.sha256(onDisk), file.path("sha256").asText(), file.toString());
            found |= file.path("path").asText().equals(LENS_SCRIPT);
        }
        assertTrue(found, manifest.toString());
        JsonNode probe = manifest.path("probes").get(0);
        assertEquals("logit_lens_layers_0_to_2", probe.path("probe_id").asText());
        assertEquals("logit_lens", probe.path("intervention").asText());
        assertEquals(LENS_SCRIPT, probe.path("script").asText());
        assertEquals(model.toString(), probe.path("model_id").asText());
        assertEquals("[0,1,2]", probe.path("layers").toString());
        assertEquals("2026-12-04T10:00:00Z", probe.path("created").asText());
    }

    @Test
    void rerunKeepsUnchangedFiles() {
        setup();
        CliRun second = setup();

        assertEquals(0, second.exitCode(), second.err());
        assertTrue(second.err().contains("kept " + LENS_SCRIPT), second.err());
        assertFalse(second.err().contains("wrote "), second.err());
    }

    @Test
    void rerunSkipsEditedFile() throws IOException {
        setup();
        Path script = code.resolve(LENS_SCRIPT);
        Files.writeString(script, "# my analysis\n", StandardCharsets.UTF_8, java.nio.file.StandardOpenOption.APPEND);
        String edited = Files.readString(script);

        CliRun second = setup("--n-examples", "128");

        assertEquals(0, second.exitCode(), second.err());
        assertTrue(second.err().contains("skipped (edited; use --force to overwrite) " + LENS_SCRIPT), second.err());
        assertEquals(edited, Files.readString(script));
        CliRun third = setup("--n-examples", "128");
        assertTrue(third.err().contains("skipped (edited; use --force to overwrite) " + LENS_SCRIPT), third.err());
        assertEquals(edited, Files.readString(script));
    }

    @Test
    void editedPromptsKeptWithWarning() throws IOException {
        setup();
        Path copied = code.resolve("data/my prompts.jsonl");
        Files.writeString(copied, "{\"prompt\": \"a b\"}\n", StandardCharsets.UTF_8,
                java.nio.file.StandardOpenOption.APPEND);
        String edited = Files.readString(copied);
        Files.writeString(prompts, "{\"prompt\": \"c d\"}\n", StandardCharsets.UTF_8);

        CliRun second = setup();

        assertEquals(0, second.exitCode(), second.err());
        assertTrue(second.err().contains("the inputs in data/my prompts.jsonl were edited"), second.err());
        assertEquals(edited, Files.readString(copied));
    }

    @Test
    void rerunRewritesUneditedFileWhenContentChanges() throws IOException {
        setup();

        CliRun second = setup("--n-examples", "128");

        assertEquals(0, second.exitCode(), second.err());
        assertTrue(second.err().contains("wrote " + LENS_SCRIPT), second.err());
        assertTrue(Files.readString(code.resolve(LENS_SCRIPT)).contains("N_EXAMPLES = 128"));
    }

    @Test
    void forceOverwritesEditedFile() throws IOException {
        setup();
        Path script = code.resolve(LENS_SCRIPT);
        Files.writeString(script, "# replaced by hand\n");

        CliRun forced = setup("--force");

        assertEquals(0, forced.exitCode(), forced.err());
        assertTrue(forced.err().contains("wrote " + LENS_SCRIPT), forced.err());
        assertTrue(Files.readString(script).contains("PROBE_ID = 'logit_lens_layers_0_to_2'"));
    }

    @Test
    void existingFileOutsideManifestIsSkipped() throws IOException {
        Path mainScript = code.resolve("analysis/lens-study.py");
        Files.createDirectories(mainScript.getParent());
        Files.writeString(mainScript, "print('written by a person')\n");

        CliRun run = setup();

        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.err().contains("skipped (edited; use --force to overwrite) analysis/lens-study.py"), run.err());
        assertEquals("print('written by a person')\n", Files.readString(mainScript));
    }

    @Test
    void rerunOnLaterDayReusesScriptName() throws IOException {
        setup();
        Clock nextWeek = Clock.fixed(Instant.parse("2026-12-11T09:00:00Z"), ZoneOffset.UTC);

        CliRun later = setupWithClock(nextWeek);

        assertEquals(0, later.exitCode(), later.err());
        assertFalse(Files.exists(code.resolve("analysis/logit_lens_20261211.py")));
        assertTrue(later.err().contains("kept " + LENS_SCRIPT), later.err());
    }

    @Test
    void secondProbeIsListedInMainScript() throws IOException {
        setup();

        CliRun second = setup("--layers", "1,2");

        assertEquals(0, second.exitCode(), second.err());
        String main = Files.readString(code.resolve("analysis/lens-study.py"));
        assertTrue(main.contains("'logit_lens_layers_0_to_2'"), main);
        assertTrue(main.contains("'logit_lens_layers_1_to_2'"), main);
    }

    @Test
    void modelInsideCodeIsRelative() throws IOException {
        model = Fixtures.modelFolder(code.resolve("models").resolve("tiny"), 2);

        CliRun run = setup();

        assertEquals(0, run.exitCode(), run.err());
        assertTrue(Files.readString(code.resolve(LENS_SCRIPT)).contains("MODEL_ID = 'models/tiny'"));
    }

    @Test
    void hypothesisComesFromPlan() throws IOException {
        Files.writeString(root.resolve(".research/lens-study/04_EXPERIMENT_PLAN.md"), String.join("\n",
                "# Plan", "", "## Hypotheses", "", "- H1: the answer forms", "  in layer 1.", "- H0: it does not.", ""));

        setup();

        String script = Files.readString(code.resolve(LENS_SCRIPT));
        assertTrue(script.contains("HYPOTHESIS = 'H1: the answer forms in layer 1.'"), script);
    }

    @Test
    void missingHypothesisUsesPlaceholder() throws IOException {
        setup();

        String script = Files.readString(code.resolve(LENS_SCRIPT));
        assertTrue(script.contains("HYPOTHESIS = 'No hypothesis was given"), script);
    }

    @Test
    void promptsDefaultToPreviousCopy() throws IOException {
        Fixtures.promptsFile(code.resolve("data/prompts.jsonl"));
        List<String> args = List.of("probe", "setup", "lens-study", "--intervention", "logit_lens",
                "--model", model.toString(), "--root", root.toString());

        CliRun run = CliRun.execute(root, args.toArray(String[]::new));

        assertEquals(0, run.exitCode(), run.err());
        assertTrue(Files.readString(code.resolve(LENS_SCRIPT)).contains("PROMPTS_PATH = 'data/prompts.jsonl'"));
    }

    @Test
    void cachedHubModelIsAccepted() throws IOException {
        Path hubCache = root.resolve("hf-cache");
        Fixtures.modelFolder(hubCache.resolve("models--org--tiny/snapshots/abc123"), 4);
        ProbeContext context = new ProbeContext(Map.of("HF_HUB_CACHE", hubCache.toString()), root, root,
                CliRun.FIXED_CLOCK);

        CliRun run = CliRun.execute(context, "probe", "setup", "lens-study", "--intervention", "logit_lens",
                "--model", "org/tiny", "--prompts", prompts.toString(), "--root", root.toString());

        assertEquals(0, run.exitCode(), run.err());
        String script = Files.readString(code.resolve(LENS_SCRIPT));
        assertTrue(script.contains("MODEL_ID = 'org/tiny'"), script);
        assertTrue(script.contains("PROBE_ID = 'logit_lens_layers_0_to_4'"), script);
    }

    @Test
    void allowDownloadAcceptsUncachedHubModel() throws IOException {
        ProbeContext context = new ProbeContext(Map.of("HF_HUB_CACHE", root.resolve("empty").toString()), root, root,
                CliRun.FIXED_CLOCK);

        CliRun run = CliRun.execute(context, "probe", "setup", "lens-study", "--intervention", "logit_lens",
                "--model", "org/remote", "--allow-download", "--prompts", prompts.toString(),
                "--root", root.toString());

        assertEquals(0, run.exitCode(), run.err());
        String script = Files.readString(code.resolve("analysis/logit_lens_20261204.py"));
        assertTrue(script.contains("PROBE_ID = 'logit_lens_layers_all'"), script);
        assertTrue(script.contains("LAYERS = None"), script);
    }

    @Test
    void quietHidesFileLines() {
        CliRun run = setup("--quiet");

        assertEquals(0, run.exitCode(), run.err());
        // Warnings stay visible under --quiet; the per-file info lines do not.
        assertTrue(run.err().lines().allMatch(line -> line.startsWith("[auto-research] warning: ")), run.err());
        assertEquals(2, run.out().lines().count(), run.out());
    }

    @Test
    void secondProbeSameDayGetsOwnScript() throws IOException {
        setup();
        CliRun second = setup("--layers", "1", "--probe-id", "lens_layer_one");

        assertEquals(0, second.exitCode(), second.err());
        Path ownScript = code.resolve("analysis/lens_layer_one_20261204.py");
        assertTrue(Files.isRegularFile(ownScript), "no script at " + ownScript);
        assertTrue(Files.readString(ownScript).contains("PROBE_ID = 'lens_layer_one'"));
        assertTrue(Files.readString(code.resolve(LENS_SCRIPT)).contains("PROBE_ID = 'logit_lens_layers_0_to_2'"),
                "the first probe's script was overwritten");
    }

    @Test
    void generatedScriptsByteCompile() throws Exception {
        setup("--hypothesis", "quote ' and \"\"\" and \\ and \u2028 and \u0000");
        Process process = new ProcessBuilder("python3", "-m", "py_compile",
                code.resolve(LENS_SCRIPT).toString(), code.resolve("analysis/lens-study.py").toString(),
                code.resolve("src/lens_study/probe.py").toString())
                .redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);

        assertEquals(0, process.waitFor(), output);
    }
}
