package io.autoresearch.probe.setup;

import io.autoresearch.probe.render.PythonLiteral;
import io.autoresearch.probe.support.ProbeException;
import io.autoresearch.probe.workspace.Slug;
import io.autoresearch.probe.workspace.Workspace;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.LocalDate;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Checks every setup input and turns it into a {@link SetupPlan}, reading but never writing.
 * Each problem is a usage error whose message names the value and the fix, so a failed setup
 * leaves the workspace exactly as it was.
 */
public final class SetupValidator {
    public static final Pattern PROBE_ID = Pattern.compile("^[a-z0-9][a-z0-9_]{0,79}$");
    /** The torch dtypes a model can be loaded in; names as torch spells them. */
    public static final List<String> DTYPES = List.of("float32", "float16", "bfloat16", "float64");
    /** The prompts file reused when {@code --prompts} is not given. */
    public static final String DEFAULT_PROMPTS = "data/prompts.jsonl";
    /** The pairs file reused when {@code --pairs} is not given. */
    public static final String DEFAULT_PAIRS = "data/pairs.jsonl";
    /** The labelled-texts file reused when {@code --labels} is not given. */
    public static final String DEFAULT_LABELS = "data/labels.jsonl";
    /** The shortest attention-pattern span: the induction score needs a second copy of at least two tokens. */
    public static final int MIN_SEQ_LEN = 2;

    private final ModelResolver modelResolver;
    private final Clock clock;
    private final String toolVersion;

    public SetupValidator(ModelResolver modelResolver, Clock clock, String toolVersion) {
        this.modelResolver = modelResolver;
        this.clock = clock;
        this.toolVersion = toolVersion;
    }

    /** Validates {@code options} and returns the plan; throws a usage error on the first problem. */
    public SetupPlan validate(SetupOptions options) {
        Slug slug = Slug.parse(options.slug());
        Workspace workspace = new Workspace(options.root(), slug);
        Intervention intervention = Intervention.parse(options.intervention());
        boolean needsInit = checkProject(workspace, options.init());
        if (needsInit && slug.value().endsWith("-")) {
            throw ProbeException.usage("slug '" + slug.value() + "' cannot name a new uv project: a Python project"
                    + " name must end with a letter or digit; choose a slug without the trailing '-'");
        }

        String packageName = needsInit ? slug.toPackageName() : workspace.packageName();
        checkText("--model", options.model());
        ResolvedModel model = modelResolver.resolve(options.model(), options.allowDownload());
        checkWeights(model);
        LayerSpec layerSpec = LayerSpec.parse(options.layers());
        // Layer n_layers is the final residual stream: the logit lens reads it, and so does probing at
        // resid_pre (for an encoder, the last hidden state).
        boolean includeFinal = intervention == Intervention.LOGIT_LENS || (intervention == Intervention.PROBING
                && "resid_pre".equals(options.hook()));
        List<Integer> lensLayers = layerSpec.resolve(model.nLayers(), model.displayName(), includeFinal);
        List<Integer> scriptLayers = layerSpec.isAll() ? null : layerSpec.layers();

        checkOptionsApply(options, intervention);
        checkModelKind(intervention, model);
        Path dataSource = switch (intervention.input()) {
            case PROMPTS -> inputSource(workspace, options.prompts(), DEFAULT_PROMPTS, "--prompts",
                    "a JSONL file with one {\"prompt\": ..., \"answer\": ...} object per line");
            case PAIRS -> inputSource(workspace, options.pairs(), DEFAULT_PAIRS, "--pairs",
                    "a JSONL file with one {\"clean\": ..., \"corrupted\": ..., \"answer\": ..., \"wrong_answer\": ...}"
                            + " object per line");
            case LABELS -> inputSource(workspace, options.labels(), DEFAULT_LABELS, "--labels",
                    "a JSONL file with one {\"text\": ..., \"label\": ...} object per line");
            case NONE -> null;
        };
        ProbeSettings settings = settings(options, intervention, model, workspace, scriptLayers, lensLayers);
        int dataCount = switch (intervention.input()) {
            case PROMPTS -> PromptsFile.validate(dataSource);
            case PAIRS -> PairsFile.validate(dataSource);
            case LABELS -> checkLabels(dataSource, intervention, settings);
            case NONE -> 0;
        };
        String dataPath = dataSource == null ? null : "data/" + dataSource.getFileName();
        Receiver receiver = settings.receiver();

        checkPathLayers(intervention, receiver, scriptLayers);
        String probeId = probeId(options.probeId(), intervention,
                intervention == Intervention.SAE_FEATURE_LOOKUP && scriptLayers != null ? scriptLayers : lensLayers,
                settings);
        int nExamples = checkExampleCount(options.nExamples());
        List<Integer> seeds = parseSeeds(options.seeds());
        String dtype = checkDtype(options.dtype());
        BackendChoice backend = BackendSelector.select(options.backend(), options.backendReason(),
                options.remote(), options.deviceMap(), options.recheckFloat32(), dtype, nExamples, intervention,
                settings.method(), model);
        String researchQuestion = researchQuestion(options.researchQuestion(), options.hypothesis());
        String hypothesis = researchQuestion == null ? hypothesis(options.hypothesis(), workspace)
                : planHypothesis(researchQuestion, workspace);

        Manifest manifest = ManifestStore.read(workspace.manifest(), toolVersion);
        Optional<Manifest.ProbeEntry> existing = manifest.probe(probeId);
        if (existing.isPresent() && !existing.get().intervention().equals(intervention.id())) {
            throw ProbeException.usage("probe id '" + probeId + "' already belongs to the " + existing.get().intervention()
                    + " probe in " + existing.get().script() + "; choose another --probe-id for this "
                    + intervention.id() + " probe");
        }
        LocalDate today = LocalDate.now(clock);
        String scriptPath = existing.map(Manifest.ProbeEntry::script)
                .orElseGet(() -> newScriptPath(manifest, intervention, probeId, today));
        LocalDate generatedOn = ProbeScripts.dateOfScript(scriptPath).orElse(today);
        Instant created = existing.map(entry -> parseInstant(entry.created()))
                .orElse(Instant.now(clock).truncatedTo(ChronoUnit.SECONDS));

        checkTargets(workspace, packageName, scriptPath, dataPath);
        return new SetupPlan(workspace, intervention, needsInit, packageName, model,
                modelIdForScript(workspace, model), lensLayers, scriptLayers, dataSource, dataPath,
                dataCount, probeId, nExamples, seeds, dtype, researchQuestion, hypothesis, scriptPath, generatedOn, created,
                manifest, options.force(), settings, backend);
    }

