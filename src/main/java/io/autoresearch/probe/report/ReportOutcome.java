package io.autoresearch.probe.report;

import io.autoresearch.probe.results.ResultsProblem;
import io.autoresearch.probe.support.ExitCode;
import java.nio.file.Path;
import java.util.List;

/**
 * Outcome of {@code probe report}.
 *
 * @param reports each valid probe's report and what happened to it
 * @param invalid the results files that failed validation, with their problems
 * @param index the collation {@code code/results/probe/index.json}
 * @param page the page {@code code/results/probe/index.html}
 */
public record ReportOutcome(List<WrittenReport> reports, List<InvalidResults> invalid, Path index, Path page) {
    public ReportOutcome {
        reports = List.copyOf(reports);
        invalid = List.copyOf(invalid);
    }

    /** Action taken on one report file. */
    public enum Action {
        WROTE("wrote"),
        UNCHANGED("unchanged"),
        SKIPPED_EDITED("skipped-edited");

        private final String label;

        Action(String label) {
            this.label = label;
        }

        /** Returns the word printed after the path on stdout. */
        public String label() {
            return label;
        }
    }

    /** One probe's report. */
    public record WrittenReport(String probeId, Path file, Action action) {
    }

    /** One results file that failed validation. */
    public record InvalidResults(Path file, String relativePath, List<ResultsProblem> problems) {
        public InvalidResults {
            problems = List.copyOf(problems);
        }
    }

    /** SUCCESS, or VALIDATION_FAILED when any results file was invalid. */
    public ExitCode exitCode() {
        return invalid.isEmpty() ? ExitCode.SUCCESS : ExitCode.VALIDATION_FAILED;
    }
}
