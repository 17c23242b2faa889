package io.autoresearch.probe.cli;

import io.autoresearch.probe.render.TemplateRenderer;
import io.autoresearch.probe.report.ReportOutcome;
import io.autoresearch.probe.report.ReportRequest;
import io.autoresearch.probe.report.ReportService;
import io.autoresearch.probe.results.ResultsValidator;
import io.autoresearch.probe.setup.ToolVersion;
import io.autoresearch.probe.support.Console;
import io.autoresearch.probe.workspace.Slug;
import io.autoresearch.probe.workspace.Workspace;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code auto-research probe report}: validates and collates a workspace's results, and writes the reports. */
@Command(name = "report",
        mixinStandardHelpOptions = true,
        versionProvider = VersionProvider.class,
        description = {
            "In the research folder .research/<slug>/: validate every results file in code/results/probe/"
                    + " (index.json excepted), then write one analysis report per valid probe to"
                    + " 06_RUNS/attention/<probe_id>.md, the collation code/results/probe/index.json and the page"
                    + " code/results/probe/index.html. The page links every probe with its plots and attention"
                    + " views and opens offline.",
            "Invalid files are reported with each problem's JSON path and rule and left out; the others go on,"
                    + " and the exit code is 6. A report you edited is kept unless --force is given.",
            "Prints '<path><TAB><action>' on stdout for each report (wrote, unchanged or skipped-edited), for"
                    + " index.json and index.html (wrote), and '<path><TAB>invalid (N problems)' for each invalid"
                    + " results file; each problem goes to stderr as '<path>: <JSON path>: <message> [<rule>]'.",
            "With --json, one object with reports (each {probe_id, file, action}), invalid (each {file, status,"
                    + " problems}), index and page."
        })
final class ReportCommand implements Callable<Integer> {
    private final ProbeContext context;

    @Mixin
    private CommonOptions common;

    @Parameters(index = "0", paramLabel = "SLUG", description = "Research slug, the folder under .research/.")
    private String slug;

    @Option(names = "--hypothesis", paramLabel = "TEXT",
            description = "Hypothesis for every report (default: each results file's own, else the first one"
                    + " under '## Hypotheses' in 04_EXPERIMENT_PLAN.md).")
    private String hypothesis;

    @Option(names = "--force", description = "Overwrite reports you edited since probe report last wrote them.")
    private boolean force;

    ReportCommand(ProbeContext context) {
        this.context = context;
    }

    @Override
    public Integer call() {
        Console console = common.console();
        Workspace workspace = new Workspace(common.root(context), Slug.parse(slug));
        ReportService service = new ReportService(new ResultsValidator(), new TemplateRenderer(), console,
                ToolVersion.current());
        ReportOutcome outcome = service.report(new ReportRequest(workspace, hypothesis, force));
        if (common.json()) {
            JsonOutput.print(console, JsonOutput.ReportDocument.of(outcome));
        }
        return outcome.exitCode().code();
    }
}