    /**
     * Returns the script of a probe that the manifest does not list yet:
     * {@code analysis/<intervention>_<date>.py}, or {@code analysis/<probe_id>_<date>.py} when
     * another probe already owns that name, so that two probes never share one script.
     */
    private static String newScriptPath(Manifest manifest, Intervention intervention, String probeId, LocalDate date) {
        String byIntervention = ProbeScripts.scriptPath(intervention.id(), date);
        boolean taken = manifest.probes().stream().anyMatch(probe -> probe.script().equals(byIntervention));
        return taken ? ProbeScripts.scriptPath(probeId, date) : byIntervention;
    }

    /** Returns whether uv init must run; rejects a missing project without {@code --init}. */
    private static boolean checkProject(Workspace workspace, boolean init) {
        Path codeDir = workspace.codeDir();
        if (Files.exists(codeDir) && !Files.isDirectory(codeDir)) {
            throw ProbeException.usage(codeDir + " exists but is not a folder; move it away and run setup again");
        }
        workspace.checkInside(codeDir);
        boolean hasProject = Files.isRegularFile(workspace.pyproject());
        if (!hasProject && !init) {
            String problem = Files.isDirectory(codeDir) ? "has no pyproject.toml" : "does not exist";
            throw ProbeException.usage("research project " + codeDir + " " + problem
                    + "; pass --init to create it with uv init");
        }
        return !hasProject;
    }

