package io.autoresearch.probe.report;

import io.autoresearch.probe.render.TemplateRenderer;
import io.autoresearch.probe.results.ResultsProblem;
import io.autoresearch.probe.results.ResultsValidator;
import io.autoresearch.probe.setup.AtomicFiles;
import io.autoresearch.probe.setup.ExperimentPlan;
import io.autoresearch.probe.support.Console;
import io.autoresearch.probe.support.ProbeException;
import io.autoresearch.probe.workspace.Workspace;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * {@code probe report}: validates every results file of a workspace, writes one Markdown
 * report per valid probe to {@code 06_RUNS/attention/<probe_id>.md}, and collates the valid
 * files into {@code code/results/probe/index.json} and the page {@code index.html}.
 *
 * <p>An invalid file is reported with each problem's JSON path and rule, and left out of the
 * reports, the index and the page's probes; the other files go on. Reports follow setup's
 * rule for edited files: {@link ReportManifest} records the sha256 of each report written, and
 * a report whose content no longer matches (or that exists without an entry) is kept unless
 * {@code force} is set. The index and the page are regenerated outputs and always rewritten.
 * Every write is atomic (a temporary file renamed over the target).
 */
public final class ReportService {
    /** The collation file, skipped when listing results files. */
    public static final String INDEX_JSON = "index.json";
    public static final String INDEX_HTML = "index.html";
    static final String REPORT_TEMPLATE = "report.md.mustache";
    static final String PAGE_TEMPLATE = "index.html.mustache";

    private final ResultsValidator validator;
    private final TemplateRenderer markdownRenderer;
    private final HtmlRenderer htmlRenderer;
    private final Console console;
    private final String toolVersion;

    public ReportService(ResultsValidator validator, TemplateRenderer markdownRenderer, Console console,
            String toolVersion) {
        this.validator = validator;
        this.markdownRenderer = markdownRenderer;
        this.htmlRenderer = new HtmlRenderer();
        this.console = console;
        this.toolVersion = toolVersion;
    }

    /** Returns the folder of the reports, {@code .research/<slug>/06_RUNS/attention/}. */
    public static Path reportsDir(Workspace workspace) {
        return workspace.researchDir().resolve("06_RUNS").resolve("attention");
    }

    public ReportOutcome report(ReportRequest request) {
        Workspace workspace = request.workspace();
        String slug = workspace.slug().value();
        if (!Files.isDirectory(workspace.researchDir())) {
            throw ProbeException.usage("research workspace not found: " + workspace.researchDir()
                    + " does not exist; check the slug, and pass --root DIR when .research/ is not in the"
                    + " current folder");
        }
        Path resultsDir = workspace.resultsDir();
        List<Path> files = Files.isDirectory(resultsDir) ? listResults(resultsDir) : List.of();
        if (files.isEmpty()) {
            throw ProbeException.usage("no results files in " + resultsDir + " (" + INDEX_JSON
                    + " does not count), so there is nothing to report; run the probes first with"
                    + " `auto-research probe run " + slug + "`");
        }

        List<ProbeResults> valid = new ArrayList<>();
        List<ReportOutcome.InvalidResults> invalid = new ArrayList<>();
        for (Path file : files) {
            String relative = workspace.relativeToCode(file);
            List<ResultsProblem> problems = validator.validate(file, workspace.codeDir());
            if (problems.isEmpty()) {
                valid.add(ProbeResults.read(file, relative));
                continue;
            }
            invalid.add(new ReportOutcome.InvalidResults(file, relative, problems));
            console.result(file + "\tinvalid (" + problems.size()
                    + (problems.size() == 1 ? " problem)" : " problems)"));
            for (ResultsProblem problem : problems) {
                console.error(file + ": " + problem);
            }
        }
        if (!invalid.isEmpty()) {
            console.warn(invalid.size() + " of " + files.size() + " results file(s) failed validation and are left"
                    + " out of the reports, index.json and index.html");
        }

        Path reportsDir = reportsDir(workspace);
        String planHypothesis = ExperimentPlan.firstHypothesis(workspace.experimentPlan());
        List<ProbeSummary> summaries = valid.stream()
                .map(results -> new ProbeSummary(results, workspace, request.hypothesis(), planHypothesis))
                .toList();
        List<ReportOutcome.WrittenReport> reports = writeReports(workspace, reportsDir, summaries, request.force());

        Path index = workspace.checkInside(resultsDir.resolve(INDEX_JSON));
        List<IndexJson.Entry> entries = summaries.stream().map(summary -> new IndexJson.Entry(summary.results(),
                workspace.codeDir().relativize(reportFile(reportsDir, summary)).toString().replace('\\', '/')))
                .toList();
        AtomicFiles.write(index, IndexJson.render(slug, toolVersion, entries, invalid));
        console.result(index + "\twrote");

        Path page = workspace.checkInside(resultsDir.resolve(INDEX_HTML));
        AtomicFiles.write(page, renderPage(slug, resultsDir, reportsDir, summaries, invalid)
                .getBytes(StandardCharsets.UTF_8));
        console.result(page + "\twrote");

        long skipped = reports.stream().filter(report -> report.action() == ReportOutcome.Action.SKIPPED_EDITED)
                .count();
        console.info(valid.size() + " report(s) in " + reportsDir + (skipped == 0 ? "" : ", " + skipped
                + " of them kept because they were edited") + "; " + invalid.size() + " invalid results file(s)");
        return new ReportOutcome(reports, invalid, index, page);
    }

