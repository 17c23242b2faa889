package io.autoresearch.probe.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.autoresearch.probe.cli.CliRun;
import io.autoresearch.probe.support.ExitCode;
import java.io.IOException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code probe report} on a copy of the demo's committed results, through the command line. */
class ReportCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<String> SECTIONS = List.of("## Hypothesis", "## Method", "## Setup", "## Results",
            "## Causal Check", "## Limitations & Next Probe");
    private static final Pattern MARKDOWN_LINK = Pattern.compile("\\]\\(([^)\\s]+)\\)");
    private static final Pattern HTML_LINK = Pattern.compile("(?:src|href)=\"([^\"]*)\"");

    @TempDir
    Path root;

    private CliRun report(String... extra) {
        List<String> args = new ArrayList<>(List.of("probe", "report", DemoWorkspace.SLUG, "--root", root.toString()));
        args.addAll(List.of(extra));
        return CliRun.execute(root, args.toArray(String[]::new));
    }

    private Path reportFile(String probeId) {
        return DemoWorkspace.reportsDir(root).resolve(probeId + ".md");
    }

    private String read(Path file) throws IOException {
        return Files.readString(file, StandardCharsets.UTF_8);
    }

    private JsonNode results(String probeId) throws IOException {
        return JSON.readTree(DemoWorkspace.resultsDir(root).resolve(probeId + ".json").toFile());
    }

    /** Returns the text of one {@code ## } section of a report, without its heading. */
    private static String section(String report, String heading) {
        int start = report.indexOf(heading + "\n");
        assertTrue(start >= 0, "no section " + heading + " in:\n" + report);
        int end = report.indexOf("\n## ", start + heading.length());
        return report.substring(start + heading.length(), end < 0 ? report.length() : end);
    }

    @Test
    void collatesEveryDemoProbeIntoTheIndex() throws IOException {
        DemoWorkspace.create(root);

        CliRun run = report();

        assertEquals(ExitCode.SUCCESS.code(), run.exitCode(), run.err());
        for (String probe : DemoWorkspace.PROBES) {
            assertTrue(run.out().contains(reportFile(probe) + "\twrote"), run.out());
        }
        Path index = DemoWorkspace.resultsDir(root).resolve("index.json");
        assertTrue(run.out().contains(index + "\twrote"), run.out());
        JsonNode collated = JSON.readTree(index.toFile());
        assertEquals("induction-demo", collated.path("slug").asText());
        assertEquals("code/", collated.path("paths_relative_to").asText());
        assertEquals(0, collated.path("invalid").size());
        JsonNode probes = collated.path("probes");
        assertEquals(DemoWorkspace.PROBES.size(), probes.size());
        for (int i = 0; i < probes.size(); i++) {
            JsonNode probe = probes.get(i);
            String id = DemoWorkspace.PROBES.get(i);
            JsonNode results = results(id);
            assertEquals(id, probe.path("probe_id").asText());
            for (String field : List.of("intervention", "status", "metric", "primary_metric", "mean", "ci_95",
                    "n_examples", "seeds", "artifacts")) {
                assertEquals(results.path(field), probe.path(field), id + " " + field);
            }
            assertEquals(results.path("provenance").path("run_id"), probe.path("run_id"), id);
            assertEquals(results.path("provenance").path("created_at"), probe.path("created_at"), id);
            assertEquals("results/probe/" + id + ".json", probe.path("results").asText());
            assertEquals("../06_RUNS/attention/" + id + ".md", probe.path("report").asText());
            Path code = DemoWorkspace.codeDir(root);
            assertTrue(Files.isRegularFile(code.resolve(probe.path("report").asText()).normalize()), id);
        }
    }

    @Test
    void reportsHaveTheAnalystSectionsAndTables() throws IOException {
        DemoWorkspace.create(root);

        assertEquals(ExitCode.SUCCESS.code(), report().exitCode());

        for (String probe : DemoWorkspace.PROBES) {
            String text = read(reportFile(probe));
            int previous = -1;
            for (String heading : SECTIONS) {
                int at = text.indexOf("\n" + heading + "\n");
                assertTrue(at > previous, probe + ": " + heading + " missing or out of order");
                previous = at;
            }
            JsonNode results = results(probe);
            assertTrue(text.startsWith("<!-- Written by auto-research probe report"), probe);
            assertTrue(section(text, "## Hypothesis").contains(results.path("hypothesis").asText()), probe);
            assertTrue(section(text, "## Hypothesis").contains("Source: the results file."), probe);
            String setup = section(text, "## Setup");
            JsonNode provenance = results.path("provenance");
            for (String field : List.of("weights_sha256", "script", "script_sha256", "run_id", "device", "dtype")) {
                assertTrue(setup.contains(provenance.path(field).asText()), probe + " setup lacks " + field);
            }
            assertTrue(setup.contains("| N | 64 examples per seed × 3 seeds = 192 examples |"), setup);
            assertTrue(setup.contains("| Seeds | 0, 1, 2 |"), setup);
            assertTrue(setup.contains("transformer-lens 3.5.1"), setup);
            assertTrue(setup.contains("| Dataset | "), setup);
            assertFalse(setup.contains("| Dataset | not recorded"), setup);
            String check = section(text, "## Causal Check");
            for (String row : List.of("| Shuffled control (mean) | ", "| Random baseline | ", "| Noise floor | ",
                    "| Effect size (Cohen's d) | ")) {
                assertTrue(check.contains(row), probe + " causal check lacks " + row);
            }
            assertFalse(check.contains("not reported"), check);
            assertTrue(check.contains("**Status: result.**"), check);
            assertTrue(check.contains("at least 64 examples per seed"), check);
            assertTrue(check.contains("at least 3 seeds"), check);
            String limits = section(text, "## Limitations & Next Probe");
            for (JsonNode explanation : results.path("alternative_explanations_not_ruled_out")) {
                assertTrue(limits.contains("- " + explanation.asText()), probe + " lacks an explanation");
            }
            assertTrue(limits.contains("**Next probe.**"), limits);
            assertTrue(limits.contains("auto-research probe setup induction-demo --intervention")
                    || limits.contains("uv run --extra attention python analysis/"), limits);

            String table = section(text, "## Results");
            assertTrue(table.contains("| Component | Metric | Value | 95% CI |\n|---|---|---|---|\n"), table);
            long rows = table.lines().filter(line -> line.startsWith("| ") && !line.startsWith("| Component"))
                    .count();
            int components = results.path("components").size();
            int expected = components > 0 ? components : 3 * results.path("layers").size();
            assertEquals(expected, rows, probe + " table rows");
        }

        String lens = read(reportFile("logit_lens_layers_0_to_2"));
        // The values of the committed results/probe/logit_lens_layers_0_to_2.json, as the report rounds them.
        assertTrue(lens.contains("| layer 0 | rank_of_correct_token | 103.5 | [94.9, 112.1] |"), lens);
        assertTrue(lens.contains("| layer 2 | log_prob_of_correct_token | -0.491 | [-0.623, -0.375] |"), lens);
        assertTrue(lens.contains("nostalgebraist (2020)"), lens);
        assertTrue(lens.contains("--intervention activation_patching"
                + " --model .research/induction-demo/code/models/induction-demo-model --layers 1"), lens);

        String attention = read(reportFile("attention_pattern_layers_0_to_1"));
        assertTrue(attention.contains("| L1H3 | induction_score | 0.591 | [0.586, 0.596] |"), attention);
        assertTrue(attention.contains("| L0H3 | previous_token_score | 0.422 | [0.421, 0.423] |"), attention);
        assertTrue(attention.contains("Olsson et al. (2022)"), attention);
        assertTrue(attention.contains("Elhage et al. (2021)"), attention);
        assertTrue(section(attention, "## Limitations & Next Probe").contains("Path-patch the top previous-token"
                + " head L0H3"), attention);
        assertTrue(attention.contains("--intervention path_patching --model .research/induction-demo/code/models/induction-demo-model"
                + " --receiver L1H3"), attention);
        assertTrue(attention.contains("Attention views (HTML, open offline):"), attention);

        String patching = read(reportFile("activation_patching_layers_0_to_1"));
        assertTrue(patching.contains("| L0H3 head_out | normalised_logit_diff_recovered | 0.999 | [0.998, 1.00] |"),
                patching);
        assertTrue(patching.contains("Meng et al. (2022)"), patching);
        assertTrue(patching.contains("Heimersheim & Nanda (2024)"), patching);
        assertTrue(patching.contains("--intervention path_patching --model .research/induction-demo/code/models/induction-demo-model"
                + " --receiver L1H3"), patching);

        String path = read(reportFile("path_patching_receiver_auto"));
        assertTrue(path.contains("| L0H3 -> L1H3.k | fraction_of_logit_diff_carried | 0.387 | [0.376, 0.398] |"),
                path);
        assertTrue(path.contains("Wang et al. (2023)"), path);
        assertTrue(path.contains("Set FREEZE_MLPS = True in analysis/path_patching_20261205.py"), path);
    }

    @Test
    void reportLinksResolveFromTheReportFolder() throws IOException {
        DemoWorkspace.create(root);

        assertEquals(ExitCode.SUCCESS.code(), report().exitCode());

        Path folder = DemoWorkspace.reportsDir(root);
        for (String probe : DemoWorkspace.PROBES) {
            String text = read(reportFile(probe));
            List<String> images = new ArrayList<>();
            Matcher image = Pattern.compile("!\\[[^\\]]*\\]\\(([^)]+)\\)").matcher(text);
            while (image.find()) {
                images.add(image.group(1));
            }
            List<String> expected = new ArrayList<>();
            results(probe).path("artifacts").forEach(artifact -> {
                if (artifact.asText().endsWith(".png")) {
                    expected.add("../../code/" + artifact.asText());
                }
            });
            assertEquals(expected, images, probe);
            Matcher link = MARKDOWN_LINK.matcher(text);
            int links = 0;
            while (link.find()) {
                Path target = folder.resolve(URLDecoder.decode(link.group(1), StandardCharsets.UTF_8)).normalize();
                assertTrue(Files.isRegularFile(target), probe + ": link " + link.group(1) + " does not resolve");
                links++;
            }
            assertTrue(links >= 2, probe);
        }
        String attention = read(reportFile("attention_pattern_layers_0_to_1"));
        assertTrue(attention.contains("(../../code/results/probe/attention_pattern_layers_0_to_1_layer1.html)"));
    }

    @Test
    void pageLinksEveryProbeOffline() throws IOException {
        DemoWorkspace.create(root);

        assertEquals(ExitCode.SUCCESS.code(), report().exitCode());

        Path page = DemoWorkspace.resultsDir(root).resolve("index.html");
        String html = read(page);
        assertFalse(html.contains("://"), "the page names a URL with a scheme");
        List<String> targets = new ArrayList<>();
        Matcher link = HTML_LINK.matcher(html);
        while (link.find()) {
            targets.add(link.group(1));
        }
        for (String target : targets) {
            if (target.startsWith("#")) {
                assertTrue(html.contains("id=\"" + target.substring(1) + "\""), target);
                continue;
            }
            assertFalse(target.startsWith("/"), target);
            Path file = page.getParent().resolve(URLDecoder.decode(target, StandardCharsets.UTF_8)).normalize();
            assertTrue(Files.isRegularFile(file), "page link " + target + " does not resolve");
        }
        for (String probe : DemoWorkspace.PROBES) {
            assertTrue(targets.contains("#probe-" + probe), probe);
            assertTrue(targets.contains(probe + ".json"), probe);
            assertTrue(targets.contains("../../../06_RUNS/attention/" + probe + ".md"), probe);
            for (JsonNode artifact : results(probe).path("artifacts")) {
                // Artifacts lie in results/probe/ or a folder inside it, such as a trained SAE's.
                String name = Path.of("results/probe").relativize(Path.of(artifact.asText())).toString();
                assertTrue(targets.contains(name), probe + " lacks " + name);
                if (name.endsWith(".png")) {
                    assertTrue(html.contains("<img src=\"" + name + "\""), name);
                }
            }
        }
    }

    @Test
    void invalidFilesAreReportedAndLeftOut() throws IOException {
        DemoWorkspace.create(root);
        Path resultsDir = DemoWorkspace.resultsDir(root);
        ObjectNode broken = (ObjectNode) results("logit_lens_layers_0_to_2");
        broken.put("probe_id", "broken_lens");
        ((ArrayNode) broken.path("ci_per_layer")).set(0, JSON.createArrayNode().add(200.0).add(100.0));
        broken.remove("provenance");
        Files.writeString(resultsDir.resolve("broken_lens.json"), JSON.writeValueAsString(broken));
        Files.writeString(resultsDir.resolve("truncated.json"), "{\"probe_id\": \"truncated\", ");

        CliRun run = report();

        assertEquals(ExitCode.VALIDATION_FAILED.code(), run.exitCode(), run.err());
        Path brokenFile = resultsDir.resolve("broken_lens.json");
        assertTrue(run.out().contains(brokenFile + "\tinvalid ("), run.out());
        assertTrue(run.out().contains(resultsDir.resolve("truncated.json") + "\tinvalid (1 problem)"), run.out());
        assertTrue(run.err().contains(brokenFile + ": $.ci_per_layer[0]: "), run.err());
        assertTrue(run.err().contains("[interval-order]"), run.err());
        assertTrue(run.err().contains("[schema:required]"), run.err());
        assertTrue(run.err().contains("[json-syntax]"), run.err());
        assertTrue(run.err().contains("2 of " + (DemoWorkspace.PROBES.size() + 2)
                + " results file(s) failed validation"), run.err());

        for (String probe : DemoWorkspace.PROBES) {
            assertTrue(Files.isRegularFile(reportFile(probe)), probe);
        }
        assertFalse(Files.exists(reportFile("broken_lens")));
        assertFalse(Files.exists(reportFile("truncated")));
        JsonNode index = JSON.readTree(resultsDir.resolve("index.json").toFile());
        List<String> ids = new ArrayList<>();
        index.path("probes").forEach(probe -> ids.add(probe.path("probe_id").asText()));
        assertEquals(DemoWorkspace.PROBES, ids);
        assertEquals(2, index.path("invalid").size());
        JsonNode first = index.path("invalid").get(0);
        assertEquals("results/probe/broken_lens.json", first.path("results").asText());
        List<String> rules = new ArrayList<>();
        first.path("problems").forEach(problem -> rules.add(problem.path("rule").asText()));
        assertTrue(rules.contains("interval-order"), rules.toString());
        assertTrue(rules.contains("schema:required"), rules.toString());
        String page = read(resultsDir.resolve("index.html"));
        assertTrue(page.contains("Invalid results file: results/probe/broken_lens.json"), page);
        assertFalse(page.contains("id=\"probe-broken_lens\""), page);
    }

    @Test
    void onlyInvalidFilesStillWriteTheIndex() throws IOException {
        Path resultsDir = Files.createDirectories(DemoWorkspace.resultsDir(root));
        Files.writeString(resultsDir.resolve("empty.json"), "");

        CliRun run = report();

        assertEquals(ExitCode.VALIDATION_FAILED.code(), run.exitCode(), run.err());
        JsonNode index = JSON.readTree(resultsDir.resolve("index.json").toFile());
        assertEquals(0, index.path("probes").size());
        assertEquals("results/probe/empty.json", index.path("invalid").get(0).path("results").asText());
        String page = read(resultsDir.resolve("index.html"));
        assertTrue(page.contains("No valid results file to show"), page);
        assertFalse(Files.exists(DemoWorkspace.reportsDir(root)), "no report folder without a valid probe");
    }

    @Test
    void workspaceWithoutResultsIsUsageError() throws IOException {
        Files.createDirectories(DemoWorkspace.resultsDir(root));
        Files.writeString(DemoWorkspace.resultsDir(root).resolve("index.json"), "{}");

        CliRun run = report();

        assertEquals(ExitCode.USAGE.code(), run.exitCode(), run.err());
        assertTrue(run.err().contains("no results files in " + DemoWorkspace.resultsDir(root)), run.err());
        assertTrue(run.err().contains("auto-research probe run induction-demo"), run.err());
        assertFalse(Files.exists(DemoWorkspace.reportsDir(root)));
    }

    @Test
    void missingWorkspaceIsUsageError() {
        CliRun run = report();

        assertEquals(ExitCode.USAGE.code(), run.exitCode(), run.err());
        assertTrue(run.err().contains("research workspace not found"), run.err());
        assertEquals("", run.out());
    }

    @Test
    void editedReportIsKeptUnlessForced() throws IOException {
        DemoWorkspace.create(root);
        assertEquals(ExitCode.SUCCESS.code(), report().exitCode());
        Path edited = reportFile("logit_lens_layers_0_to_2");
        String original = read(edited);
        String mine = original + "\nMy own notes on the lens.\n";
        Files.writeString(edited, mine);

        CliRun again = report();

        assertEquals(ExitCode.SUCCESS.code(), again.exitCode(), again.err());
        assertTrue(again.out().contains(edited + "\tskipped-edited"), again.out());
        assertTrue(again.err().contains("warning: kept " + edited), again.err());
        assertTrue(again.out().contains(reportFile("path_patching_receiver_auto") + "\tunchanged"), again.out());
        assertEquals(mine, read(edited));

        CliRun changed = report("--hypothesis", "H9: a new hypothesis.");

        assertEquals(ExitCode.SUCCESS.code(), changed.exitCode(), changed.err());
        assertTrue(changed.out().contains(reportFile("path_patching_receiver_auto") + "\twrote"), changed.out());
        assertTrue(changed.out().contains(edited + "\tskipped-edited"), changed.out());
        assertEquals(mine, read(edited));

        CliRun forced = report("--force");

        assertEquals(ExitCode.SUCCESS.code(), forced.exitCode(), forced.err());
        assertTrue(forced.out().contains(edited + "\twrote"), forced.out());
        assertEquals(original, read(edited));
        assertTrue(report().out().contains(edited + "\tunchanged"));
    }

    @Test
    void reportWithoutManifestEntryCountsAsEdited() throws IOException {
        DemoWorkspace.create(root);
        Path existing = reportFile("logit_lens_layers_0_to_2");
        Files.createDirectories(existing.getParent());
        Files.writeString(existing, "# Notes a person wrote before any report ran\n");

        CliRun run = report();

        assertEquals(ExitCode.SUCCESS.code(), run.exitCode(), run.err());
        assertTrue(run.out().contains(existing + "\tskipped-edited"), run.out());
        assertEquals("# Notes a person wrote before any report ran\n", read(existing));
    }

    @Test
    void hypothesisOptionOverridesAndPlanIsTheFallback() throws IOException {
        DemoWorkspace.create(root);
        ObjectNode lens = (ObjectNode) results("logit_lens_layers_0_to_2");
        lens.remove("hypothesis");
        Files.writeString(DemoWorkspace.resultsDir(root).resolve("logit_lens_layers_0_to_2.json"),
                JSON.writeValueAsString(lens));
        Files.writeString(DemoWorkspace.researchDir(root).resolve("04_EXPERIMENT_PLAN.md"),
                "# Plan\n\n## Hypotheses\n\n- H1: the plan's own hypothesis,\n  on two lines.\n- H2: second.\n");

        assertEquals(ExitCode.SUCCESS.code(), report().exitCode());

        String fromPlan = section(read(reportFile("logit_lens_layers_0_to_2")), "## Hypothesis");
        assertTrue(fromPlan.contains("H1: the plan's own hypothesis, on two lines."), fromPlan);
        assertTrue(fromPlan.contains("Source: the first hypothesis in 04_EXPERIMENT_PLAN.md."), fromPlan);
        String fromFile = section(read(reportFile("path_patching_receiver_auto")), "## Hypothesis");
        assertTrue(fromFile.contains("H4: The layer-0 previous-token head"), fromFile);

        CliRun run = report("--hypothesis", "H7: every head | every layer");

        assertEquals(ExitCode.SUCCESS.code(), run.exitCode(), run.err());
        for (String probe : DemoWorkspace.PROBES) {
            String hypothesis = section(read(reportFile(probe)), "## Hypothesis");
            assertTrue(hypothesis.contains("H7: every head | every layer"), hypothesis);
            assertTrue(hypothesis.contains("Source: --hypothesis."), hypothesis);
        }
        String page = read(DemoWorkspace.resultsDir(root).resolve("index.html"));
        assertTrue(page.contains("H7: every head | every layer"), "the page shows the overriding hypothesis");
    }

    @Test
    void valuesEscapedForHtmlNotMarkdown() throws IOException {
        DemoWorkspace.create(root);
        ObjectNode lens = (ObjectNode) results("logit_lens_layers_0_to_2");
        lens.put("hypothesis", "<script>alert(1)</script> rank < 5 & \"quoted\"");
        ((ObjectNode) lens.path("provenance")).put("device", "cpu | cuda\nsecond line");
        Files.writeString(DemoWorkspace.resultsDir(root).resolve("logit_lens_layers_0_to_2.json"),
                JSON.writeValueAsString(lens));

        assertEquals(ExitCode.SUCCESS.code(), report().exitCode());

        String page = read(DemoWorkspace.resultsDir(root).resolve("index.html"));
        assertFalse(page.contains("<script"), "a value added markup to the page");
        assertTrue(page.contains("&lt;script&gt;alert(1)&lt;/script&gt; rank &lt; 5 &amp; &quot;quoted&quot;"), page);
        String markdown = read(reportFile("logit_lens_layers_0_to_2"));
        assertTrue(markdown.contains("<script>alert(1)</script> rank < 5 & \"quoted\""), markdown);
        assertTrue(markdown.contains("| Hardware | cpu \\| cuda second line |"), markdown);
    }

    @Test
    void reportsFolderOutsideWorkspaceRejected() throws IOException {
        DemoWorkspace.create(root);
        Path outside = Files.createDirectories(root.resolve("elsewhere"));
        Path runs = Files.createDirectories(DemoWorkspace.researchDir(root).resolve("06_RUNS"));
        Files.createSymbolicLink(runs.resolve("attention"), outside);

        CliRun run = report();

        assertEquals(ExitCode.USAGE.code(), run.exitCode(), run.err());
        assertTrue(run.err().contains("outside the workspace"), run.err());
        try (var listing = Files.list(outside)) {
            assertEquals(0, listing.count());
        }
    }

    @Test
    void rerunGivesTheSameBytes() throws IOException {
        DemoWorkspace.create(root);
        assertEquals(ExitCode.SUCCESS.code(), report().exitCode());
        Path index = DemoWorkspace.resultsDir(root).resolve("index.json");
        Path page = DemoWorkspace.resultsDir(root).resolve("index.html");
        String firstIndex = read(index);
        String firstPage = read(page);
        String firstReport = read(reportFile("attention_pattern_layers_0_to_1"));

        assertEquals(ExitCode.SUCCESS.code(), report().exitCode());

        assertEquals(firstIndex, read(index));
        assertEquals(firstPage, read(page));
        assertEquals(firstReport, read(reportFile("attention_pattern_layers_0_to_1")));
        assertNotEquals("", firstReport);
    }
}