    /**
     * Rejects options that the chosen intervention does not read, so that a mistyped
     * intervention does not silently ignore them.
     */
    private static void checkOptionsApply(SetupOptions options, Intervention intervention) {
        if (options.prompts() != null && intervention.input() != Intervention.Input.PROMPTS) {
            throw ProbeException.usage("--prompts does not apply to " + intervention.id() + ": "
                    + (intervention.input() == Intervention.Input.PAIRS
                            ? "it reads clean/corrupted pairs, so pass --pairs FILE instead"
                            : "it makes its own input sequences; remove --prompts"));
        }
        if (options.pairs() != null && intervention.input() != Intervention.Input.PAIRS) {
            throw ProbeException.usage("--pairs applies to activation_patching and path_patching only, not to "
                    + intervention.id() + "; remove it");
        }
        if (options.receiver() != null && intervention != Intervention.PATH_PATCHING) {
            throw ProbeException.usage("--receiver applies to path_patching only, not to " + intervention.id()
                    + "; remove it");
        }
        if (options.seqLen() != null && intervention != Intervention.ATTENTION_PATTERN) {
            throw ProbeException.usage("--seq-len applies to attention_pattern only, not to " + intervention.id()
                    + "; remove it");
        }
        boolean readsLabels = intervention.input() == Intervention.Input.LABELS;
        requireOnly(options.labels() != null, readsLabels, "--labels", "probing and sae_feature_lookup", intervention);
        requireOnly(options.hook() != null, readsLabels, "--hook", "probing and sae_feature_lookup", intervention);
        boolean probing = intervention == Intervention.PROBING;
        requireOnly(options.position() != null, probing, "--position", "probing", intervention);
        requireOnly(options.folds() != null, probing, "--folds", "probing", intervention);
        boolean sae = intervention == Intervention.SAE_FEATURE_LOOKUP;
        requireOnly(options.sae() != null, sae, "--sae", "sae_feature_lookup", intervention);
        requireOnly(options.saeWidth() != null, sae, "--sae-width", "sae_feature_lookup", intervention);
        requireOnly(options.targetLabel() != null, sae, "--target-label", "sae_feature_lookup", intervention);
        requireOnly(options.targetToken() != null, sae, "--target-token", "sae_feature_lookup", intervention);
        requireOnly(options.topK() != null, sae, "--top-k", "sae_feature_lookup", intervention);
        requireOnly(options.method() != null, intervention == Intervention.ACTIVATION_PATCHING, "--method",
                "activation_patching", intervention);
        if (options.sae() != null && options.saeWidth() != null) {
            throw ProbeException.usage("--sae-width sets the size of an SAE that the probe trains, and --sae loads"
                    + " one from disk; pass one of them");
        }
    }

    private static void requireOnly(boolean given, boolean applies, String option, String owners,
            Intervention intervention) {
        if (given && !applies) {
            throw ProbeException.usage(option + " applies to " + owners + " only, not to " + intervention.id()
                    + "; remove it");
        }
    }

    /**
     * Rejects a local model folder without weights, as {@code probe doctor --model} does, so that
     * setup fails now instead of the script at run time. A hub model is not checked: a remote
     * nnsight run needs only its config.json on this machine.
     */
    private static void checkWeights(ResolvedModel model) {
        if (model.isLocal() && !ModelFiles.hasWeights(model.localFolder())) {
            throw ProbeException.usage("model folder " + model.localFolder() + " has config.json but no weights ("
                    + String.join(", ", ModelFiles.WEIGHT_FILES) + ", or another *.safetensors file); copy the"
                    + " complete model folder there, as save_pretrained writes it");
        }
    }

    /** Rejects a bidirectional encoder for the interventions that need TransformerLens's causal models. */
    private static void checkModelKind(Intervention intervention, ResolvedModel model) {
        if (model.isEncoder() && intervention != Intervention.PROBING) {
            throw ProbeException.usage("model '" + model.displayName() + "' is a " + model.modelType() + " encoder,"
                    + " which TransformerLens cannot load; " + intervention.id() + " needs a causal language model"
                    + " such as GPT-2, and only probing runs on encoders");
        }
    }

