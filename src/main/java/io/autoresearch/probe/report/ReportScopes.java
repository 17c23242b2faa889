package io.autoresearch.probe.report;

import java.nio.file.Path;
import java.util.List;

/**
 * The scopes of the report templates. Field names are the template variables.
 *
 * <p>Escaping: the Markdown report ({@code templates/report.md.mustache}) is rendered with
 * HTML escaping off, because it is read as Markdown source, so {@link #markdown} passes every
 * value from a results file through {@link Markdown} instead. The page
 * ({@code templates/index.html.mustache}) is rendered with Mustache's HTML escaping on, so
 * {@link #card} hands over plain text and every {@code {{value}}} is escaped, in text and in
 * attribute values alike. The page template uses no triple mustaches.
 */
public final class ReportScopes {
    private ReportScopes() {
    }

    /** A label and a value, both already escaped for the target format. */
    public record Cell(String label, String value) {
    }

    /** A link or an image: the text to show and the relative, percent-encoded target. */
    public record Link(String label, String link) {
    }

    /** A list item of text (a record, so that the templates need no implicit-iterator tags). */
    public record Item(String text) {
    }

    /** The scope of {@code report.md.mustache}: one probe's report. */
    public record MarkdownReport(
            String toolVersion,
            String probeId,
            String interventionTitle,
            String status,
            String sampleSize,
            String runId,
            Link resultsFile,
            String hypothesis,
            String hypothesisSource,
            String methodText,
            List<Item> sources,
            List<Cell> methodNotes,
            List<Cell> setupRows,
            String headline,
            List<ProbeSummary.ResultRow> resultRows,
            String omittedNote,
            List<Link> plots,
            List<Link> pages,
            List<Link> files,
            List<Cell> checkRows,
            List<Item> checkNotes,
            String statusRule,
            List<Item> alternatives,
            String nextText,
            String nextCommand) {
        public boolean hasMethodNotes() {
            return !methodNotes.isEmpty();
        }

        public boolean hasPages() {
            return !pages.isEmpty();
        }

        public boolean hasFiles() {
            return !files.isEmpty();
        }
    }

    /** Builds the report scope; links are relative to {@code reportFolder}. */
    static MarkdownReport markdown(ProbeSummary summary, Path reportFolder, String toolVersion) {
        ProbeResults results = summary.results();
        Methods.Method method = summary.method();
        NextProbe.Suggestion next = summary.next();
        return new MarkdownReport(
                toolVersion,
                Markdown.inline(results.probeId()),
                method.title(),
                Markdown.inline(results.status()),
                Markdown.inline(summary.sampleSize()),
                Markdown.code(orMissing(results.provenance("run_id"))),
                new Link(Markdown.inline(results.relativePath()), Links.relative(reportFolder, results.file())),
                Markdown.paragraph(summary.hypothesis()),
                summary.hypothesisSource().label(),
                method.text(),
                method.sources().stream().map(Item::new).toList(),
                summary.methodNotes().stream().map(row -> new Cell(row.label(), Markdown.inline(row.value())))
                        .toList(),
                summary.setupRows().stream().map(row -> new Cell(row.label(),
                        row.code() && !Format.MISSING.equals(row.value()) ? Markdown.code(row.value()).replace("|",
                                "\\|") : Markdown.cell(row.value()))).toList(),
                Markdown.paragraph(summary.headline()),
                summary.resultRows().stream().map(row -> new ProbeSummary.ResultRow(Markdown.cell(row.component()),
                        Markdown.cell(row.metric()), row.value(), row.interval())).toList(),
                summary.omittedNote(),
                summary.images().stream().map(artifact -> new Link(Markdown.inline(artifact.name()),
                        Links.relative(reportFolder, artifact.file()))).toList(),
                summary.pages().stream().map(artifact -> new Link(Markdown.inline(artifact.name()),
                        Links.relative(reportFolder, artifact.file()))).toList(),
                summary.otherFiles().stream().map(artifact -> new Link(Markdown.inline(artifact.name()),
                        Links.relative(reportFolder, artifact.file()))).toList(),
                summary.checkRows().stream().map(row -> new Cell(Markdown.cell(row.label()),
                        Markdown.cell(row.value()))).toList(),
                summary.checkNotes().stream().map(note -> new Item(Markdown.inline(note))).toList(),
                summary.statusRule(),
                summary.alternatives().stream().map(text -> new Item(Markdown.inline(text))).toList(),
                Markdown.paragraph(next.text()),
                next.command());
    }

    /** The scope of {@code index.html.mustache}: the workspace page. */
    public record Page(
            String slug,
            String toolVersion,
            int probeCount,
            int invalidCount,
            boolean noProbes,
            List<Card> probes,
            List<Invalid> invalid) {
    }

    /** One results file that failed validation, with its problems. */
    public record Invalid(String path, List<Item> problems) {
    }

    /** One probe on the page. */
    public record Card(
            String probeId,
            String anchor,
            String interventionTitle,
            String status,
            String statusClass,
            String hypothesis,
            String hypothesisSource,
            String headline,
            List<ProbeSummary.ResultRow> resultRows,
            String omittedNote,
            List<Cell> checkRows,
            List<Item> checkNotes,
            String statusRule,
            List<Link> links,
            List<Link> images,
            List<Link> pages,
            List<Cell> setupRows,
            String methodText,
            List<Item> sources,
            List<Item> alternatives,
            String nextText,
            String nextCommand) {
    }

    /**
     * Builds one probe's card; links are relative to {@code pageFolder}. Values stay plain text:
     * the template escapes them.
     */
    static Card card(ProbeSummary summary, Path pageFolder, Path reportFile) {
        ProbeResults results = summary.results();
        Methods.Method method = summary.method();
        List<Link> links = new java.util.ArrayList<>();
        links.add(new Link("results JSON", Links.relative(pageFolder, results.file())));
        links.add(new Link("report (Markdown)", Links.relative(pageFolder, reportFile)));
        summary.otherFiles().forEach(artifact -> links.add(new Link(artifact.name(),
                Links.relative(pageFolder, artifact.file()))));
        NextProbe.Suggestion next = summary.next();
        return new Card(
                results.probeId(),
                "probe-" + results.probeId(),
                method.title(),
                results.status(),
                "result".equals(results.status()) ? "status-result" : "status-exploratory",
                summary.hypothesis(),
                summary.hypothesisSource().label(),
                summary.headline(),
                summary.resultRows(),
                summary.omittedNote(),
                summary.checkRows().stream().map(row -> new Cell(row.label(), row.value())).toList(),
                summary.checkNotes().stream().map(Item::new).toList(),
                summary.statusRule(),
                links,
                summary.images().stream().map(artifact -> new Link(artifact.name(),
                        Links.relative(pageFolder, artifact.file()))).toList(),
                summary.pages().stream().map(artifact -> new Link(artifact.name(),
                        Links.relative(pageFolder, artifact.file()))).toList(),
                summary.setupRows().stream().map(row -> new Cell(row.label(), row.value())).toList(),
                method.text(),
                method.sources().stream().map(Item::new).toList(),
                summary.alternatives().stream().map(Item::new).toList(),
                next.text(),
                next.command());
    }

    private static String orMissing(String value) {
        return value == null || value.isBlank() ? Format.MISSING : value;
    }
}
