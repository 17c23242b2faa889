package io.autoresearch.probe.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.autoresearch.probe.cli.CliRun;
import io.autoresearch.probe.render.TemplateRenderer;
import io.autoresearch.probe.setup.Backend;
import io.autoresearch.probe.setup.Fixtures;
import io.autoresearch.probe.setup.ModelResolver;
import io.autoresearch.probe.setup.ProjectTool;
import io.autoresearch.probe.setup.SetupResult;
import io.autoresearch.probe.setup.SetupService;
import io.autoresearch.probe.setup.SetupValidator;
import io.autoresearch.probe.setup.ToolVersion;
import io.autoresearch.probe.support.Console;
import io.autoresearch.probe.support.ExitCode;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URL;
import java.net.URLClassLoader;
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

/**
 * Tests the demo's workspace steps with a stand-in model on the classpath and a project tool
 * that writes the project instead of running uv. The run step is left out, because it needs
 * the trained model and the Python environment.
 */
class DemoServiceTest {
    @TempDir
    Path root;

    @TempDir
    Path resourceFolder;

    private final List<String> initCalls = new ArrayList<>();
    private StringWriter errors;
    private URLClassLoader resources;

    @BeforeEach
    void createResources() throws IOException {
        Fixtures.modelFolder(resourceFolder.resolve(DemoInputs.MODEL_RESOURCE), 2);
        Files.writeString(resourceFolder.resolve(DemoInputs.MODEL_RESOURCE).resolve("README.md"), "demo model\n");
        Fixtures.promptsFile(resourceFolder.resolve(DemoInputs.PROMPTS_RESOURCE));
        Fixtures.pairsFile(resourceFolder.resolve(DemoInputs.PAIRS_RESOURCE));
        Fixtures.labelsFile(resourceFolder.resolve(DemoInputs.LABELS_RESOURCE), 5);
        resources = new URLClassLoader(new URL[] {resourceFolder.toUri().toURL()}, null);
    }

    private DemoService.DemoResult runDemo() {
        return runDemo(false);
    }

    private DemoService.DemoResult runDemo(boolean force) {
        return runDemo(force, Backend.TRANSFORMER_LENS);
    }

    private DemoService.DemoResult runDemo(boolean force, Backend backend) {
        Clock clock = Clock.fixed(Instant.parse("2026-12-04T10:00:00Z"), ZoneOffset.UTC);
        String version = ToolVersion.current();
        errors = new StringWriter();
        Console console = new Console(new PrintWriter(new StringWriter()), new PrintWriter(errors), false, false);
        ProjectTool projectTool = new ProjectTool() {
            @Override
            public void init(Path codeDir, String projectName) {
                initCalls.add(projectName);
                try {
                    Fixtures.project(root, DemoInputs.SLUG, projectName);
                } catch (IOException e) {
                    throw new AssertionError(e);
                }
            }

            @Override
            public void addOptional(Path codeDir, String extra, List<String> requirements) {
                throw new AssertionError("the fake project already declares the pins");
            }
        };
        SetupService setup = new SetupService(
                new SetupValidator(new ModelResolver(Map.of(), root, root), clock, version), projectTool,
                new TemplateRenderer(), console, version);
        return new DemoService(setup, projectTool, null, console, version, resources)
                .run(root, false, false, force, backend);
    }

    @Test
    void nnsightDemoUsesNnsightForThree() throws IOException {
        DemoService.DemoResult result = runDemo(false, Backend.NNSIGHT);

        Path code = root.resolve(".research/induction-demo/code");
        JsonNode manifest = new ObjectMapper().readTree(code.resolve(".auto-research/manifest.json").toFile());
        Map<String, String> backends = new java.util.LinkedHashMap<>();
        for (JsonNode probe : manifest.path("probes")) {
            backends.put(probe.path("probe_id").asText(), probe.path("backend").asText());
        }
        assertEquals(Map.of("logit_lens_layers_0_to_2", "nnsight", "attention_pattern_layers_0_to_1",
                "transformer_lens", "activation_patching_layers_0_to_1", "nnsight", "path_patching_receiver_auto",
                "transformer_lens", "probing_layers_0_to_1", "nnsight", "sae_feature_lookup_layer_1",
                "transformer_lens"), backends);
        for (SetupResult setup : result.setups()) {
            String script = Files.readString(setup.script());
            boolean nnsight = backends.get(setup.plan().probeId()).equals("nnsight");
            assertEquals(nnsight, script.contains("REMOTE = False\n"), setup.script().toString());
        }
    }

    @Test
    void demoRejectsAutoBackend() throws IOException {
        Map<String, String> before = Fixtures.tree(root);

        CliRun run = CliRun.execute(root, "probe", "demo", "--backend", "auto", "--root", root.toString());

        assertEquals(ExitCode.USAGE.code(), run.exitCode(), run.err());
        assertTrue(run.err().contains("invalid --backend 'auto'; use transformer_lens or nnsight"), run.err());
        assertEquals(before, Fixtures.tree(root));
    }