    /** Checks and collects the options that only some interventions read, with their defaults. */
    private static ProbeSettings settings(SetupOptions options, Intervention intervention, ResolvedModel model,
            Workspace workspace, List<Integer> scriptLayers, List<Integer> lensLayers) {
        Receiver receiver = Receiver.parse(options.receiver() == null ? SetupOptions.DEFAULT_RECEIVER : options.receiver())
                .checkAgainst(model.nLayers(), model.nHeads(), model.displayName());
        int seqLen = checkSeqLen(options.seqLen() == null ? SetupOptions.DEFAULT_SEQ_LEN : options.seqLen(), model);
        String hook = oneOf("--hook", options.hook(), ProbeSettings.HOOKS, ProbeSettings.DEFAULT_HOOK);
        if (model.isEncoder() && !ProbeSettings.ENCODER_HOOKS.contains(hook)) {
            throw ProbeException.usage("invalid --hook '" + hook + "' for the " + model.modelType() + " encoder '"
                    + model.displayName() + "': an encoder exposes its residual stream only; use "
                    + String.join(" or ", ProbeSettings.ENCODER_HOOKS));
        }
        String position = oneOf("--position", options.position(), ProbeSettings.POSITIONS,
                ProbeSettings.DEFAULT_POSITION);
        int folds = options.folds() == null ? ProbeSettings.DEFAULT_FOLDS : options.folds();
        if (folds < 2 || folds > ProbeSettings.MAX_FOLDS) {
            throw ProbeException.usage("invalid --folds " + folds + ": held-out accuracy needs 2 to "
                    + ProbeSettings.MAX_FOLDS + " folds (5 is usual)");
        }
        int topK = options.topK() == null ? ProbeSettings.DEFAULT_TOP_K : options.topK();
        if (topK < 1 || topK > ProbeSettings.MAX_TOP_K) {
            throw ProbeException.usage("invalid --top-k " + topK + ": keep 1 to " + ProbeSettings.MAX_TOP_K
                    + " examples per feature");
        }
        if (options.saeWidth() != null && options.saeWidth() < 1) {
            throw ProbeException.usage("invalid --sae-width " + options.saeWidth() + ": an SAE needs at least one"
                    + " feature (a few times the model width is usual)");
        }
        checkText("--target-label", options.targetLabel());
        checkText("--target-token", options.targetToken());
        if (options.targetToken() != null && options.targetToken().isEmpty()) {
            throw ProbeException.usage("empty --target-token: name the token whose features to rank");
        }
        String method = oneOf("--method", options.method(), ProbeSettings.METHODS, ProbeSettings.DEFAULT_METHOD);
        String saePath = null;
        if (intervention == Intervention.SAE_FEATURE_LOOKUP) {
            checkSingleLayer(scriptLayers, lensLayers, model);
            if (options.sae() != null) {
                List<Integer> chosen = scriptLayers != null ? scriptLayers : lensLayers;
                saePath = SaeFolder.check(options.sae(), model, hook, chosen.get(0)).scriptPath(workspace);
            }
        }
        return new ProbeSettings(receiver, seqLen, hook, position, folds, saePath, options.saeWidth(),
                options.targetLabel(), options.targetToken(), topK, method);
    }

    private static String oneOf(String option, String value, List<String> allowed, String fallback) {
        if (value == null) {
            return fallback;
        }
        if (!allowed.contains(value)) {
            throw ProbeException.usage("invalid " + option + " '" + value + "'; use one of " + String.join(", ", allowed));
        }
        return value;
    }

    /** SAE feature lookup reads one layer, so {@code --layers} must name exactly one. */
    private static void checkSingleLayer(List<Integer> scriptLayers, List<Integer> lensLayers, ResolvedModel model) {
        List<Integer> chosen = scriptLayers != null ? scriptLayers : lensLayers;
        if (chosen == null || chosen.size() != 1) {
            String count = chosen == null ? "all layers" : chosen.size() + " layers";
            throw ProbeException.usage("sae_feature_lookup reads one layer, but --layers selects " + count + " of '"
                    + model.displayName() + "'; pass one layer such as --layers "
                    + (model.nLayers() == null ? 0 : model.nLayers() / 2));
        }
    }

    /**
     * Validates the labelled texts and returns their count. Probing needs a label on every line and
     * enough texts per class for its folds; a target label must occur in the file.
     */
    private static int checkLabels(Path file, Intervention intervention, ProbeSettings settings) {
        boolean probing = intervention == Intervention.PROBING;
        LabelsFile.Summary summary = LabelsFile.validate(file, probing);
        if (probing) {
            LabelsFile.checkFolds(file, summary, settings.folds());
        }
        String target = settings.targetLabel();
        if (target != null && !summary.classCounts().containsKey(target)) {
            throw ProbeException.usage("--target-label '" + target + "' does not occur in " + file
                    + (summary.classCounts().isEmpty() ? ", which has no labels; add labels or use --target-token"
                            : "; its labels are " + LabelsFile.listed(summary.classCounts().keySet())));
        }
        return summary.texts();
    }

    /** Returns the given input file, or the copy a previous setup left in code/data/. */
    private static Path inputSource(Workspace workspace, Path given, String reusedPath, String option, String format) {
        if (given != null) {
            return given.toAbsolutePath().normalize();
        }
        Path reused = workspace.codeDir().resolve(reusedPath);
        if (Files.isRegularFile(reused)) {
            return reused;
        }
        String name = reusedPath.substring(reusedPath.lastIndexOf('/') + 1);
        throw ProbeException.usage("missing " + option + ": pass " + format + ". Setup copies it into code/data/"
                + " under its own name, and a later setup without " + option + " reuses code/" + reusedPath
                + ", so a file named " + name + " is reused");
    }

