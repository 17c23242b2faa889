package io.autoresearch.probe.setup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoresearch.probe.demo.DemoInputs;
import io.autoresearch.probe.support.ProbeException;
import java.util.List;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ExperimentPlanTest {
    @TempDir
    Path folder;

    private Path plan(String... lines) throws IOException {
        return Files.writeString(folder.resolve("04_EXPERIMENT_PLAN.md"), String.join("\n", lines) + "\n");
    }

    @Test
    void firstListItemIsReturned() throws IOException {
        Path plan = plan("# Plan", "## Research Questions", "- RQ1: where?", "", "## Hypotheses", "",
                "- **H1**: rank drops", "  after layer 1.", "- H0: no change.", "## Next");

        assertEquals("**H1**: rank drops after layer 1.", ExperimentPlan.firstHypothesis(plan));
    }

    @Test
    void numberedItemAndParagraphWork() throws IOException {
        assertEquals("H1: forms late.", ExperimentPlan.firstHypothesis(plan("## Hypotheses", "1. H1: forms late.")));
        assertEquals("H1 as a paragraph",
                ExperimentPlan.firstHypothesis(plan("## Hypotheses", "H1 as a", "paragraph", "", "H0")));
    }

    @Test
    void missingSectionReturnsNull() throws IOException {
        assertNull(ExperimentPlan.firstHypothesis(plan("# Plan", "## Research Questions", "- RQ1")));
        assertNull(ExperimentPlan.firstHypothesis(plan("## Hypotheses", "", "## Next", "- x")));
        assertNull(ExperimentPlan.firstHypothesis(folder.resolve("missing.md")));
    }

    @Test
    void itemsHaveIdsAndTags() throws IOException {
        ExperimentPlan.Plan plan = ExperimentPlan.read(plan("## Research Questions", "", "- RQ1: where?",
                "- **RQ2**: which head?", "- open question", "", "## Hypotheses", "- H1: late (RQ1).",
                "- H2 (rq2, RQ1): a head", "  in layer 1.", "", "## Next"));

        assertEquals(List.of("RQ1", "RQ2"), plan.questions().stream().limit(2).map(ExperimentPlan.Item::id).toList());
        assertNull(plan.questions().get(2).id());
        assertEquals("H1: late.", plan.hypotheses().get(0).text());
        assertEquals("H2: a head in layer 1.", plan.hypotheses().get(1).text());
        assertEquals(List.of("RQ2", "RQ1"), plan.hypotheses().get(1).questions());
    }

    @Test
    void taggedQuestionMapsToFirstTaggedHypothesis() throws IOException {
        ExperimentPlan.Plan plan = ExperimentPlan.read(plan(DemoInputs.experimentPlan()));

        assertEquals(DemoInputs.HYPOTHESIS, plan.hypothesisFor("RQ1").text());
        assertEquals(DemoInputs.ATTENTION_HYPOTHESIS, plan.hypothesisFor("RQ2").text());
        assertEquals(DemoInputs.PROBING_HYPOTHESIS, plan.hypothesisFor("RQ3").text());
        assertEquals(DemoInputs.HYPOTHESIS, ExperimentPlan.firstHypothesis(plan.file()));
    }

    @Test
    void untaggedQuestionMapsByNumber() throws IOException {
        ExperimentPlan.Plan plan = ExperimentPlan.read(plan("## Research Questions", "- RQ1: a", "- RQ2: b", "- RQ3: c",
                "## Hypotheses", "- H2: second", "- H1: first"));

        assertEquals("H2: second", plan.hypothesisFor("RQ2").text());
        assertEquals("H1: first", plan.hypothesisFor("RQ1").text());
        ProbeException missing = assertThrows(ProbeException.class, () -> plan.hypothesisFor("RQ3"));
        assertTrue(missing.getMessage().contains("no hypothesis for RQ3"), missing.getMessage());
        assertTrue(missing.getMessage().contains("H3"), missing.getMessage());
    }

    @Test
    void unknownQuestionNamesTheListedOnes() throws IOException {
        ExperimentPlan.Plan plan = ExperimentPlan.read(plan("## Research Questions", "- RQ1: a", "## Hypotheses",
                "- H1: x (RQ1)"));

        ProbeException unknown = assertThrows(ProbeException.class, () -> plan.hypothesisFor("RQ4"));
        assertTrue(unknown.getMessage().contains("research question RQ4 not found"), unknown.getMessage());
        assertTrue(unknown.getMessage().contains("it lists RQ1"), unknown.getMessage());
    }
}
