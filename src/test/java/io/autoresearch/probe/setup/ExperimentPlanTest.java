package io.autoresearch.probe.setup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

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
}