    private List<ReportOutcome.WrittenReport> writeReports(Workspace workspace, Path reportsDir,
            List<ProbeSummary> summaries, boolean force) {
        List<ReportOutcome.WrittenReport> reports = new ArrayList<>();
        if (summaries.isEmpty()) {
            return reports;
        }
        Path manifestFile = workspace.checkInside(reportsDir.resolve(ReportManifest.FILE_NAME));
        ReportManifest manifest = ReportManifest.read(manifestFile, toolVersion);
        for (ProbeSummary summary : summaries) {
            Path target = workspace.checkInside(reportFile(reportsDir, summary));
            String name = target.getFileName().toString();
            byte[] content = markdownRenderer.render(REPORT_TEMPLATE,
                    ReportScopes.markdown(summary, reportsDir, toolVersion)).getBytes(StandardCharsets.UTF_8);
            ReportOutcome.Action action = decide(target, content,
                    manifest.report(name).map(ReportManifest.Entry::sha256).orElse(null), force);
            if (action == ReportOutcome.Action.WROTE) {
                AtomicFiles.write(target, content);
            }
            if (action == ReportOutcome.Action.SKIPPED_EDITED) {
                console.warn("kept " + target + ": it was edited since probe report last wrote it; pass --force to"
                        + " overwrite it");
            } else {
                manifest = manifest.with(new ReportManifest.Entry(name, AtomicFiles.sha256(content)), toolVersion);
            }
            console.result(target + "\t" + action.label());
            reports.add(new ReportOutcome.WrittenReport(summary.results().probeId(), target, action));
        }
        manifest.write(manifestFile);
        return reports;
    }

    /**
     * Decides what to do with one report, as setup does for its files. A missing report is
     * written, and one whose content is already right is left alone. One whose sha256 still
     * matches the manifest is overwritten, and so is any report with {@code force}. Any other
     * report was edited by a person and is kept.
     */
    static ReportOutcome.Action decide(Path target, byte[] content, String manifestSha256, boolean force) {
        if (!Files.exists(target)) {
            return ReportOutcome.Action.WROTE;
        }
        byte[] current;
        try {
            current = Files.readAllBytes(target);
        } catch (IOException e) {
            throw new UncheckedIOException("could not read " + target, e);
        }
        if (Arrays.equals(current, content)) {
            return ReportOutcome.Action.UNCHANGED;
        }
        boolean unedited = manifestSha256 != null && manifestSha256.equals(AtomicFiles.sha256(current));
        return unedited || force ? ReportOutcome.Action.WROTE : ReportOutcome.Action.SKIPPED_EDITED;
    }

    private String renderPage(String slug, Path resultsDir, Path reportsDir, List<ProbeSummary> summaries,
            List<ReportOutcome.InvalidResults> invalid) {
        List<ReportScopes.Card> cards = summaries.stream()
                .map(summary -> ReportScopes.card(summary, resultsDir, reportFile(reportsDir, summary)))
                .toList();
        List<ReportScopes.Invalid> invalidScopes = invalid.stream()
                .map(file -> new ReportScopes.Invalid(file.relativePath(), file.problems().stream()
                        .map(problem -> new ReportScopes.Item(problem.toString())).toList()))
                .toList();
        return htmlRenderer.render(PAGE_TEMPLATE, new ReportScopes.Page(slug, toolVersion, cards.size(),
                invalid.size(), cards.isEmpty(), cards, invalidScopes));
    }

    private static Path reportFile(Path reportsDir, ProbeSummary summary) {
        return reportsDir.resolve(summary.results().probeId() + ".md");
    }

    /**
     * Returns the regular {@code *.json} files directly in {@code resultsDir}, sorted, without
     * index.json and hidden files.
     */
    static List<Path> listResults(Path resultsDir) {
        List<Path> files = new ArrayList<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(resultsDir, "*.json")) {
            for (Path entry : entries) {
                String name = entry.getFileName().toString();
                // Hidden names are temporary files of an atomic write in progress.
                if (!name.equals(INDEX_JSON) && !name.startsWith(".") && Files.isRegularFile(entry)) {
                    files.add(entry);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("could not list " + resultsDir, e);
        }
        files.sort(Comparator.naturalOrder());
        return files;
    }
}
