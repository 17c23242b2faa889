package io.autoresearch.probe.setup;

import io.autoresearch.probe.render.PythonLiteral;
import io.autoresearch.probe.render.ScriptScopes;
import io.autoresearch.probe.render.TemplateRenderer;
import java.time.LocalDate;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Renders the scripts of a probe project from validated inputs: the wrapper module
 * {@code src/<pkg>/probe.py}, one script per intervention and the hypothesis script
 * {@code analysis/<slug>.py}. Setup and the demo's golden-file helper share it, so the
 * committed demo scripts are exactly what setup writes.
 */
public final class ProbeScripts {
    private static final DateTimeFormatter SCRIPT_DATE = DateTimeFormatter.BASIC_ISO_DATE;
    private static final Pattern DATED_SCRIPT = Pattern.compile("^analysis/[a-z0-9_]+_(\\d{8})\\.py$");

    private final TemplateRenderer renderer;

    public ProbeScripts(TemplateRenderer renderer) {
        this.renderer = renderer;
    }

    /**
     * The validated inputs of one intervention script.
     *
     * @param modelId the hub id, a path relative to code/ or an absolute path
     * @param dataPath the prompts, pairs or labels file relative to code/, or null when the intervention
     *     reads none
     * @param layers the layers, or null for all
     * @param settings the options that only some interventions read
     * @param trustRemoteCode whether the script lets the model's own Python code run
     *     ({@code --trust-remote-code}); when false the script does not mention it
     * @param researchQuestion the research question id of {@code --rq}, such as {@code RQ2}, written into
     *     the script as {@code RESEARCH_QUESTION}, or null to leave the constant out
     * @param backend the backend, which selects the template, and the nnsight-only settings
     */
    public record ScriptInputs(
            Intervention intervention,
            String slug,
            String packageName,
            String toolVersion,
            LocalDate generatedOn,
            String probeId,
            String modelId,
            String dataPath,
            List<Integer> layers,
            int nExamples,
            List<Integer> seeds,
            String dtype,
            String hypothesis,
            ProbeSettings settings,
            boolean trustRemoteCode,
            String researchQuestion,
            BackendChoice backend) {
        /**
         * Creates the inputs of a transformer_lens script that keeps the model's own code off (no
         * {@code --trust-remote-code}) and names no research question.
         */
        public ScriptInputs(Intervention intervention, String slug, String packageName, String toolVersion,
                LocalDate generatedOn, String probeId, String modelId, String dataPath, List<Integer> layers,
                int nExamples, List<Integer> seeds, String dtype, String hypothesis, ProbeSettings settings) {
            this(intervention, slug, packageName, toolVersion, generatedOn, probeId, modelId, dataPath, layers,
                    nExamples, seeds, dtype, hypothesis, settings, false, null,
                    BackendChoice.transformerLens("--backend transformer_lens"));
        }
    }

    /** Returns the file name of a new intervention script, such as {@code analysis/logit_lens_20261204.py}. */
    public static String scriptPath(Intervention intervention, LocalDate date) {
        return scriptPath(intervention.id(), date);
    }

    /** Returns {@code analysis/<stem>_<yyyymmdd>.py} for an intervention id or a probe id. */
    public static String scriptPath(String stem, LocalDate date) {
        return "analysis/" + stem + "_" + SCRIPT_DATE.format(date) + ".py";
    }

    /** Returns the date in a dated script name such as {@code analysis/logit_lens_20261204.py}, if any. */
    public static Optional<LocalDate> dateOfScript(String scriptPath) {
        Matcher matcher = DATED_SCRIPT.matcher(scriptPath);
        if (!matcher.matches()) {
            return Optional.empty();
        }
        try {
            return Optional.of(LocalDate.parse(matcher.group(1), SCRIPT_DATE));
        } catch (DateTimeParseException e) {
            return Optional.empty();
        }
    }

    /** Returns the path of the hypothesis script relative to code/, {@code analysis/<slug>.py}. */
    public static String mainScriptPath(String slug) {
        return "analysis/" + slug + ".py";
    }

    public String probeModule(String slug, String packageName, String toolVersion, LocalDate generatedOn) {
        return renderer.render("probe.py.mustache",
                new ScriptScopes.ProbeModule(slug, packageName, toolVersion, generatedOn.toString()));
    }

    /** Returns the template of an intervention on a backend, such as {@code logit_lens_nnsight.py.mustache}. */
    public static String templateName(Intervention intervention, Backend backend) {
        String suffix = backend == Backend.NNSIGHT ? "_nnsight" : "";
        return intervention.id() + suffix + ".py.mustache";
    }

    /**
     * Renders {@code templates/<intervention>.py.mustache} for one transformer_lens probe, or
     * {@code templates/<intervention>_nnsight.py.mustache} for an nnsight one.
     */
    public String interventionScript(ScriptInputs inputs) {
        Intervention.Input input = inputs.intervention().input();
        ProbeSettings settings = inputs.settings();
        BackendChoice backend = inputs.backend();
        String dataLiteral = inputs.dataPath() == null ? "None" : PythonLiteral.of(inputs.dataPath());
        return renderer.render(templateName(inputs.intervention(), backend.backend()), new ScriptScopes.InterventionScript(
                inputs.slug(),
                inputs.packageName(),
                inputs.toolVersion(),
                inputs.generatedOn().toString(),
                PythonLiteral.of(inputs.probeId()),
                PythonLiteral.of(inputs.modelId()),
                input == Intervention.Input.PROMPTS ? dataLiteral : "None",
                input == Intervention.Input.PAIRS ? dataLiteral : "None",
                PythonLiteral.ofInts(inputs.layers()),
                inputs.nExamples(),
                PythonLiteral.ofInts(inputs.seeds()),
                PythonLiteral.of(inputs.dtype()),
                PythonLiteral.of(inputs.hypothesis()),
                settings.seqLen(),
                PythonLiteral.of(settings.receiver().toString()),
                PythonLiteral.of(settings.method()),
                input == Intervention.Input.LABELS ? dataLiteral : "None",
                PythonLiteral.of(settings.hook()),
                PythonLiteral.of(settings.position()),
                settings.folds(),
                optional(settings.saePath()),
                settings.saeWidth() == null ? "None" : settings.saeWidth().toString(),
                optional(settings.targetLabel()),
                optional(settings.targetToken()),
                settings.topK(),
                inputs.trustRemoteCode(),
                inputs.researchQuestion() != null,
                inputs.researchQuestion() == null ? "None" : PythonLiteral.of(inputs.researchQuestion()),
                backend.remote() ? "True" : "False",
                optional(backend.deviceMap()),
                backend.recheckFloat32()));
    }

    private static String optional(String value) {
        return value == null ? "None" : PythonLiteral.of(value);
    }

    /** Renders {@code analysis/<slug>.py}, which lists every probe of the project. */
    public String mainScript(String slug, String packageName, String toolVersion, LocalDate generatedOn,
            String hypothesis, List<Manifest.ProbeEntry> probes) {
        List<ScriptScopes.ProbeEntry> entries = new ArrayList<>();
        for (Manifest.ProbeEntry probe : probes) {
            entries.add(new ScriptScopes.ProbeEntry(PythonLiteral.of(probe.script()), PythonLiteral.of(probe.probeId())));
        }
        return renderer.render("main.py.mustache", new ScriptScopes.MainScript(
                slug, packageName, toolVersion, generatedOn.toString(), PythonLiteral.of(hypothesis), entries));
    }
}
