package io.autoresearch.probe.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoresearch.probe.render.TemplateRenderer;
import io.autoresearch.probe.setup.Fixtures;
import io.autoresearch.probe.setup.Intervention;
import io.autoresearch.probe.setup.ModelResolver;
import io.autoresearch.probe.setup.ProjectTool;
import io.autoresearch.probe.setup.SetupService;
import io.autoresearch.probe.setup.SetupValidator;
import io.autoresearch.probe.setup.ToolVersion;
import io.autoresearch.probe.support.Console;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The golden-file helper must render exactly what setup writes for the demo's inputs. */
class DemoScriptsTest {
    @TempDir
    Path root;

    @Test
    void helperMatchesSetupOutput() throws IOException {
        Path code = Fixtures.project(root, DemoInputs.SLUG, DemoInputs.SLUG);
        Fixtures.modelFolder(code.resolve(DemoInputs.MODEL_PATH), 2);
        Fixtures.promptsFile(code.resolve(DemoInputs.PROMPTS_PATH));
        Fixtures.pairsFile(code.resolve(DemoInputs.PAIRS_PATH));
        Fixtures.labelsFile(code.resolve(DemoInputs.LABELS_PATH), 5);
        // As in the demo, the plan exists before setup, so the hypothesis script states its H1.
        Files.writeString(code.resolveSibling("04_EXPERIMENT_PLAN.md"), DemoInputs.experimentPlan());
        Clock clock = Clock.fixed(Instant.parse("2026-12-04T10:00:00Z"), ZoneOffset.UTC);
        String version = ToolVersion.current();
        Console console = new Console(new PrintWriter(new StringWriter()), new PrintWriter(new StringWriter()),
                true, false);
        SetupService setup = new SetupService(
                new SetupValidator(new ModelResolver(Map.of(), root, root), clock, version),
                new FailingProjectTool(), new TemplateRenderer(), console, version);

        for (Intervention intervention : DemoInputs.INTERVENTIONS) {
            setup.setup(DemoInputs.setupOptions(intervention, root, code, true));
        }
        Map<String, String> rendered = new DemoScripts(new TemplateRenderer()).render(LocalDate.of(2026, 12, 4), version);

        assertEquals(List.of("induction-demo.py", "logit_lens_20261204.py", "attention_pattern_20261204.py",
                "activation_patching_20261204.py", "path_patching_20261204.py", "probing_20261204.py",
                "sae_feature_lookup_20261204.py"), List.copyOf(rendered.keySet()));
        for (Map.Entry<String, String> script : rendered.entrySet()) {
            assertEquals(Files.readString(code.resolve("analysis").resolve(script.getKey())), script.getValue(),
                    script.getKey());
        }
    }

    @Test
    void renderedScriptsStartWithDocstring() {
        Map<String, String> rendered = new DemoScripts(new TemplateRenderer()).render(LocalDate.of(2026, 12, 4),
                ToolVersion.current());

        for (Map.Entry<String, String> script : rendered.entrySet()) {
            assertTrue(script.getValue().startsWith("\"\"\""),
                    script.getKey() + " does not start with its module docstring: "
                            + script.getValue().lines().findFirst().orElse(""));
        }
    }

    @Test
    void planStatesQuestionAndHypotheses() {
        String plan = DemoInputs.experimentPlan();

        assertTrue(plan.contains("## Research Questions\n\n- RQ1: At which layer"), plan);
        assertTrue(plan.contains("## Hypotheses\n\n- H1: On the repeated half"), plan);
        assertTrue(plan.contains("(mean rank > 5)"), plan);
        assertTrue(plan.contains("- H0: "), plan);
    }

    @Test
    void writeToCreatesEveryScript() throws IOException {
        List<Path> written = new DemoScripts(new TemplateRenderer())
                .writeTo(root.resolve("analysis"), LocalDate.of(2026, 1, 2), "0.1.0");

        assertEquals(List.of(root.resolve("analysis/induction-demo.py"), root.resolve("analysis/logit_lens_20260102.py"),
                root.resolve("analysis/attention_pattern_20260102.py"),
                root.resolve("analysis/activation_patching_20260102.py"),
                root.resolve("analysis/path_patching_20260102.py"), root.resolve("analysis/probing_20260102.py"),
                root.resolve("analysis/sae_feature_lookup_20260102.py")), written);
        assertTrue(Files.readString(written.get(1)).contains("on 2026-01-02"));
    }

    /** A project tool for tests where the project already exists, so uv must not run. */
    static final class FailingProjectTool implements ProjectTool {
        @Override
        public void init(Path codeDir, String projectName) {
            throw new AssertionError("uv init must not run: " + codeDir);
        }

        @Override
        public void addOptional(Path codeDir, String extra, List<String> requirements) {
            throw new AssertionError("uv add must not run: " + codeDir);
        }
    }
}
