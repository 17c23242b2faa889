package io.autoresearch.probe.demo;

import io.autoresearch.probe.run.RunOutcome;
import io.autoresearch.probe.run.RunRequest;
import io.autoresearch.probe.run.RunService;
import io.autoresearch.probe.setup.AtomicFiles;
import io.autoresearch.probe.setup.Backend;
import io.autoresearch.probe.setup.Intervention;
import io.autoresearch.probe.setup.ManagedFiles;
import io.autoresearch.probe.setup.Manifest;
import io.autoresearch.probe.setup.ManifestStore;
import io.autoresearch.probe.setup.ProjectTool;
import io.autoresearch.probe.setup.ResourceTree;
import io.autoresearch.probe.setup.SetupResult;
import io.autoresearch.probe.setup.SetupService;
import io.autoresearch.probe.support.Console;
import io.autoresearch.probe.support.ExitCode;
import io.autoresearch.probe.support.ProbeException;
import io.autoresearch.probe.workspace.Slug;
import io.autoresearch.probe.workspace.Workspace;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Builds the induction demo workspace and runs its four probes end to end: the plan, a uv
 * project, the trained demo model, prompts and pairs copied from the classpath, one setup per
 * intervention (logit lens, attention pattern, activation patching, path patching) and
 * {@code probe run}. Re-running keeps every file a person edited, by the same
 * manifest rule as setup; the experiment plan is written only when it does not exist.
 */
public final class DemoService {
    private final SetupService setupService;
    private final ProjectTool projectTool;
    private final RunService runService;
    private final Console console;
    private final String toolVersion;
    private final ClassLoader resources;

    public DemoService(SetupService setupService, ProjectTool projectTool, RunService runService, Console console,
            String toolVersion) {
        this(setupService, projectTool, runService, console, toolVersion, DemoService.class.getClassLoader());
    }

    /**
     * @param runService runs the probe after setup, or null to stop after setup
     * @param resources the class loader that provides the demo model and prompts
     */
    public DemoService(SetupService setupService, ProjectTool projectTool, RunService runService, Console console,
            String toolVersion, ClassLoader resources) {
        this.setupService = setupService;
        this.projectTool = projectTool;
        this.runService = runService;
        this.console = console;
        this.toolVersion = toolVersion;
        this.resources = resources;
    }

    /** The outcome of a demo: one setup per intervention, and the run or null when no run service was given. */
    public record DemoResult(Workspace workspace, List<SetupResult> setups, RunOutcome run) {
        /** Returns the setup of the logit-lens probe, the first one. */
        public SetupResult setup() {
            return setups.get(0);
        }

        public ExitCode exitCode() {
            return run == null ? ExitCode.SUCCESS : run.exitCode();
        }
    }

    /**
     * Builds the demo under {@code root}, sets up its probes and runs them.
     *
     * @param allowUvInstall whether uv may be installed into the tool home when it is missing
     * @param online whether the demo script may reach the model hub (the demo model is local)
     */
    public DemoResult run(Path root, boolean allowUvInstall, boolean online) {
        return run(root, allowUvInstall, online, false);
    }

    /**
     * Builds the demo under {@code root}, sets up its probes and runs them; with {@code force},
     * demo files and scripts a person edited are overwritten instead of kept.
     */
    public DemoResult run(Path root, boolean allowUvInstall, boolean online, boolean force) {
        return run(root, allowUvInstall, online, force, Backend.TRANSFORMER_LENS);
    }

    /**
     * Builds the demo under {@code root} as {@link #run(Path, boolean, boolean, boolean)} does, with
     * the logit lens, activation patching and probing set up on {@code backend} (the other probes
     * stay on transformer_lens, which alone implements them).
     */
    public DemoResult run(Path root, boolean allowUvInstall, boolean online, boolean force, Backend backend) {
        Workspace workspace = new Workspace(root, Slug.parse(DemoInputs.SLUG));
        Map<String, byte[]> demoFiles = demoFiles();
        workspace.checkInside(workspace.codeDir());

        writePlanIfMissing(workspace);
        if (!Files.isRegularFile(workspace.pyproject())) {
            projectTool.init(workspace.codeDir(), DemoInputs.SLUG);
        }
        copyDemoFiles(workspace, demoFiles, force);

        List<SetupResult> setups = new ArrayList<>();
        for (Intervention intervention : DemoInputs.INTERVENTIONS) {
            setups.add(setupService.setup(
                    DemoInputs.setupOptions(intervention, root, workspace.codeDir(), !allowUvInstall, force, backend)));
        }
        if (runService == null) {
            return new DemoResult(workspace, setups, null);
        }
        RunOutcome run = runService.run(new RunRequest(workspace.codeDir(), allowUvInstall, online, null));
        if (run.exitCode() == ExitCode.SUCCESS) {
            for (SetupResult setup : setups) {
                console.info("results: " + workspace.resultsFile(setup.plan().probeId()));
            }
            console.info("run one script again with: cd " + workspace.codeDir()
                    + " && uv run --extra attention python " + setups.get(0).plan().scriptPath());
        }
        return new DemoResult(workspace, setups, run);
    }

    /** Reads the demo model folder and prompts from the classpath, keyed by path relative to code/. */
    private Map<String, byte[]> demoFiles() {
        Map<String, byte[]> files = new LinkedHashMap<>();
        ResourceTree.read(resources, DemoInputs.MODEL_RESOURCE)
                .forEach((relative, content) -> files.put(DemoInputs.MODEL_PATH + "/" + relative, content));
        files.put(DemoInputs.PROMPTS_PATH, readResource(DemoInputs.PROMPTS_RESOURCE));
        files.put(DemoInputs.PAIRS_PATH, readResource(DemoInputs.PAIRS_RESOURCE));
        files.put(DemoInputs.LABELS_PATH, readResource(DemoInputs.LABELS_RESOURCE));
        return files;
    }

    private void writePlanIfMissing(Workspace workspace) {
        Path plan = workspace.checkInside(workspace.experimentPlan());
        if (Files.exists(plan)) {
            console.info("kept " + plan + " (the demo writes the plan only once)");
            return;
        }
        AtomicFiles.write(plan, DemoInputs.experimentPlan().getBytes(StandardCharsets.UTF_8));
        console.info("wrote " + plan);
    }

    private void copyDemoFiles(Workspace workspace, Map<String, byte[]> files, boolean force) {
        Manifest manifest = ManifestStore.read(workspace.manifest(), toolVersion);
        ManagedFiles.Applied applied = ManagedFiles.apply(workspace, manifest, files, force, toolVersion);
        for (ManagedFiles.Outcome outcome : applied.outcomes()) {
            console.info(outcome.line());
        }
        ManifestStore.write(workspace.manifest(), applied.manifest());
    }

    private byte[] readResource(String name) {
        try (InputStream stream = resources.getResourceAsStream(name)) {
            if (stream == null) {
                throw new ProbeException(ExitCode.TEMPLATE, "resource '" + name
                        + "' is missing from the classpath; rebuild the jar with mvn package");
            }
            return stream.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("could not read resource " + name, e);
        }
    }
}
