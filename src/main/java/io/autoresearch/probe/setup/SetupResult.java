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
 */
public record SetupResult(SetupPlan plan, List<ManagedFiles.Outcome> outcomes, Path script, Path mainScript) {
    /** Returns the number of files kept because a person edited them. */
    public long skippedCount() {
        return outcomes.stream().filter(outcome -> outcome.action() == ManagedFiles.Action.SKIPPED_EDITED).count();
    }
}
