package io.autoresearch.probe.doctor;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.autoresearch.probe.process.CommandSpec;
import io.autoresearch.probe.process.LineListener;
import io.autoresearch.probe.process.ProcessResult;
import io.autoresearch.probe.process.ProcessRunner;
import io.autoresearch.probe.setup.AttentionExtra;
import io.autoresearch.probe.setup.ModelFiles;
import io.autoresearch.probe.setup.ModelResolver;
import io.autoresearch.probe.setup.ResolvedModel;
import io.autoresearch.probe.support.ProbeException;
import io.autoresearch.probe.uv.Uv;
import io.autoresearch.probe.uv.UvLocator;
import io.autoresearch.probe.workspace.Workspace;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Checks that this machine can set up and run probes: Java, uv, Python 3.11, the locked
 * attention extra, torch and its device, and whether a model loads without a download.
 *
 * <p>Without a workspace it starts no Python and imports no torch, so it finishes in about half a
 * second (measured on a 2-core machine). With a workspace it runs one short script in the workspace's
 * environment through {@code uv run --no-sync --offline}, which installs and downloads nothing.
 */
public final class Doctor {
    static final int MINIMUM_JAVA = 17;
    private static final Duration QUICK_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration TORCH_TIMEOUT = Duration.ofSeconds(180);
    private static final Pattern PIN = Pattern.compile("^\\s*([A-Za-z0-9._-]+)\\s*(\\[[^\\]]*])?\\s*(==\\s*([^;,\\s]+))?");
    private static final List<String> TOKENIZER_FILES = List.of("tokenizer.json", "vocab.json", "vocab.txt",
            "tokenizer.model");

    /** Prints the Python version, each package's installed version, torch's version and its device as JSON. */
    static final String WORKSPACE_SCRIPT = String.join("\n",
            "import json, sys",
            "import importlib.metadata as metadata",
            "out = {'python': '%d.%d.%d' % sys.version_info[:3], 'packages': {}}",
            "for name in sys.argv[1:]:",
            "    try:",
            "        out['packages'][name] = metadata.version(name)",
            "    except metadata.PackageNotFoundError:",
            "        out['packages'][name] = None",
            "try:",
            "    import torch",
            "    out['torch'] = torch.__version__",
            "    if torch.cuda.is_available():",
            "        out['device'] = 'cuda (%s, %d visible)' % (torch.cuda.get_device_name(0), torch.cuda.device_count())",
            "    elif getattr(torch.backends, 'mps', None) is not None and torch.backends.mps.is_available():",
            "        out['device'] = 'mps'",
            "    else:",
            "        out['device'] = 'cpu'",
            "except Exception as error:",
            "    out['torch_error'] = '%s: %s' % (type(error).__name__, error)",
            "print('DOCTOR ' + json.dumps(out))");

    private final Map<String, String> environment;
    private final UvLocator locator;
    private final ProcessRunner runner;
    private final ModelResolver resolver;

    public Doctor(Map<String, String> environment, UvLocator locator, ModelResolver resolver) {
        this.environment = Map.copyOf(environment);
        this.locator = locator;
        this.runner = new ProcessRunner(environment);
        this.resolver = resolver;
    }

    /**
     * Runs every check.
     *
     * @param workspace the workspace whose code/.venv is checked, or null
     * @param model the {@code --model} value to check for offline use, or null
     */
    public List<Check> run(Workspace workspace, String model) {
        List<Check> checks = new ArrayList<>();
        checks.add(java(Runtime.version().feature(), System.getProperty("java.version"),
                System.getProperty("java.home")));
        Optional<Path> uv = locator.find();
        checks.add(uv(uv));
        checks.add(python(uv));
        List<String> pins = AttentionExtra.packagedPins();
        checks.add(extra(pins, workspace));
        if (workspace == null) {
            checks.add(Check.warn("torch", "not imported without a workspace; pass --root DIR --slug SLUG to"
                    + " import it in that workspace's code/.venv and report its device"));
        } else {
            checks.addAll(workspaceEnvironment(uv, workspace, pins));
        }
        checks.add(model(model));
        return checks;
    }

    static Check java(int feature, String version, String home) {
        if (feature < MINIMUM_JAVA) {
            return Check.fail("java", "Java " + version + " at " + home + " is older than " + MINIMUM_JAVA
                    + "; install Java " + MINIMUM_JAVA + " or newer and put it first on PATH (or set JAVA_HOME)");
        }
        return Check.ok("java", "Java " + version + " at " + home);
    }

