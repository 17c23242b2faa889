package io.autoresearch.probe.run;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.autoresearch.probe.process.ChildProcesses;
import io.autoresearch.probe.process.CommandSpec;
import io.autoresearch.probe.process.LineListener;
import io.autoresearch.probe.process.ProcessFailure;
import io.autoresearch.probe.process.ProcessResult;
import io.autoresearch.probe.process.ProcessRunner;
import io.autoresearch.probe.results.ResultsProblem;
import io.autoresearch.probe.results.ResultsValidator;
import io.autoresearch.probe.run.RunOutcome.CheckedResults;
import io.autoresearch.probe.setup.AtomicFiles;
import io.autoresearch.probe.setup.AttentionExtra;
import io.autoresearch.probe.setup.Backend;
import io.autoresearch.probe.setup.Manifest;
import io.autoresearch.probe.setup.ManifestStore;
import io.autoresearch.probe.setup.ToolVersion;
import io.autoresearch.probe.support.Console;
import io.autoresearch.probe.support.ExitCode;
import io.autoresearch.probe.support.ProbeException;
import io.autoresearch.probe.uv.Uv;
import io.autoresearch.probe.uv.UvLocator;
import io.autoresearch.probe.workspace.Workspace;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.random.RandomGenerator;

/**
 * Runs the probes of one research project: {@code uv sync --extra attention}, then each
 * script listed in {@code code/.auto-research/manifest.json} with {@code uv run}, then
 * validates every results file the scripts wrote or changed.
 *
 * <p>A project that is missing or has no probes, and a uv that cannot be found or installed,
 * are thrown as {@link ProbeException}s before anything runs. A failed {@code uv sync}, a
 * failed or timed-out script and an invalid results file are returned in the
 * {@link RunOutcome}, after their report has been printed on the console.
 */
public final class RunService {
    /** The prefix of the runtime's progress lines, as in the runtime's events module. */
    static final String PROGRESS_MARKER = "@auto-research-progress ";
    private static final ObjectMapper PROGRESS_JSON = new ObjectMapper();
    /** The exit code of a generated script whose runtime rejected an input with ValueError. */
    public static final int SCRIPT_INPUT_ERROR_EXIT = 2;
    /** The exit code of a generated script that hit an OSError, such as an unwritable cache folder. */
    public static final int SCRIPT_FILE_SYSTEM_ERROR_EXIT = 3;

    /** Folder under code/ that receives one log file per process. */
    public static final String LOGS_FOLDER = ".auto-research/logs";

    private final UvLocator locator;
    private final ProcessRunner runner;
    private final ResultsValidator validator;
    private final Console console;
    private final Clock clock;
    private final RandomGenerator random;

    public RunService(UvLocator locator, ProcessRunner runner, ResultsValidator validator, Console console,
            Clock clock, RandomGenerator random) {
        this.locator = locator;
        this.runner = runner;
        this.validator = validator;
        this.console = console;
        this.clock = clock;
        this.random = random;
    }

    public RunOutcome run(RunRequest request) {
        Path codeDir = request.codeDir();
        Path manifestFile = checkProject(codeDir);
        checkFoldersInside(codeDir);
        List<Manifest.ProbeEntry> probes = selectBackend(readProbes(manifestFile), request.backend(), manifestFile);
        List<Path> scripts = new ArrayList<>();
        for (Manifest.ProbeEntry probe : probes) {
            scripts.add(resolveScript(codeDir, probe));
        }
        String runId = RunId.generate(clock, readBytes(manifestFile), random);
        Uv uv = new Uv(locator.locate(request.allowUvInstall(), console));
        try (RunLock lock = RunLock.acquire(codeDir, runId, console, clock)) {
            return runLocked(request, uv, probes, scripts, runId);
        }
    }