    @Test
    void transformerLensDemoRecordsItsBackend() throws IOException {
        runDemo();

        JsonNode manifest = new ObjectMapper().readTree(root.resolve(
                ".research/induction-demo/code/.auto-research/manifest.json").toFile());
        assertEquals(6, manifest.path("probes").size());
        for (JsonNode probe : manifest.path("probes")) {
            assertEquals("transformer_lens", probe.path("backend").asText(), probe.toString());
        }
    }

    @Test
    void demoBuildsWorkspace() throws IOException {
        DemoService.DemoResult result = runDemo();

        Path research = root.resolve(".research/induction-demo");
        Path code = research.resolve("code");
        assertEquals(List.of("induction-demo"), initCalls);
        assertNull(result.run());
        assertEquals(DemoInputs.experimentPlan(), Files.readString(research.resolve("04_EXPERIMENT_PLAN.md")));
        assertTrue(Files.isRegularFile(code.resolve("models/induction-demo-model/config.json")));
        assertTrue(Files.isRegularFile(code.resolve("models/induction-demo-model/README.md")));
        assertTrue(Files.isRegularFile(code.resolve("data/prompts.jsonl")));
        String script = Files.readString(code.resolve("analysis/logit_lens_20261204.py"));
        assertTrue(script.contains("MODEL_ID = 'models/induction-demo-model'"), script);
        assertTrue(script.contains("PROBE_ID = 'logit_lens_layers_0_to_2'"), script);
        assertTrue(script.contains("LAYERS = None"), script);
        assertTrue(script.contains("HYPOTHESIS = 'H1: On the repeated half"), script);
        assertEquals("logit_lens_layers_0_to_2", result.setup().plan().probeId());
        assertEquals(List.of(0, 1, 2), result.setup().plan().lensLayers());
        assertTrue(Files.isRegularFile(code.resolve("data/pairs.jsonl")));
        assertEquals(List.of("logit_lens_layers_0_to_2", "attention_pattern_layers_0_to_1",
                "activation_patching_layers_0_to_1", "path_patching_receiver_auto", "probing_layers_0_to_1",
                "sae_feature_lookup_layer_1"),
                result.setups().stream().map(setup -> setup.plan().probeId()).toList());
        String pathScript = Files.readString(code.resolve("analysis/path_patching_20261204.py"));
        assertTrue(pathScript.contains("PAIRS_PATH = 'data/pairs.jsonl'"), pathScript);
        assertTrue(pathScript.contains("RECEIVER = 'auto'"), pathScript);
        assertTrue(pathScript.contains("HYPOTHESIS = 'H4: "), pathScript);
        String mainScript = Files.readString(code.resolve("analysis/induction-demo.py"));
        assertTrue(mainScript.contains("HYPOTHESIS = 'H1: On the repeated half"), mainScript);
        for (String probeId : List.of("logit_lens_layers_0_to_2", "attention_pattern_layers_0_to_1",
                "activation_patching_layers_0_to_1", "path_patching_receiver_auto")) {
            assertTrue(mainScript.contains("('" + probeId + "', "), mainScript);
        }
    }

    @Test
    void rerunKeepsEditedFiles() throws IOException {
        runDemo();
        Path research = root.resolve(".research/induction-demo");
        Path plan = research.resolve("04_EXPERIMENT_PLAN.md");
        Path script = research.resolve("code/analysis/induction-demo.py");
        Path readme = research.resolve("code/models/induction-demo-model/README.md");
        Files.writeString(plan, "# my plan\n");
        Files.writeString(script, "# my analysis\n");
        Files.writeString(readme, "my notes\n");

        runDemo();

        assertEquals(List.of("induction-demo"), initCalls);
        assertEquals("# my plan\n", Files.readString(plan));
        assertEquals("# my analysis\n", Files.readString(script));
        assertEquals("my notes\n", Files.readString(readme));
        assertTrue(errors.toString().contains("skipped (edited; use --force to overwrite) analysis/induction-demo.py"),
                errors.toString());
        assertTrue(errors.toString().contains("kept analysis/logit_lens_20261204.py"), errors.toString());
    }

    @Test
    void forceOverwritesEditedFiles() throws IOException {
        runDemo();
        Path research = root.resolve(".research/induction-demo");
        Path plan = research.resolve("04_EXPERIMENT_PLAN.md");
        Path script = research.resolve("code/analysis/induction-demo.py");
        Path readme = research.resolve("code/models/induction-demo-model/README.md");
        Files.writeString(plan, "# my plan\n");
        Files.writeString(script, "# my analysis\n");
        Files.writeString(readme, "my notes\n");

        runDemo(true);

        assertEquals("# my plan\n", Files.readString(plan), "the plan is written only when it is missing");
        assertTrue(Files.readString(script).contains("PROBES = ["), Files.readString(script));
        assertEquals("demo model\n", Files.readString(readme));
        assertTrue(errors.toString().contains("wrote analysis/induction-demo.py"), errors.toString());
    }

    @Test
    void demoHelpListsForce() {
        CliRun run = CliRun.execute(root, "probe", "demo", "--help");

        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.out().contains("--force"), run.out());
        assertTrue(run.out().contains("Overwrite demo files and scripts you edited"), run.out());
    }
}
