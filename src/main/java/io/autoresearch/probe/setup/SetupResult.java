package io.autoresearch.probe.setup;

import java.nio.file.Path;
import java.util.List;

/**
 * The outcome of one setup.
 *
 * @param plan the validated plan that was applied
 * @param outcomes one outcome per managed file, in the order they were handled
 * @param script the absolute path of the intervention script
 * @param mainScript the absolute path of {@code analysis/<slug>.py}
 * @param backend the backend the probe's script runs on, as the manifest records it: the
 *     plan's choice, or the earlier backend when a person's edited script was kept
 * @param backendReason why the probe has {@code backend}
 */
public record SetupResult(SetupPlan plan, List<ManagedFiles.Outcome> outcomes, Path script, Path mainScript,
        String backend, String backendReason) {
    /** Returns the number of files kept because a person edited them. */
    public long skippedCount() {
        return outcomes.stream().filter(outcome -> outcome.action() == ManagedFiles.Action.SKIPPED_EDITED).count();
    }
}