    /** Runs uv sync, the scripts and the validation while this run holds the project's lock. */
    private RunOutcome runLocked(RunRequest request, Uv uv, List<Manifest.ProbeEntry> probes, List<Path> scripts,
            String runId) {
        Path codeDir = request.codeDir();
        console.info("run " + runId + ": " + scripts.size() + " script(s) in " + codeDir);
        Path logsDir = codeDir.resolve(LOGS_FOLDER);
        List<ProcessResult> processes = new ArrayList<>();

        ProcessResult sync = runLogged("uv sync", uv.sync(codeDir, AttentionExtra.EXTRA), logsDir.resolve("uv-sync.log"));
        processes.add(sync);
        if (!sync.succeeded()) {
            String report = ProcessFailure.describe("uv sync --extra " + AttentionExtra.EXTRA, sync)
                    + System.lineSeparator() + "Check the [project.optional-dependencies] " + AttentionExtra.EXTRA
                    + " list in " + codeDir.resolve("pyproject.toml") + " and that the package index is reachable";
            console.error(report);
            ExitCode exitCode = ChildProcesses.shuttingDown() ? ExitCode.INTERRUPTED : ExitCode.ENVIRONMENT;
            return new RunOutcome(exitCode, runId, processes, List.of(), report);
        }

        Path resultsDir = codeDir.resolve("results").resolve("probe");
        ResultsSnapshot before = ResultsSnapshot.take(resultsDir);
        Map<Path, byte[]> previousContent = readResultsFiles(resultsDir);
        Map<String, String> scriptEnvironment = scriptEnvironment(runId, request.online());
        Set<Path> temporaryBefore = temporaryFiles(resultsDir);
        try (ChildProcesses.Registration cleanup = ChildProcesses.onShutdown(
                () -> removeNewTemporaryFiles(resultsDir, temporaryBefore))) {
            for (int i = 0; i < scripts.size(); i++) {
                Path script = scripts.get(i);
                console.info("running " + script + " (" + (i + 1) + " of " + scripts.size() + ")");
                CommandSpec spec = uv.runPython(codeDir, AttentionExtra.EXTRA, script)
                        .withEnvironment(scriptEnvironment)
                        .withTimeout(request.scriptTimeout());
                ProcessResult result = runLogged(script.toString(), spec, logsDir.resolve(logName(script)));
                processes.add(result);
                if (!result.succeeded()) {
                    // A script that crashed, was killed or timed out may have left the temporary
                    // file of an atomic write. The results file itself is still the old one, or none.
                    removeNewTemporaryFiles(resultsDir, temporaryBefore);
                    String report = ProcessFailure.describe(script.toString(), result);
                    console.error(report);
                    return new RunOutcome(failureCode(script, result), runId, processes, List.of(), report);
                }
            }
        }

        List<CheckedResults> checked = validateChanged(codeDir, before, ResultsSnapshot.take(resultsDir));
        restorePreviousResults(codeDir, runId, checked, previousContent);
        List<Path> missing = missingResults(resultsDir, probes, checked);
        if (!missing.isEmpty()) {
            // A script that exits 0 without writing its results file has still failed: the
            // caller would otherwise read an old file, or none, as this run's result.
            String report = "these probes exited 0 but did not write their results file: " + missing;
            console.error(report);
            return new RunOutcome(ExitCode.SCRIPT_FAILED, runId, processes, checked, report);
        }
        boolean allValid = checked.stream().allMatch(CheckedResults::valid);
        return new RunOutcome(allValid ? ExitCode.SUCCESS : ExitCode.VALIDATION_FAILED, runId, processes, checked,
                null);
    }

