package io.autoresearch.probe.setup;

import io.autoresearch.probe.render.TemplateRenderer;
import io.autoresearch.probe.support.Console;
import io.autoresearch.probe.support.ExitCode;
import io.autoresearch.probe.support.ProbeException;
import io.autoresearch.probe.workspace.Workspace;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Scaffolds a probe into a research project. It validates every input first. Then it creates
 * the uv project if asked, declares the attention extra, vendors the Python runtime, copies
 * the prompts and renders the scripts. Last it creates the cache and results folders and
 * records every file in the manifest. Files a person edited are kept unless {@code --force}
 * is given.
 */
public final class SetupService {
    /** The classpath folder of the Python runtime that is vendored into each project. */
    public static final String RUNTIME_RESOURCE = "python/auto_research_probe";
    /** The vendored runtime's package name inside {@code src/<pkg>/}. */
    public static final String RUNTIME_PACKAGE = "probe_runtime";

    private final SetupValidator validator;
    private final ProjectTool projectTool;
    private final ProbeScripts scripts;
    private final Console console;
    private final String toolVersion;
    private final Map<String, String> environment;

    /** The environment variable that contains the NDIF API key of remote nnsight runs. */
    public static final String NDIF_KEY_VARIABLE = "NDIF_API_KEY";

    /** Creates a setup service with an empty environment, so a remote probe always gets the missing-key warning. */
    public SetupService(SetupValidator validator, ProjectTool projectTool, TemplateRenderer renderer,
            Console console, String toolVersion) {
        this(validator, projectTool, renderer, console, toolVersion, Map.of());
    }

    /** @param environment the variables setup checks, such as {@code NDIF_API_KEY}; their values are never printed */
    public SetupService(SetupValidator validator, ProjectTool projectTool, TemplateRenderer renderer,
            Console console, String toolVersion, Map<String, String> environment) {
        this.environment = Map.copyOf(environment);
        this.validator = validator;
        this.projectTool = projectTool;
        this.scripts = new ProbeScripts(renderer);
        this.console = console;
        this.toolVersion = toolVersion;
    }

    /** Validates {@code options}, then applies them; nothing is written when validation fails. */
    public SetupResult setup(SetupOptions options) {
        SetupPlan plan = validator.validate(options);
        if (plan.hypothesis().equals(ExperimentPlan.NO_HYPOTHESIS)) {
            console.warn("no hypothesis: neither --hypothesis nor a '## Hypotheses' item in 04_EXPERIMENT_PLAN.md"
                    + " was found, so the scripts and results say that none was given");
        }
        if (Path.of(plan.modelId()).isAbsolute()) {
            console.warn("the model folder " + plan.modelId() + " is outside code/, so the scripts refer to it by"
                    + " absolute path; copy it into code/models/ to keep the project portable");
        }
        String saePath = plan.settings().saePath();
        if (saePath != null && Path.of(saePath).isAbsolute()) {
            console.warn("the SAE folder " + saePath + " is outside code/, so the script refers to it by absolute"
                    + " path; copy it into code/ to keep the project portable");
        }
        warnAboutRemoteCode(options, plan);
        reportBackend(plan.backend());
        // Render before any write so that a template problem also leaves the workspace untouched.
        Map<String, byte[]> scriptFiles = renderScripts(plan, options.trustRemoteCode());
        Map<String, byte[]> runtimeFiles = runtimeFiles(plan.packageName());
        Workspace workspace = plan.workspace();

        if (plan.needsInit()) {
            projectTool.init(workspace.codeDir(), workspace.slug().value());
            String initialised = workspace.packageName();
            if (!initialised.equals(plan.packageName())) {
                throw new ProbeException(ExitCode.ENVIRONMENT, "uv init created package '" + initialised
                        + "' but setup expected '" + plan.packageName() + "'; check " + workspace.pyproject());
            }
        }
        declareAttentionExtra(workspace);

        Map<String, byte[]> files = new LinkedHashMap<>(runtimeFiles);
        if (plan.dataSource() != null) {
            files.put(plan.dataPath(), readBytes(plan.dataSource()));
        }
        files.putAll(scriptFiles);
        ManagedFiles.Applied applied = ManagedFiles.apply(workspace, plan.manifest(), files, plan.force(), toolVersion);
        for (ManagedFiles.Outcome outcome : applied.outcomes()) {
            console.info(outcome.line());
            if (outcome.path().equals(plan.dataPath()) && outcome.action() == ManagedFiles.Action.SKIPPED_EDITED) {
                console.warn("the inputs in " + plan.dataPath() + " were edited, so the scripts keep using them"
                        + " instead of " + plan.dataSource() + "; pass --force to replace them");
            }
        }

        createFolder(workspace.activationCacheDir());
        createFolder(workspace.resultsDir());
        String recordedBackend = recordedBackend(plan, applied.outcomes());
        ManifestStore.write(workspace.manifest(), withThisProbe(applied.manifest(), plan, recordedBackend));

        String chosenBackend = plan.backend().backend().id();
        String backendReason = recordedBackend.equals(chosenBackend) ? plan.backend().reason()
                : "the edited script " + plan.scriptPath() + " was kept, so the probe stays on " + recordedBackend
                        + "; setup chose " + chosenBackend + " (" + plan.backend().reason() + ")";
        SetupResult result = new SetupResult(plan, applied.outcomes(),
                workspace.resolveInCode(plan.scriptPath()),
                workspace.resolveInCode(ProbeScripts.mainScriptPath(workspace.slug().value())),
                recordedBackend, backendReason);
        if (result.skippedCount() > 0) {
            console.warn(result.skippedCount() + " edited file(s) kept; run setup with --force to overwrite them");
        }
        return result;
    }

