package io.autoresearch.probe.setup;

import io.autoresearch.probe.workspace.Workspace;
import java.nio.file.Path;
import java.time.Instant;
import java.time.LocalDate;
import java.util.List;

/**
 * A validated setup: everything setup will do, decided before anything is written.
 *
 * @param needsInit whether code/ has no pyproject.toml yet, so uv init must run first
 * @param packageName the import name of the project package
 * @param model the resolved model
 * @param modelId the model as the script names it: a hub id, a path relative to code/ or an absolute path
 * @param lensLayers the layers recorded in the manifest, or null when unknown (hub model not cached)
 * @param scriptLayers the layers the script receives, or null for all
 * @param dataSource the input file to copy: prompts for the logit lens, pairs for patching, labelled
 *     texts for probing and SAE feature lookup, or null for the attention pattern, which makes its own
 *     sequences
 * @param dataPath the copy's path relative to code/, such as {@code data/prompts.jsonl}, or null
 * @param dataCount the number of prompts, pairs or texts in the input file, or 0 without one
 * @param researchQuestion the research question id selected with {@code --rq}, or null
 * @param hypothesis the hypothesis the probe tests: {@code --hypothesis}, that of the selected
 *     research question, else the plan's first one
 * @param scriptPath the intervention script relative to code/; reused from the manifest for a known probe id
 * @param generatedOn the date written into the rendered scripts: the date in the script name
 * @param created the first-setup instant of this probe, kept across re-runs
 * @param manifest the manifest as read before this setup
 * @param settings the options that only some interventions read, with their defaults
 * @param backend the backend the script runs on, why, and its nnsight-only settings
 */
public record SetupPlan(
        Workspace workspace,
        Intervention intervention,
        boolean needsInit,
        String packageName,
        ResolvedModel model,
        String modelId,
        List<Integer> lensLayers,
        List<Integer> scriptLayers,
        Path dataSource,
        String dataPath,
        int dataCount,
        String probeId,
        int nExamples,
        List<Integer> seeds,
        String dtype,
        String researchQuestion,
        String hypothesis,
        String scriptPath,
        LocalDate generatedOn,
        Instant created,
        Manifest manifest,
        boolean force,
        ProbeSettings settings,
        BackendChoice backend) {
}