    /**
     * Returns the exit code of a run whose script failed, and prints what to do. The generated
     * scripts exit with 2 when the runtime rejects their inputs (a prompt, pair, layer or
     * setting) and with 3 on an environment error (file system or network), the same codes as the CLI's usage and
     * environment errors. A script killed by a signal reports 128 + the signal's number.
     */
    private ExitCode failureCode(Path script, ProcessResult result) {
        if (ChildProcesses.shuttingDown()) {
            return ExitCode.INTERRUPTED;
        }
        if (result.timedOut()) {
            console.error(script + " timed out after --timeout " + result.spec().timeout().toSeconds()
                    + " s and was stopped; raise the limit or lower --n-examples, then run again");
            return ExitCode.SCRIPT_TIMED_OUT;
        }
        int signal = ProcessFailure.signalOf(result);
        if (signal > 0) {
            console.error(script + " was killed by " + ProcessFailure.signalName(signal) + " (for example by kill"
                    + " -9 or the out-of-memory killer); no results file of it was written, and earlier ones are"
                    + " kept");
            return ExitCode.SCRIPT_KILLED;
        }
        if (result.exitCode() == SCRIPT_INPUT_ERROR_EXIT) {
            console.error(script + " rejected its inputs; fix the file or setting its error names and run again");
            return ExitCode.USAGE;
        }
        if (result.exitCode() == SCRIPT_FILE_SYSTEM_ERROR_EXIT) {
            console.error(script + " hit an environment error (file system or network); fix the folder, disk or connection its error names and run again");
            return ExitCode.ENVIRONMENT;
        }
        return ExitCode.SCRIPT_FAILED;
    }

    /**
     * Checks that the folders a run writes into (results, cache, logs, the lock) do not lead out
     * of the research folder through a symbolic link, before anything runs.
     */
    private static void checkFoldersInside(Path codeDir) {
        Path researchDir = codeDir.getParent();
        if (researchDir == null) {
            return;
        }
        Workspace.checkInside(researchDir, codeDir);
        for (String folder : List.of("results/probe", "cache/activations", "cache/events.jsonl", LOGS_FOLDER,
                RunLock.FILE)) {
            Workspace.checkInside(researchDir, codeDir.resolve(folder));
        }
    }