    private Check uv(Optional<Path> uv) {
        if (uv.isEmpty()) {
            return Check.fail("uv", "not found on PATH or at " + locator.installedExecutable() + "; install it from"
                    + " https://docs.astral.sh/uv/ or with `python3 -m pip install --target " + locator.installDirectory()
                    + " uv==" + UvLocator.PINNED_VERSION + "`, or run `auto-research probe setup` without --no-install"
                    + " to let it install uv");
        }
        List<String> output = new ArrayList<>();
        ProcessResult result = runner.run(CommandSpec.of(uv.get().getParent(), List.of(uv.get().toString(), "--version")).withTimeout(QUICK_TIMEOUT),
                output::add, LineListener.IGNORE);
        if (!result.succeeded() || output.isEmpty()) {
            return Check.fail("uv", uv.get() + " --version failed (exit code " + result.exitCode() + "); reinstall uv"
                    + " from https://docs.astral.sh/uv/ or remove it so auto-research installs uv "
                    + UvLocator.PINNED_VERSION);
        }
        return Check.ok("uv", output.get(0).trim() + " at " + uv.get());
    }

    private Check python(Optional<Path> uv) {
        if (uv.isEmpty()) {
            return Check.fail("python", "not checked, because uv is missing; fix uv first");
        }
        List<String> output = new ArrayList<>();
        List<String> errors = new ArrayList<>();
        Map<String, String> offline = Map.of("UV_OFFLINE", "1", "UV_PYTHON_DOWNLOADS", "never");
        ProcessResult result = runner.run(CommandSpec.of(uv.get().getParent(), List.of(uv.get().toString(), "python",
                "find", Uv.PYTHON_VERSION)).withEnvironment(offline).withTimeout(QUICK_TIMEOUT), output::add,
                errors::add);
        if (!result.succeeded() || output.isEmpty()) {
            return Check.fail("python", "no Python " + Uv.PYTHON_VERSION + " found by uv"
                    + (errors.isEmpty() ? "" : " (" + errors.get(0).trim() + ")") + "; install it with `uv python"
                    + " install " + Uv.PYTHON_VERSION + "` or your system's package manager");
        }
        return Check.ok("python", "Python " + Uv.PYTHON_VERSION + " at " + output.get(0).trim());
    }

    private static Check extra(List<String> pins, Workspace workspace) {
        String packaged = pins.size() + " packaged pins (" + String.join(", ", pins) + ")";
        if (workspace == null) {
            return Check.ok("attention extra", packaged);
        }
        Path pyproject = workspace.pyproject();
        List<String> declared;
        try {
            declared = AttentionExtra.projectPins(pyproject);
        } catch (ProbeException e) {
            return Check.fail("attention extra", e.getMessage());
        }
        String setupFix = "; run `auto-research probe setup " + workspace.slug().value() + " --intervention NAME"
                + " --root " + workspace.root() + "` to declare the packaged pins";
        if (declared == null) {
            return Check.fail("attention extra", (Files.isRegularFile(pyproject) ? pyproject + " declares no "
                    + AttentionExtra.EXTRA + " extra" : pyproject + " does not exist") + setupFix);
        }
        if (!AttentionExtra.sameRequirements(pins, declared)) {
            return Check.fail("attention extra", pyproject + " declares " + declared + ", not the packaged pins"
                    + setupFix);
        }
        String lock = Files.isRegularFile(workspace.codeDir().resolve("uv.lock")) ? ", uv.lock present"
                : ", no uv.lock yet (`auto-research probe run` writes it)";
        return Check.ok("attention extra", pyproject + " declares the " + pins.size() + " packaged pins" + lock);
    }

