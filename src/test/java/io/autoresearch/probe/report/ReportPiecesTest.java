package io.autoresearch.probe.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.autoresearch.probe.render.TemplateRenderer;
import io.autoresearch.probe.workspace.Slug;
import io.autoresearch.probe.workspace.Workspace;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The report's formatting, escaping, table limit, status text and next-probe choice, on edited demo results. */
class ReportPiecesTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path root;

    private ObjectNode demo(String probeId) throws IOException {
        return (ObjectNode) JSON.readTree(DemoWorkspace.REPOSITORY.resolve("results/probe/" + probeId + ".json")
                .toFile());
    }

    private ProbeSummary summary(ObjectNode document) throws IOException {
        Workspace workspace = new Workspace(root, Slug.parse(DemoWorkspace.SLUG));
        // The model folder the demo results name, so the next setup command can name it.
        Files.createDirectories(workspace.codeDir().resolve("models").resolve("induction-demo-model"));
        ProbeResults results = new ProbeResults(workspace.resultsFile(document.path("probe_id").asText()),
                "results/probe/" + document.path("probe_id").asText() + ".json", document);
        return new ProbeSummary(results, workspace, null, null);
    }

    @Test
    void numbersHaveThreeSignificantDigits() {
        assertEquals("0.591", Format.number(0.5913629280403256));
        assertEquals("98.9", Format.number(98.91145833333333));
        assertEquals("102.5", Format.number(102.5));
        assertEquals("-10.8", Format.number(-10.817747130990028));
        assertEquals("0.0980", Format.number(0.09799577843991705));
        assertEquals("2.75e-06", Format.number(2.7464641069471073e-06));
        assertEquals("0", Format.number(0.0));
        assertEquals("0", Format.number(-0.0));
        assertEquals("1", Format.number(1.0));
        assertEquals("not reported", Format.number((Double) null));
        assertEquals("0.591 [0.586, 0.596]", Format.estimate(0.5913, new double[] {0.5861, 0.5964}));
    }

    @Test
    void markdownEscapesOnlyWhatBreaksTheStructure() {
        assertEquals("a \\| b c", Markdown.cell("a | b\n c"));
        assertEquals("rank < 5 & *kept*", Markdown.inline("rank < 5 & *kept*"));
        assertEquals("\\# not a heading", Markdown.paragraph("# not a heading"));
        assertEquals("\\1. not a list", Markdown.paragraph("1. not a list"));
        assertEquals("`abc`", Markdown.code("abc"));
        assertEquals("``a`b``", Markdown.code("a`b"));
        assertEquals("`` `edge ``", Markdown.code("`edge"));
    }

    @Test
    void linksAreRelativeAndPercentEncoded() {
        Path folder = Path.of("/w/.research/s/06_RUNS/attention");
        assertEquals("../../code/results/probe/my%20plot%20%28v2%29.png",
                Links.relative(folder, Path.of("/w/.research/s/code/results/probe/my plot (v2).png")));
    }

    @Test
    void largeTablesKeepTopValuesPerMetric() throws IOException {
        ObjectNode document = demo("attention_pattern_layers_0_to_1");
        ArrayNode components = document.putArray("components");
        for (int i = 0; i < 50; i++) {
            for (String score : List.of("previous_token", "induction")) {
                components.addObject().put("name", "L" + i + "H0 " + score).put("value", i / 100.0)
                        .set("ci_95", JSON.createArrayNode().add(i / 100.0).add(i / 100.0));
            }
        }

        ProbeSummary summary = summary(document);

        List<ProbeSummary.ResultRow> rows = summary.resultRows();
        assertEquals(64, rows.size());
        assertEquals(32, rows.stream().filter(row -> row.metric().equals("induction_score")).count());
        assertTrue(rows.stream().noneMatch(row -> row.component().equals("L17H0")), "L17H0 is not in the top 32");
        assertTrue(rows.stream().anyMatch(row -> row.component().equals("L18H0")));
        assertNotNull(summary.omittedNote());
        assertTrue(summary.omittedNote().contains("64 of 100 rows"), summary.omittedNote());
        String markdown = new TemplateRenderer().render(ReportService.REPORT_TEMPLATE,
                ReportScopes.markdown(summary, root, "test"));
        assertTrue(markdown.contains("\n\n" + summary.omittedNote() + "\n"), markdown);
        String page = new HtmlRenderer().render(ReportService.PAGE_TEMPLATE, new ReportScopes.Page("induction-demo",
                "test", 1, 0, false, List.of(ReportScopes.card(summary, root, root.resolve("r.md"))), List.of()));
        assertTrue(page.contains("<p>" + summary.omittedNote() + "</p>"), page);
    }

    @Test
    void smallSamplesAreCalledAHypothesis() throws IOException {
        ObjectNode document = demo("logit_lens_layers_0_to_2");
        document.put("status", "exploratory");
        document.put("n_examples", 8);
        document.putArray("seeds").add(0);

        ProbeSummary summary = summary(document);

        assertTrue(summary.statusRule().contains("This probe has 8 examples × 1 seed: treat it as a hypothesis"),
                summary.statusRule());
        assertEquals("8 examples per seed × 1 seed = 8 examples", summary.sampleSize());
    }

    @Test
    void missingControlsAreNamed() throws IOException {
        ObjectNode document = demo("logit_lens_layers_0_to_2");
        document.remove(List.of("shuffled_control_mean", "random_baseline", "noise_floor", "effect_size"));

        ProbeSummary summary = summary(document);

        assertTrue(summary.checkNotes().get(0).contains("neither a shuffled control nor a random baseline"),
                summary.checkNotes().toString());
        assertTrue(summary.checkRows().stream().anyMatch(row -> row.label().equals("Noise floor")
                && row.value().equals("not reported")));
        assertNull(summary.omittedNote());
    }

    @Test
    void noInductionHeadLeadsToActivationPatching() throws IOException {
        ObjectNode document = demo("attention_pattern_layers_0_to_1");
        ObjectNode induction = (ObjectNode) document.path("top_heads").path("induction");
        induction.put("value", 0.03).set("ci_95", JSON.createArrayNode().add(0.02).add(0.04));

        NextProbe.Suggestion next = summary(document).next();

        assertTrue(next.text().startsWith("No head's induction score clears its controls"), next.text());
        assertEquals("auto-research probe setup induction-demo --intervention activation_patching"
                + " --model .research/induction-demo/code/models/induction-demo-model --layers all --pairs PAIRS.jsonl",
                next.command());
    }

    @Test
    void frozenMlpPathLeadsToAttentionPatterns() throws IOException {
        ObjectNode document = demo("path_patching_receiver_auto");
        document.put("freeze_mlps", true);

        NextProbe.Suggestion next = summary(document).next();

        assertTrue(next.text().contains("K-composition implies that L0H3 is a previous-token head and L1H3 an"
                + " induction head"), next.text());
        assertEquals("auto-research probe setup induction-demo --intervention attention_pattern"
                + " --model .research/induction-demo/code/models/induction-demo-model --layers 0-1", next.command());
    }

    @Test
    void nnsightLensSuggestsNnsightPatching() throws IOException {
        ObjectNode document = demo("logit_lens_layers_0_to_2");
        document.put("backend", "nnsight");
        ((ObjectNode) document.get("provenance")).put("remote", true);

        NextProbe.Suggestion next = summary(document).next();

        assertTrue(next.command().startsWith("auto-research probe setup induction-demo --intervention"
                + " activation_patching --model .research/induction-demo/code/models/induction-demo-model"
                + " --backend nnsight --remote --layers "), next.command());
    }

    @Test
    void localNnsightProbeSuggestsNoRemote() throws IOException {
        ObjectNode document = demo("logit_lens_layers_0_to_2");
        document.put("backend", "nnsight");

        String command = summary(document).next().command();

        assertTrue(command.contains(" --backend nnsight "), command);
        assertTrue(!command.contains("--remote"), command);
    }

    @Test
    void transformerLensOnlyNextProbeNamesNoBackend() throws IOException {
        ObjectNode document = demo("path_patching_receiver_auto");
        document.put("freeze_mlps", true);
        document.put("backend", "nnsight");

        NextProbe.Suggestion next = summary(document).next();

        assertEquals("auto-research probe setup induction-demo --intervention attention_pattern"
                + " --model .research/induction-demo/code/models/induction-demo-model --layers 0-1", next.command());
    }

    @Test
    void transformerLensProbeSuggestsNoBackend() throws IOException {
        String command = summary(demo("logit_lens_layers_0_to_2")).next().command();

        assertTrue(command.contains("--intervention activation_patching"), command);
        assertTrue(!command.contains("--backend"), command);
    }

    @Test
    void methodNotesNameTheBackend() throws IOException {
        ObjectNode old = demo("logit_lens_layers_0_to_2");
        old.remove("backend");
        assertTrue(methodNote(summary(old), "Backend").startsWith("transformer_lens (the results file names no"
                + " backend"), methodNote(summary(old), "Backend"));

        ObjectNode nnsight = demo("logit_lens_layers_0_to_2");
        nnsight.put("backend", "nnsight");
        ((ObjectNode) nnsight.get("provenance")).put("remote", false);
        ((ObjectNode) nnsight.get("provenance")).put("device_map", "balanced");
        assertEquals("nnsight, run locally, device_map balanced", methodNote(summary(nnsight), "Backend"));
        assertNull(methodNote(summary(nnsight), "Precision"));
    }

    @Test
    void methodNotesReportThePrecisionCheck() throws IOException {
        ObjectNode document = demo("logit_lens_layers_0_to_2");
        document.put("backend", "nnsight");
        ObjectNode check = document.putObject("precision_check");
        check.put("dtype", "bfloat16");
        check.put("reference_dtype", "float32");
        check.put("n_examples", 16);
        check.put("metric", "rank_of_correct_token");
        check.put("max_abs_diff", 2.5);
        check.put("mean_abs_diff", 0.25);
        check.put("within_tolerance", false);
        check.put("tolerance", 1.0);

        String note = methodNote(summary(document), "Precision");

        assertNotNull(note);
        assertTrue(note.startsWith("bfloat16 run re-checked in float32 on 16 examples: rank_of_correct_token"),
                note);
        assertTrue(note.contains("2.5"), note);
        assertTrue(note.contains("OUTSIDE the tolerance 1"), note);
    }

    private static String methodNote(ProbeSummary summary, String label) {
        return summary.methodNotes().stream().filter(row -> row.label().equals(label)).map(ProbeSummary.Row::value)
                .findFirst().orElse(null);
    }

    @Test
    void hypothesisFallsBackToPlanThenNote() throws IOException {
        ObjectNode document = demo("logit_lens_layers_0_to_2");
        document.remove("hypothesis");
        Workspace workspace = new Workspace(root, Slug.parse(DemoWorkspace.SLUG));
        ProbeResults results = new ProbeResults(workspace.resultsFile("logit_lens_layers_0_to_2"),
                "results/probe/logit_lens_layers_0_to_2.json", document);

        assertEquals(ProbeSummary.HypothesisSource.PLAN,
                new ProbeSummary(results, workspace, " ", "H1: from the plan").hypothesisSource());
        ProbeSummary none = new ProbeSummary(results, workspace, null, null);
        assertEquals(ProbeSummary.HypothesisSource.NONE, none.hypothesisSource());
        assertTrue(none.hypothesis().contains("pass --hypothesis TEXT"), none.hypothesis());
    }
}