    /** Returns the hidden temporary files ({@code .<name>.<random>.tmp}) directly in {@code folder}. */
    static Set<Path> temporaryFiles(Path folder) {
        Set<Path> found = new HashSet<>();
        if (!Files.isDirectory(folder, LinkOption.NOFOLLOW_LINKS)) {
            return found;
        }
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(folder, ".*.tmp")) {
            for (Path entry : entries) {
                if (Files.isRegularFile(entry, LinkOption.NOFOLLOW_LINKS)) {
                    found.add(entry);
                }
            }
        } catch (IOException e) {
            // Listing is best effort: a leftover temporary file is hidden and never read as results.
        }
        return found;
    }

    /** Deletes the temporary files in {@code folder} that were not there before this run's scripts. */
    static void removeNewTemporaryFiles(Path folder, Set<Path> before) {
        for (Path file : temporaryFiles(folder)) {
            if (!before.contains(file)) {
                try {
                    Files.deleteIfExists(file);
                } catch (IOException e) {
                    // Best effort, as above.
                }
            }
        }
    }

    /** Returns the variables every script runs with, in addition to the inherited environment. */
    static Map<String, String> scriptEnvironment(String runId, boolean online) {
        Map<String, String> environment = new LinkedHashMap<>();
        environment.put(RunId.ENVIRONMENT_VARIABLE, runId);
        // Without this, Python buffers stdout in a pipe and progress lines arrive only at exit.
        environment.put("PYTHONUNBUFFERED", "1");
        // The runtime reports its own progress steps; tqdm's bars would only add raw lines.
        environment.put("TQDM_DISABLE", "1");
        if (!online) {
            environment.put("HF_HUB_OFFLINE", "1");
            environment.put("TRANSFORMERS_OFFLINE", "1");
        }
        return environment;
    }

    private ProcessResult runLogged(String label, CommandSpec spec, Path logFile) {
        console.verbose("$ " + spec.display() + "  (in " + spec.workingDirectory() + ")");
        LineListener lines = line -> passOrShowProgress(label, line);
        ProcessResult result = runner.run(spec, lines, lines, logFile);
        console.verbose(label + " finished with exit code " + result.exitCode() + " in "
                + String.format(Locale.ROOT, "%.1f s", result.elapsed().toMillis() / 1000.0));
        return result;
    }

    /**
     * Shows a progress line of the runtime ({@link #PROGRESS_MARKER} and a JSON object with step, done
     * and total) as one progress line of the script, and passes every other line through.
     */
    void passOrShowProgress(String label, String line) {
        if (!line.startsWith(PROGRESS_MARKER)) {
            console.passthrough(line);
            return;
        }
        try {
            JsonNode progress = PROGRESS_JSON.readTree(line.substring(PROGRESS_MARKER.length()));
            console.info(label + ": " + progress.path("step").asText("?") + " (" + progress.path("done").asInt()
                    + " of " + progress.path("total").asInt() + ")");
        } catch (JsonProcessingException e) {
            console.passthrough(line);
        }
    }

    /** Returns the slug of {@code .research/<slug>/code}, the folder name above code/. */
    private static String slugOf(Path codeDir) {
        Path workspace = codeDir.toAbsolutePath().getParent();
        return workspace == null || workspace.getFileName() == null ? "<slug>" : workspace.getFileName().toString();
    }

    private static Path checkProject(Path codeDir) {
        if (!Files.isDirectory(codeDir)) {
            throw ProbeException.usage("research project not found: " + codeDir
                    + " does not exist; scaffold it with `auto-research probe setup " + slugOf(codeDir)
                    + " --intervention logit_lens --init ...`");
        }
        if (!Files.isRegularFile(codeDir.resolve("pyproject.toml"))) {
            throw ProbeException.usage(codeDir + " has no pyproject.toml, so it is not a uv project;"
                    + " create one with `auto-research probe setup " + slugOf(codeDir)
                    + " --intervention logit_lens --init ...`");
        }
        Path manifest = codeDir.resolve(".auto-research").resolve("manifest.json");
        if (!Files.isRegularFile(manifest)) {
            throw ProbeException.usage("setup manifest not found: " + manifest
                    + "; scaffold a probe with `auto-research probe setup <slug>` first");
        }
        return manifest;
    }

    private static List<Manifest.ProbeEntry> readProbes(Path manifestFile) {
        Manifest manifest = ManifestStore.read(manifestFile, ToolVersion.current());
        if (manifest.probes().isEmpty()) {
            throw ProbeException.usage("the setup manifest " + manifestFile
                    + " lists no probes; scaffold one with `auto-research probe setup <slug> --intervention NAME`");
        }
        return manifest.probes();
    }

    /**
     * Returns the probes set up for {@code backend}, or all of them when it is null. A backend that
     * no probe uses is a usage error naming the backends the probes do use.
     */
    static List<Manifest.ProbeEntry> selectBackend(List<Manifest.ProbeEntry> probes, Backend backend,
            Path manifestFile) {
        if (backend == null) {
            return probes;
        }
        List<Manifest.ProbeEntry> selected = probes.stream()
                .filter(probe -> probe.backendOrDefault().equals(backend.id())).toList();
        if (selected.isEmpty()) {
            Set<String> used = new java.util.TreeSet<>();
            for (Manifest.ProbeEntry probe : probes) {
                used.add(probe.probeId() + " (" + probe.backendOrDefault() + ")");
            }
            throw ProbeException.usage("no probe in " + manifestFile + " is set up for --backend " + backend.id()
                    + "; the probes and their backends are " + String.join(", ", used) + ". Pass one of those"
                    + " backends or --backend auto, or set a probe up with `probe setup --backend " + backend.id()
                    + "`");
        }
        return selected;
    }

    /** Resolves a probe's script against code/ and checks that it is a file inside code/. */
    private static Path resolveScript(Path codeDir, Manifest.ProbeEntry probe) {
        String script = probe.script();
        if (script == null || script.isBlank()) {
            throw ProbeException.usage("probe '" + probe.probeId() + "' in the setup manifest has no script;"
                    + " run `auto-research probe setup` again for it");
        }
        Path relative = Path.of(script).normalize();
        if (relative.isAbsolute() || relative.startsWith("..")) {
            throw ProbeException.usage("script '" + script + "' of probe '" + probe.probeId()
                    + "' is not inside " + codeDir + "; scripts must be listed relative to code/");
        }
        Path absolute = codeDir.resolve(relative);
        if (!Files.isRegularFile(absolute)) {
            throw ProbeException.usage("script not found: " + absolute + " (probe '" + probe.probeId()
                    + "'); restore it or run `auto-research probe setup` again");
        }
        try {
            if (!absolute.toRealPath().startsWith(codeDir.toRealPath())) {
                throw ProbeException.usage("script '" + script + "' resolves through a symbolic link to "
                        + absolute.toRealPath() + ", outside " + codeDir);
            }
        } catch (IOException e) {
            throw ProbeException.usage("could not resolve script " + absolute + ": " + e.getMessage());
        }
        return relative;
    }

    /** Reads the results files directly in {@code resultsDir}, so an invalid rewrite can be undone. */
    private static Map<Path, byte[]> readResultsFiles(Path resultsDir) {
        Map<Path, byte[]> content = new LinkedHashMap<>();
        if (!Files.isDirectory(resultsDir)) {
            return content;
        }
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(resultsDir, "*.json")) {
            for (Path entry : entries) {
                if (!entry.getFileName().toString().startsWith(".") && Files.isRegularFile(entry)) {
                    content.put(entry, Files.readAllBytes(entry));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("could not read the results files in " + resultsDir, e);
        }
        return content;
    }

    /**
     * Puts back the earlier version of every results file this run replaced with an invalid one,
     * so a failed run loses no earlier result. The rejected file is kept under
     * {@code results/probe/rejected/<name>.<run id>.json} for inspection. Plots the script wrote
     * are not restored.
     */
    private void restorePreviousResults(Path codeDir, String runId, List<CheckedResults> checked,
            Map<Path, byte[]> previousContent) {
        for (CheckedResults results : checked) {
            byte[] previous = previousContent.get(results.file());
            if (results.valid() || previous == null) {
                continue;
            }
            String name = results.file().getFileName().toString();
            Path rejected = results.file().resolveSibling("rejected")
                    .resolve(name.substring(0, name.length() - ".json".length()) + "." + runId + ".json");
            try {
                AtomicFiles.write(rejected, Files.readAllBytes(results.file()));
            } catch (IOException e) {
                throw new UncheckedIOException("could not keep the rejected results file " + results.file(), e);
            }
            AtomicFiles.write(results.file(), previous);
            console.error("restored the previous " + codeDir.relativize(results.file()) + "; this run's invalid file"
                    + " is kept as " + codeDir.relativize(rejected));
        }
    }

    private List<CheckedResults> validateChanged(Path codeDir, ResultsSnapshot before, ResultsSnapshot after) {
        List<CheckedResults> checked = new ArrayList<>();
        for (Path file : after.newOrChangedSince(before)) {
            List<ResultsProblem> problems = validator.validate(file, codeDir);
            checked.add(new CheckedResults(file, problems));
            console.result(file + "\t" + (problems.isEmpty() ? "valid"
                    : "invalid (" + problems.size() + (problems.size() == 1 ? " problem)" : " problems)")));
            for (ResultsProblem problem : problems) {
                console.error(codeDir.relativize(file) + ": " + problem);
            }
        }
        return checked;
    }

    /** Returns the results file of each probe that this run did not write or change. */
    private static List<Path> missingResults(Path resultsDir, List<Manifest.ProbeEntry> probes,
            List<CheckedResults> checked) {
        List<Path> missing = new ArrayList<>();
        for (Manifest.ProbeEntry probe : probes) {
            Path expected = resultsDir.resolve(probe.probeId() + ".json");
            if (checked.stream().noneMatch(results -> results.file().equals(expected))) {
                missing.add(expected);
            }
        }
        return missing;
    }

    /** Returns the log file name of a script: its file name with {@code .py} replaced by {@code .log}. */
    static String logName(Path script) {
        String name = script.getFileName().toString();
        String stem = name.endsWith(".py") ? name.substring(0, name.length() - ".py".length()) : name;
        return stem + ".log";
    }

    private static byte[] readBytes(Path file) {
        try {
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw ProbeException.usage("could not read " + file + ": " + e.getMessage());
        }
    }
}