    /** Checks the workspace's environment: its installed packages, then torch and its device. */
    private List<Check> workspaceEnvironment(Optional<Path> uv, Workspace workspace, List<String> pins) {
        Path codeDir = workspace.codeDir();
        String syncFix = "run `auto-research probe run " + workspace.slug().value() + " --root " + workspace.root()
                + "` or `uv sync --extra " + AttentionExtra.EXTRA + "` in " + codeDir;
        if (uv.isEmpty()) {
            return List.of(Check.fail("torch", "not checked, because uv is missing; fix uv first"));
        }
        if (!Files.isDirectory(codeDir.resolve(".venv"))) {
            return List.of(Check.fail("installed extra", "no environment at " + codeDir.resolve(".venv") + "; "
                    + syncFix), Check.fail("torch", "not checked without " + codeDir.resolve(".venv") + "; " + syncFix));
        }

        Map<String, String> expected = new LinkedHashMap<>();
        for (String pin : pins) {
            Matcher matcher = PIN.matcher(pin);
            if (matcher.find()) {
                expected.put(matcher.group(1), matcher.group(4));
            }
        }
        List<String> command = new ArrayList<>(List.of(uv.get().toString(), "run", "--no-sync", "--offline",
                "python", "-c", WORKSPACE_SCRIPT));
        command.addAll(expected.keySet());
        List<String> output = new ArrayList<>();
        List<String> errors = new ArrayList<>();
        ProcessResult result = runner.run(CommandSpec.of(codeDir, command)
                .withEnvironment(Map.of("HF_HUB_OFFLINE", "1", "UV_PYTHON_DOWNLOADS", "never"))
                .withTimeout(TORCH_TIMEOUT), output::add, errors::add);
        JsonNode report = output.stream().filter(line -> line.startsWith("DOCTOR ")).findFirst()
                .map(line -> parse(line.substring("DOCTOR ".length()))).orElse(null);
        if (!result.succeeded() || report == null) {
            String reason = result.timedOut() ? "timed out after " + TORCH_TIMEOUT.toSeconds() + " s"
                    : "exit code " + result.exitCode() + (errors.isEmpty() ? "" : ", " + errors.get(errors.size() - 1).trim());
            return List.of(Check.fail("torch", "the workspace's Python did not run in " + codeDir + " (" + reason
                    + "); " + syncFix));
        }

        List<Check> checks = new ArrayList<>();
        List<String> wrong = new ArrayList<>();
        expected.forEach((name, version) -> {
            JsonNode installed = report.path("packages").path(name);
            if (installed.isNull() || installed.isMissingNode()) {
                wrong.add(name + " missing");
            } else if (version != null && !installed.asText().split("\\+")[0].equals(version)) {
                wrong.add(name + " " + installed.asText() + " (pinned " + version + ")");
            }
        });

        String python = report.path("python").asText();
        if (!python.startsWith(Uv.PYTHON_VERSION + ".")) {
            checks.add(Check.fail("installed extra", codeDir.resolve(".venv") + " runs Python " + python + ", not "
                    + Uv.PYTHON_VERSION + "; delete the .venv and " + syncFix));
        } else if (!wrong.isEmpty()) {
            checks.add(Check.fail("installed extra", String.join(", ", wrong) + " in " + codeDir.resolve(".venv")
                    + "; " + syncFix));
        } else {
            checks.add(Check.ok("installed extra", "the " + expected.size() + " packages of the extra, at their pinned versions, in "
                    + codeDir.resolve(".venv") + " (Python " + python + ")"));
        }

        if (report.has("torch_error")) {
            checks.add(Check.fail("torch", "import failed: " + report.get("torch_error").asText() + "; " + syncFix));
        } else {
            checks.add(Check.ok("torch", "torch " + report.path("torch").asText() + ", device "
                    + report.path("device").asText()));
        }
        return checks;
    }

    private Check model(String model) {
        if (model == null) {
            return Check.warn("model", "not checked; pass --model ID_OR_PATH to check that it loads offline");
        }
        ResolvedModel resolved;
        try {
            resolved = resolver.resolve(model, false);
        } catch (ProbeException e) {
            String note = e.getMessage().contains("--allow-download")
                    ? " (--allow-download is an option of probe setup: the scripts then download the model when they run)"
                    : "";
            return Check.fail("model", e.getMessage() + note);
        }
        Path folder = resolved.localFolder() != null ? resolved.localFolder() : resolved.configFile().getParent();
        List<String> missing = new ArrayList<>();
        if (!ModelFiles.hasWeights(folder)) {
            missing.add("weights (" + String.join(", ", ModelFiles.WEIGHT_FILES) + ")");
        }
        if (TOKENIZER_FILES.stream().noneMatch(name -> Files.isRegularFile(folder.resolve(name)))) {
            missing.add("tokenizer (" + String.join(", ", TOKENIZER_FILES) + ")");
        }
        if (!missing.isEmpty()) {
            return Check.fail("model", folder + " has config.json but no " + String.join(" and no ", missing)
                    + "; copy the complete model folder there, or download it once on a machine with network access"
                    + " (`huggingface-cli download " + (resolved.hubId() == null ? "ORG/NAME" : resolved.hubId()) + "`)");
        }
        String layers = resolved.nLayers() == null ? "" : ", " + resolved.nLayers() + " layers";
        String type = resolved.modelType() == null ? "" : ", " + resolved.modelType();
        String source = resolved.isLocal() ? "local folder " + folder : "hub id " + resolved.hubId() + " cached at " + folder;
        return Check.ok("model", source + type + layers + ": config, weights and tokenizer on disk");
    }

    private static JsonNode parse(String json) {
        try {
            return new ObjectMapper().readTree(json);
        } catch (IOException e) {
            return null;
        }
    }
}
