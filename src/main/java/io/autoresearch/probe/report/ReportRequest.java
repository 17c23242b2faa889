package io.autoresearch.probe.report;

import io.autoresearch.probe.workspace.Workspace;

/**
 * Options of one {@code probe report} run.
 *
 * @param workspace the research workspace
 * @param hypothesis {@code --hypothesis}: the hypothesis of every report, or null to take each
 *     results file's own, else the experiment plan's first
 * @param force overwrite reports a person edited
 */
public record ReportRequest(Workspace workspace, String hypothesis, boolean force) {
}