    /** Renders probe.py, the intervention script and analysis/<slug>.py, keyed by path relative to code/. */
    private Map<String, byte[]> renderScripts(SetupPlan plan, boolean trustRemoteCode) {
        String slug = plan.workspace().slug().value();
        Map<String, byte[]> files = new LinkedHashMap<>();
        files.put("src/" + plan.packageName() + "/probe.py",
                utf8(scripts.probeModule(slug, plan.packageName(), toolVersion, plan.generatedOn())));
        files.put(plan.scriptPath(), utf8(scripts.interventionScript(new ProbeScripts.ScriptInputs(
                plan.intervention(), slug, plan.packageName(), toolVersion, plan.generatedOn(), plan.probeId(),
                plan.modelId(), plan.dataPath(), plan.scriptLayers(), plan.nExamples(), plan.seeds(), plan.dtype(),
                plan.hypothesis(), plan.settings(), trustRemoteCode, plan.researchQuestion(), plan.backend()))));
        List<Manifest.ProbeEntry> probes = withThisProbe(plan.manifest(), plan, plan.backend().backend().id())
                .probes();
        // The hypothesis script serves every probe of the project, so it states the plan's first
        // hypothesis; a project without a plan gets the hypothesis of the latest setup.
        String planHypothesis = ExperimentPlan.firstHypothesis(plan.workspace().experimentPlan());
        files.put(ProbeScripts.mainScriptPath(slug), utf8(scripts.mainScript(slug, plan.packageName(), toolVersion,
                plan.generatedOn(), planHypothesis != null ? planHypothesis : plan.hypothesis(), probes)));
        return files;
    }

    /**
     * Warns, on two lines that stand out, when the scripts will let the model run its own
     * Python code. Without {@code --trust-remote-code} the scripts do not mention it and the
     * runtime passes {@code trust_remote_code=False} to every loader.
     */
    private void warnAboutRemoteCode(SetupOptions options, SetupPlan plan) {
        if (!options.trustRemoteCode()) {
            return;
        }
        console.warn("*** --trust-remote-code: the script " + plan.scriptPath() + " lets model '" + plan.modelId()
                + "' run Python code from its repository or folder, with your permissions ***");
        console.warn("*** that code can read your files and your NDIF_API_KEY and HF_TOKEN; read it before"
                + " `probe run`, and set the probe up again without the flag to turn it off ***");
    }

    /**
     * Prints the chosen backend and why, and its warnings. A remote probe without
     * {@code NDIF_API_KEY} only gets a warning, because the key is read when the script runs; its
     * value is never printed.
     */
    private void reportBackend(BackendChoice backend) {
        console.info("backend: " + backend.backend().id() + " (" + backend.reason() + ")");
        for (String warning : backend.warnings()) {
            console.warn(warning);
        }
        String key = environment.get(NDIF_KEY_VARIABLE);
        if (backend.remote() && (key == null || key.isBlank())) {
            console.warn("--remote: " + NDIF_KEY_VARIABLE + " is not set; set it to your NDIF API key in the"
                    + " environment of `probe run`, or the remote run fails at its start");
        }
    }

    /**
     * Returns the backend the manifest records for this probe. When the probe's script was kept
     * because a person edited it, the script still runs on the backend it was rendered for, so
     * that one stays recorded and setup warns that the new one was not applied.
     */
    private String recordedBackend(SetupPlan plan, List<ManagedFiles.Outcome> outcomes) {
        String chosen = plan.backend().backend().id();
        boolean scriptKept = outcomes.stream().anyMatch(outcome -> outcome.path().equals(plan.scriptPath())
                && outcome.action() == ManagedFiles.Action.SKIPPED_EDITED);
        Manifest.ProbeEntry previous = plan.manifest().probe(plan.probeId()).orElse(null);
        if (!scriptKept || previous == null || previous.backendOrDefault().equals(chosen)) {
            return chosen;
        }
        console.warn("the edited script " + plan.scriptPath() + " was kept, so probe " + plan.probeId() + " stays on "
                + previous.backendOrDefault() + " instead of " + chosen + "; pass --force to render it for " + chosen);
        return previous.backendOrDefault();
    }

    private static Manifest withThisProbe(Manifest manifest, SetupPlan plan, String backend) {
        return manifest.withProbe(new Manifest.ProbeEntry(plan.probeId(), plan.intervention().id(),
                plan.scriptPath(), plan.modelId(), plan.lensLayers(), plan.created().toString(), backend));
    }

    private static Map<String, byte[]> runtimeFiles(String packageName) {
        Map<String, byte[]> vendored = new LinkedHashMap<>();
        String prefix = "src/" + packageName + "/" + RUNTIME_PACKAGE + "/";
        ResourceTree.read(SetupService.class.getClassLoader(), RUNTIME_RESOURCE)
                .forEach((relative, content) -> vendored.put(prefix + relative, content));
        return vendored;
    }

    /** Runs uv add for the attention extra unless the project already declares exactly these pins. */
    private void declareAttentionExtra(Workspace workspace) {
        List<String> pins = AttentionExtra.packagedPins();
        List<String> current = AttentionExtra.projectPins(workspace.pyproject());
        if (AttentionExtra.sameRequirements(pins, current)) {
            console.verbose("the " + AttentionExtra.EXTRA + " extra already has the packaged pins; skipping uv add");
            return;
        }
        projectTool.addOptional(workspace.codeDir(), AttentionExtra.EXTRA, pins);
    }

    private static void createFolder(Path folder) {
        try {
            Files.createDirectories(folder);
        } catch (IOException e) {
            throw new UncheckedIOException("could not create " + folder, e);
        }
    }

    private static byte[] readBytes(Path file) {
        try {
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw ProbeException.usage("cannot read " + file + ": " + e.getMessage());
        }
    }

    private static byte[] utf8(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }
}