    /**
     * Checks that path patching has senders: a named receiver needs a chosen layer below it, and
     * the auto receiver needs two chosen layers (it sits in one above the lowest).
     */
    private static void checkPathLayers(Intervention intervention, Receiver receiver, List<Integer> layers) {
        if (intervention != Intervention.PATH_PATCHING || layers == null) {
            return;
        }
        if (!receiver.isAuto() && layers.stream().noneMatch(layer -> layer < receiver.layer())) {
            throw ProbeException.usage("invalid --layers " + layers + " for receiver " + receiver + ": path patching"
                    + " sweeps senders in the chosen layers below the receiver, and none is below layer "
                    + receiver.layer() + "; include a lower layer or use --layers all");
        }
        if (receiver.isAuto() && layers.size() < 2) {
            throw ProbeException.usage("invalid --layers " + layers + " for --receiver auto: the receiver is picked"
                    + " from the chosen layers above the lowest one, so choose at least two layers, or name the"
                    + " receiver such as L1H0");
        }
    }

    /** Checks that BOS and two copies of the span fit in the model's context. */
    private static int checkSeqLen(int seqLen, ResolvedModel model) {
        if (seqLen < MIN_SEQ_LEN) {
            throw ProbeException.usage("invalid --seq-len " + seqLen + ": use at least " + MIN_SEQ_LEN
                    + " tokens per repeated span");
        }
        if (model.nCtx() != null && 2 * seqLen + 1 > model.nCtx()) {
            throw ProbeException.usage("invalid --seq-len " + seqLen + ": BOS and two copies of the span take "
                    + (2 * seqLen + 1) + " tokens, more than the " + model.nCtx() + " that model '"
                    + model.displayName() + "' accepts; use at most " + (model.nCtx() - 1) / 2);
        }
        return seqLen;
    }

    private static String probeId(String requested, Intervention intervention, List<Integer> layers,
            ProbeSettings settings) {
        String probeId = requested;
        if (probeId == null && intervention == Intervention.PATH_PATCHING) {
            probeId = intervention.id() + "_receiver_" + settings.receiver().idPart();
        } else if (probeId == null && intervention == Intervention.SAE_FEATURE_LOOKUP) {
            probeId = intervention.id() + "_layer_" + layers.get(0);
        } else if (probeId == null) {
            // An attribution-patching probe gets its own id, so it never replaces the exact sweep's results.
            String stem = intervention == Intervention.ACTIVATION_PATCHING && settings.method().equals("attribution")
                    ? intervention.id() + "_attribution" : intervention.id();
            probeId = layers == null || layers.isEmpty()
                    ? stem + "_layers_all"
                    : stem + "_layers_" + layers.get(0) + "_to_" + layers.get(layers.size() - 1);
        }
        if (probeId.equals("index")) {
            throw ProbeException.usage("invalid --probe-id 'index': results/probe/index.json is the collation that"
                    + " probe report writes; choose another id");
        }
        if (!PROBE_ID.matcher(probeId).matches()) {
            throw ProbeException.usage("invalid --probe-id '" + probeId + "': use 1 to 80 lower-case letters,"
                    + " digits and '_', starting with a letter or digit (" + PROBE_ID.pattern() + ")");
        }
        return probeId;
    }

    private static int checkExampleCount(int nExamples) {
        if (nExamples < 1) {
            throw ProbeException.usage("invalid --n-examples " + nExamples + ": use a positive number of examples"
                    + " per seed (a result needs at least 64)");
        }
        return nExamples;
    }

    /** Parses {@code --seeds} such as {@code 0,1,2}: distinct non-negative integers. */
    static List<Integer> parseSeeds(String text) {
        String spec = text == null ? "" : text.trim();
        List<Integer> seeds = new ArrayList<>();
        Set<Integer> seen = new HashSet<>();
        for (String item : spec.split(",", -1)) {
            String digits = item.trim();
            if (digits.isEmpty() || !digits.chars().allMatch(ch -> ch >= '0' && ch <= '9') || digits.length() > 9) {
                throw ProbeException.usage("invalid --seeds '" + text + "': '" + digits
                        + "' is not a non-negative integer; use a list such as 0,1,2");
            }
            int seed = Integer.parseInt(digits);
            if (!seen.add(seed)) {
                throw ProbeException.usage("invalid --seeds '" + text + "': seed " + seed + " appears twice");
            }
            seeds.add(seed);
        }
        return seeds;
    }

