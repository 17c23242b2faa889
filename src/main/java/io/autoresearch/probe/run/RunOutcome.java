package io.autoresearch.probe.run;

import io.autoresearch.probe.process.ProcessResult;
import io.autoresearch.probe.results.ResultsProblem;
import io.autoresearch.probe.support.ExitCode;
import java.nio.file.Path;
import java.util.List;

/**
 * The outcome of one {@code probe run}.
 *
 * @param exitCode {@link ExitCode#SUCCESS}; {@link ExitCode#ENVIRONMENT} when {@code uv sync}
 *     failed or a script hit an environment error (file system or network); {@link ExitCode#USAGE} when a script rejected its
 *     inputs; {@link ExitCode#SCRIPT_FAILED} when a script failed or wrote no results file;
 *     {@link ExitCode#SCRIPT_KILLED} when a signal killed it; {@link ExitCode#SCRIPT_TIMED_OUT}
 *     when it ran past its timeout; {@link ExitCode#INTERRUPTED} when the JVM is shutting down;
 *     or {@link ExitCode#VALIDATION_FAILED} when a results file is invalid
 * @param runId the value of {@code AUTO_RESEARCH_RUN_ID} that every script received
 * @param scripts the processes that ran, in order: {@code uv sync}, then each script; the
 *     last one is the failed one when the run stopped early
 * @param results every results file that is new or changed since the run started, with its
 *     problems. It is empty when {@code uv sync} or a script failed, because then nothing is validated.
 * @param failure the report printed for a failed process, or {@code null}
 */
public record RunOutcome(
        ExitCode exitCode, String runId, List<ProcessResult> scripts, List<CheckedResults> results, String failure) {

    public RunOutcome {
        scripts = List.copyOf(scripts);
        results = List.copyOf(results);
    }

    /** One validated results file. */
    public record CheckedResults(Path file, List<ResultsProblem> problems) {
        public CheckedResults {
            problems = List.copyOf(problems);
        }

        public boolean valid() {
            return problems.isEmpty();
        }
    }
}
