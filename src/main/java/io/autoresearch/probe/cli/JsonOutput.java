package io.autoresearch.probe.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.autoresearch.probe.report.ReportOutcome;
import io.autoresearch.probe.results.ResultsProblem;
import io.autoresearch.probe.run.RunOutcome;
import io.autoresearch.probe.setup.ManagedFiles;
import io.autoresearch.probe.setup.SetupResult;
import io.autoresearch.probe.support.Console;
import java.nio.file.Path;
import java.util.List;

/**
 * The documents that {@code --json} prints on stdout, one per command, in one place. Each is
 * a record serialised by Jackson with snake_case field names. Every document except the error
 * one carries {@code command} and {@code exit_code} (cache stats adds them to its own object). The README lists the shapes.
 */
final class JsonOutput {
    private static final ObjectMapper JSON = new ObjectMapper()
            .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .enable(SerializationFeature.INDENT_OUTPUT);

    private JsonOutput() {
    }

    /** Serialises {@code document} and prints it on stdout. */
    static void print(Console console, Object document) {
        console.document(write(document));
    }

    static String write(Object document) {
        try {
            return JSON.writeValueAsString(document);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise " + document.getClass().getSimpleName(), e);
        }
    }

    /** {@code {"error": {"code": N, "message": ...}}}: what every command prints when it fails. */
    record ErrorDocument(ErrorBody error) {
        static ErrorDocument of(int code, String message) {
            return new ErrorDocument(new ErrorBody(code, message));
        }
    }

    record ErrorBody(int code, String message) {
    }

    /** One problem of a results file: its JSON path, the rule it breaks and what is wrong. */
    record Problem(String path, String rule, String message) {
        static List<Problem> of(List<ResultsProblem> problems) {
            return problems.stream().map(p -> new Problem(p.path(), p.rule(), p.message())).toList();
        }
    }

    /** One results file with its status, {@code valid} or {@code invalid}, and its problems. */
    record ResultsFile(String file, String status, List<Problem> problems) {
        static ResultsFile of(Path file, List<ResultsProblem> problems) {
            return of(file.toString(), problems);
        }

        static ResultsFile of(String file, List<ResultsProblem> problems) {
            return new ResultsFile(file, problems.isEmpty() ? "valid" : "invalid", Problem.of(problems));
        }

        static List<ResultsFile> of(RunOutcome run) {
            return run == null ? List.of()
                    : run.results().stream().map(r -> of(r.file(), r.problems())).toList();
        }
    }

    /** One managed file of setup: its path relative to code/ and {@code wrote}, {@code kept} or {@code skipped}. */
    record FileOutcome(String path, String action) {
        static List<FileOutcome> of(List<ManagedFiles.Outcome> outcomes) {
            return outcomes.stream().map(o -> new FileOutcome(o.path(), action(o.action()))).toList();
        }

        private static String action(ManagedFiles.Action action) {
            return switch (action) {
                case WROTE -> "wrote";
                case KEPT -> "kept";
                case SKIPPED_EDITED -> "skipped";
            };
        }
    }

    /**
     * {@code probe setup}: the probe, its research question (or null) and hypothesis, its backend and
     * why, the two script paths and every managed file.
     */
    record SetupDocument(String command, int exitCode, String probeId, String researchQuestion, String hypothesis,
            String backend, String backendReason, String script, String mainScript, List<FileOutcome> files) {
        static SetupDocument of(SetupResult result, int exitCode) {
            return new SetupDocument("setup", exitCode, result.plan().probeId(), result.plan().researchQuestion(),
                    result.plan().hypothesis(), result.backend(), result.backendReason(),
                    result.script().toString(), result.mainScript().toString(),
                    FileOutcome.of(result.outcomes()));
        }
    }

    /** {@code probe run}: the run id, each new or changed results file, and the failure report or null. */
    record RunDocument(String command, int exitCode, String runId, List<ResultsFile> results, String failure) {
        static RunDocument of(RunOutcome run) {
            return new RunDocument("run", run.exitCode().code(), run.runId(), ResultsFile.of(run), run.failure());
        }
    }

    /** {@code probe demo}: the workspace, each probe's setup, and the run as in {@link RunDocument}. */
    record DemoDocument(String command, int exitCode, String workspace, List<SetupDocument> setups, String runId,
            List<ResultsFile> results, String failure) {
    }

    /** {@code probe validate}: each checked file, and the arguments that named nothing to check. */
    record ValidateDocument(String command, int exitCode, List<ResultsFile> files, List<String> errors) {
    }

    /** One report of {@code probe report}: {@code wrote}, {@code unchanged} or {@code skipped-edited}. */
    record ReportFile(String probeId, String file, String action) {
    }

    /** {@code probe report}: the reports, the invalid results files left out, the index and the page. */
    record ReportDocument(String command, int exitCode, List<ReportFile> reports, List<ResultsFile> invalid,
            String index, String page) {
        static ReportDocument of(ReportOutcome outcome) {
            return new ReportDocument("report", outcome.exitCode().code(),
                    outcome.reports().stream().map(r -> new ReportFile(r.probeId(), r.file().toString(),
                            r.action().label())).toList(),
                    outcome.invalid().stream().map(i -> ResultsFile.of(i.file(), i.problems())).toList(),
                    outcome.index().toString(), outcome.page().toString());
        }
    }

    /** One cache entry checked by {@code probe cache verify}: {@code ok}, {@code corrupt} or {@code format_1}. */
    record CacheEntryCheck(String key, String status, List<String> problems) {
    }

    /** One orphan file in the cache folder and why it is one. */
    record CacheOrphan(String name, String reason) {
    }

    /** {@code probe cache verify}: every entry and every orphan. */
    record CacheVerifyDocument(String command, int exitCode, String folder, List<CacheEntryCheck> entries,
            List<CacheOrphan> orphans) {
    }

    /**
     * {@code probe cache clear}: what was selected (entries and orphans), what was deleted, and the
     * files that could not be deleted. {@code dry_run} and an unconfirmed clear delete nothing.
     */
    record CacheClearDocument(String command, int exitCode, String folder, boolean dryRun, List<String> selected,
            long selectedBytes, List<String> deleted, List<String> failures) {
    }

    /** {@code probe plan}: the research questions and hypotheses of 04_EXPERIMENT_PLAN.md. */
    record PlanDocument(String command, int exitCode, String plan, List<PlanQuestion> researchQuestions,
            List<PlanHypothesis> hypotheses) {
    }

    /** One research question: its id (such as RQ2, or null), its text and the id of the hypothesis {@code --rq} selects. */
    record PlanQuestion(String id, String text, String hypothesis) {
    }

    /** One hypothesis: its id (such as H1 or H0, or null), its text without tags and the research questions it is tagged with. */
    record PlanHypothesis(String id, String text, List<String> researchQuestions) {
    }
}