    private static String checkDtype(String dtype) {
        if (!DTYPES.contains(dtype)) {
            throw ProbeException.usage("invalid --dtype '" + dtype + "'; use one of " + String.join(", ", DTYPES));
        }
        return dtype;
    }

    /** Returns the {@code --rq} id in upper case, or null; it excludes {@code --hypothesis}. */
    private static String researchQuestion(String requested, String hypothesis) {
        if (requested == null) {
            return null;
        }
        if (hypothesis != null) {
            throw ProbeException.usage("--rq " + requested + " and --hypothesis cannot be used together: --rq takes"
                    + " the hypothesis of that research question from 04_EXPERIMENT_PLAN.md, so give one of them");
        }
        String id = requested.strip().toUpperCase(Locale.ROOT);
        if (!ExperimentPlan.QUESTION_ID.matcher(id).matches()) {
            throw ProbeException.usage("invalid --rq '" + requested + "': expected a research question id such as"
                    + " RQ2, as listed by `auto-research probe plan <slug>`");
        }
        return id;
    }

    /** Returns the hypothesis of research question {@code id} in the plan, or throws a usage error naming it. */
    private static String planHypothesis(String id, Workspace workspace) {
        ExperimentPlan.Plan plan = ExperimentPlan.read(workspace.experimentPlan());
        if (plan == null) {
            throw ProbeException.usage("--rq " + id + " needs the experiment plan " + workspace.experimentPlan()
                    + ", which does not exist. Write it with '## Research Questions' and '## Hypotheses', or pass"
                    + " --hypothesis TEXT instead");
        }
        String hypothesis = plan.hypothesisFor(id).text();
        checkText("the hypothesis of " + id + " in " + workspace.experimentPlan(), hypothesis);
        return hypothesis;
    }

    private static String hypothesis(String requested, Workspace workspace) {
        if (requested != null) {
            if (requested.isBlank()) {
                throw ProbeException.usage("empty --hypothesis: state a falsifiable hypothesis, or omit the option"
                        + " to read it from 04_EXPERIMENT_PLAN.md");
            }
            checkText("--hypothesis", requested);
            return requested;
        }
        String fromPlan = ExperimentPlan.firstHypothesis(workspace.experimentPlan());
        if (fromPlan != null) {
            checkText("the first hypothesis in " + workspace.experimentPlan(), fromPlan);
            return fromPlan;
        }
        return ExperimentPlan.NO_HYPOTHESIS;
    }

    private static void checkText(String source, String text) {
        if (text == null) {
            return;
        }
        int index = PythonLiteral.indexOfLoneSurrogate(text);
        if (index >= 0) {
            throw ProbeException.usage(String.format("invalid %s: it contains a lone UTF-16 surrogate U+%04X at"
                    + " index %d, which is not a Unicode character; remove it", source, (int) text.charAt(index), index));
        }
    }

    /** Names a local folder inside code/ relative to code/, so the project can move; others stay absolute. */
    private static String modelIdForScript(Workspace workspace, ResolvedModel model) {
        if (!model.isLocal()) {
            return model.hubId();
        }
        if (workspace.isInsideCode(model.localFolder())) {
            return workspace.relativeToCode(model.localFolder());
        }
        return model.localFolder().toString();
    }

    /** Checks, before anything is written, that no target path leads out of the workspace. */
    private static void checkTargets(Workspace workspace, String packageName, String scriptPath, String dataPath) {
        if (dataPath != null) {
            workspace.resolveInCode(dataPath);
        }
        for (String relative : List.of(
                "src/" + packageName + "/probe.py",
                "src/" + packageName + "/probe_runtime/__init__.py",
                scriptPath,
                ProbeScripts.mainScriptPath(workspace.slug().value()),
                "cache/activations",
                "results/probe",
                ".auto-research/manifest.json")) {
            workspace.resolveInCode(relative);
        }
    }

    private static Instant parseInstant(String text) {
        try {
            return Instant.parse(text);
        } catch (RuntimeException e) {
            throw ProbeException.usage("invalid 'created' value '" + text + "' in the setup manifest;"
                    + " use an ISO 8601 instant such as 2026-12-04T10:00:00Z");
        }
    }
}
