package io.autoresearch.probe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.autoresearch.probe.demo.DemoInputs;
import io.autoresearch.probe.render.PythonLiteral;
import io.autoresearch.probe.setup.Fixtures;
import io.autoresearch.probe.support.ExitCode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code probe plan} and {@code probe setup --rq} on a project whose plan is the demo's. */
class PlanCommandTest {
    private static final String SLUG = "lens-study";
    private static final String LENS_SCRIPT = "analysis/logit_lens_20261204.py";

    @TempDir
    Path root;

    private Path code;
    private Path model;
    private Path prompts;

    @BeforeEach
    void createProject() throws IOException {
        code = Fixtures.project(root, SLUG, SLUG);
        model = Fixtures.modelFolder(root.resolve("models").resolve("tiny"), 2);
        prompts = Fixtures.promptsFile(root.resolve("prompts.jsonl"));
        Files.writeString(code.resolveSibling("04_EXPERIMENT_PLAN.md"), DemoInputs.experimentPlan());
    }

    private CliRun setup(String... extra) {
        List<String> args = new ArrayList<>(List.of("probe", "setup", SLUG, "--intervention", "logit_lens",
                "--model", model.toString(), "--prompts", prompts.toString(), "--root", root.toString()));
        args.addAll(List.of(extra));
        return CliRun.execute(new ProbeContext(Map.of("PATH", ""), root, root, CliRun.FIXED_CLOCK),
                args.toArray(String[]::new));
    }

    @Test
    void planListsQuestionsThenHypotheses() {
        CliRun run = CliRun.execute(root, "probe", "plan", SLUG);

        assertEquals(0, run.exitCode(), run.err());
        List<String> lines = run.out().lines().toList();
        assertEquals(10, lines.size(), run.out());
        assertEquals(DemoInputs.RESEARCH_QUESTION + "\thypothesis: H1", lines.get(0));
        assertEquals(DemoInputs.ATTENTION_QUESTION + "\thypothesis: H2", lines.get(1));
        assertEquals(DemoInputs.REPEAT_QUESTION + "\thypothesis: H5", lines.get(2));
        assertEquals(DemoInputs.HYPOTHESIS + "\tanswers: RQ1", lines.get(3));
        assertTrue(lines.get(9).startsWith("H0: "), lines.get(9));
    }

    @Test
    void planJsonHasQuestionsAndHypotheses() throws IOException {
        CliRun run = CliRun.execute(root, "probe", "plan", SLUG, "--json");

        assertEquals(0, run.exitCode(), run.err());
        JsonNode node = new ObjectMapper().readTree(run.out());
        assertEquals("plan", node.path("command").asText());
        assertEquals(3, node.path("research_questions").size());
        assertEquals("RQ3", node.path("research_questions").get(2).path("id").asText());
        assertEquals("H5", node.path("research_questions").get(2).path("hypothesis").asText());
        assertEquals(7, node.path("hypotheses").size());
        assertEquals("RQ2", node.path("hypotheses").get(1).path("research_questions").get(0).asText());
    }

    @Test
    void planMissingIsUsageError() throws IOException {
        Files.delete(code.resolveSibling("04_EXPERIMENT_PLAN.md"));

        CliRun run = CliRun.execute(root, "probe", "plan", SLUG);

        assertEquals(ExitCode.USAGE.code(), run.exitCode(), run.err());
        assertTrue(run.err().contains("experiment plan not found"), run.err());
    }

    @Test
    void setupRqPutsItsHypothesisInTheScript() throws IOException {
        CliRun run = setup("--rq", "rq2", "--json");

        assertEquals(0, run.exitCode(), run.err());
        JsonNode node = new ObjectMapper().readTree(run.out());
        assertEquals("RQ2", node.path("research_question").asText());
        assertEquals(DemoInputs.ATTENTION_HYPOTHESIS, node.path("hypothesis").asText());
        String script = Files.readString(code.resolve(LENS_SCRIPT));
        assertTrue(script.contains("HYPOTHESIS = " + PythonLiteral.of(DemoInputs.ATTENTION_HYPOTHESIS)), script);
        assertFalse(script.contains("(RQ2)"), script);
        assertTrue(script.contains("\nRESEARCH_QUESTION = 'RQ2'\n"), script);
    }

    @Test
    void setupWithoutRqLeavesQuestionOut() throws IOException {
        CliRun run = setup();

        assertEquals(0, run.exitCode(), run.err());
        String script = Files.readString(code.resolve(LENS_SCRIPT));
        assertFalse(script.contains("RESEARCH_QUESTION"), script);
        assertTrue(script.contains("HYPOTHESIS = " + PythonLiteral.of(DemoInputs.HYPOTHESIS) + "\n\n\ndef main()"),
                script);
    }

    @Test
    void setupRqWithHypothesisIsUsageError() {
        CliRun run = setup("--rq", "RQ1", "--hypothesis", "mine");

        assertEquals(ExitCode.USAGE.code(), run.exitCode(), run.err());
        assertTrue(run.err().contains("--rq RQ1 and --hypothesis cannot be used together"), run.err());
    }

    @Test
    void setupUnknownRqNamesIt() {
        CliRun run = setup("--rq", "RQ7");

        assertEquals(ExitCode.USAGE.code(), run.exitCode(), run.err());
        assertTrue(run.err().contains("research question RQ7 not found"), run.err());
        assertFalse(Files.exists(code.resolve(LENS_SCRIPT)));
    }

    @Test
    void setupRqWithoutHypothesisNamesIt() throws IOException {
        Files.writeString(code.resolveSibling("04_EXPERIMENT_PLAN.md"),
                "## Research Questions\n- RQ1: a\n- RQ2: b\n## Hypotheses\n- H1: only one\n");

        CliRun run = setup("--rq", "RQ2");

        assertEquals(ExitCode.USAGE.code(), run.exitCode(), run.err());
        assertTrue(run.err().contains("no hypothesis for RQ2"), run.err());
    }

    @Test
    void setupInvalidRqIsUsageError() {
        CliRun run = setup("--rq", "question-2");

        assertEquals(ExitCode.USAGE.code(), run.exitCode(), run.err());
        assertTrue(run.err().contains("invalid --rq 'question-2'"), run.err());
    }
}
