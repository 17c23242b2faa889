package io.autoresearch.probe.cli;

import io.autoresearch.probe.setup.Backend;
import io.autoresearch.probe.setup.ProbeSettings;
import io.autoresearch.probe.setup.SetupOptions;
import io.autoresearch.probe.setup.SetupResult;
import io.autoresearch.probe.support.Console;
import io.autoresearch.probe.support.ExitCode;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code auto-research probe setup}: scaffolds one probe into a research project. */
@Command(name = "setup",
        mixinStandardHelpOptions = true,
        versionProvider = VersionProvider.class,
        description = {
            "Scaffold a probe into .research/<slug>/code/: the scripts, the vendored runtime, the attention"
                    + " extra, the cache and results folders.",
            "Every input is checked before anything is written. Files you edited are kept unless --force is given.",
            "Prints the paths of the intervention script and analysis/<slug>.py on stdout; with --json, one"
                    + " object with probe_id, hypothesis, backend, backend_reason, script, main_script and files (each"
                    + " {path, action}, action wrote, kept or skipped)."
        })
final class SetupCommand implements Callable<Integer> {
    private final ProbeContext context;

    @Mixin
    private CommonOptions common;

    @Parameters(index = "0", paramLabel = "SLUG", description = "Research slug, the folder under .research/.")
    private String slug;

    @Option(names = "--intervention", required = true, paramLabel = "NAME",
            description = "Intervention to scaffold: logit_lens, attention_pattern, activation_patching,"
                    + " path_patching, probing or sae_feature_lookup.")
    private String intervention;

    @Option(names = "--model", paramLabel = "ID_OR_PATH", defaultValue = SetupOptions.DEFAULT_MODEL,
            description = "Hugging Face model folder or hub id; a hub id must be in the local cache unless"
                    + " --allow-download is given (default: ${DEFAULT-VALUE}).")
    private String model;

    @Option(names = "--allow-download",
            description = "Accept a hub id that is not in the local Hugging Face cache; the script downloads it.")
    private boolean allowDownload;

    @Option(names = "--layers", paramLabel = "SPEC", defaultValue = SetupOptions.DEFAULT_LAYERS,
            description = "Layers: all, a list such as 0,2,4 or a range such as 0-4. For logit_lens, layer n_layers"
                    + " is the final residual stream; the other interventions address blocks 0 to n_layers-1."
                    + " For path_patching they are the sender layers, and with --receiver auto the receiver comes from"
                    + " the chosen layers above the lowest one (default: ${DEFAULT-VALUE}).")
    private String layers;

    @Option(names = "--prompts", paramLabel = "FILE",
            description = "logit_lens: prompts JSONL file, one {\"prompt\": ..., \"answer\": ...} object per line;"
                    + " copied to code/data/ (default: reuse code/data/prompts.jsonl).")
    private Path prompts;

    @Option(names = "--pairs", paramLabel = "FILE",
            description = "activation_patching and path_patching: JSONL file, one {\"clean\": ..., \"corrupted\": ...,"
                    + " \"answer\": ..., \"wrong_answer\": ...} object per line; each answer must be one token and"
                    + " clean and corrupted must have the same token count; copied to code/data/"
                    + " (default: reuse code/data/pairs.jsonl).")
    private Path pairs;

    @Option(names = "--receiver", paramLabel = "HEAD",
            description = "path_patching: the receiver head, such as L1H0, or auto for the head with the largest"
                    + " direct effect on the logits (default: auto).")
    private String receiver;

    @Option(names = "--seq-len", paramLabel = "N",
            description = "attention_pattern: length of the random token span that each sequence repeats once"
                    + " (default: " + SetupOptions.DEFAULT_SEQ_LEN + ").")
    private Integer seqLen;

    @Option(names = "--method", paramLabel = "METHOD",
            description = "activation_patching: exact (one patched run per site, the default) or attribution"
                    + " (the gradient approximation: two forward passes and one backward pass; the results report its"
                    + " rank correlation with exact patching on a sample).")
    private String method;

    @Option(names = "--labels", paramLabel = "FILE",
            description = "probing and sae_feature_lookup: JSONL file, one {\"text\": ..., \"label\": ...} object per"
                    + " line; a label is a string, an integer or a boolean, and sae_feature_lookup accepts lines without"
                    + " one; copied to code/data/ (default: reuse code/data/labels.jsonl).")
    private Path labels;

    @Option(names = "--hook", paramLabel = "POINT",
            description = "probing and sae_feature_lookup: the activation read at each chosen layer: resid_pre,"
                    + " resid_mid, resid_post, attn_out or mlp_out; encoders such as BERT have resid_pre and"
                    + " resid_post only (default: " + ProbeSettings.DEFAULT_HOOK + ").")
    private String hook;

    @Option(names = "--position", paramLabel = "POS",
            description = "probing: the token position whose activation the classifier reads: last (the last"
                    + " real token), first ([CLS] for BERT) or mean (over real tokens) (default: "
                    + ProbeSettings.DEFAULT_POSITION + ").")
    private String position;

    @Option(names = "--folds", paramLabel = "K",
            description = "probing: stratified cross-validation folds for the held-out accuracy (default: "
                    + ProbeSettings.DEFAULT_FOLDS + ").")
    private Integer folds;

    @Option(names = "--sae", paramLabel = "FOLDER",
            description = "sae_feature_lookup: an SAE saved by sae-lens (cfg.json and sae_weights.safetensors);"
                    + " its d_in must equal the model width (default: train a small SAE on the activations).")
    private Path sae;

    @Option(names = "--sae-width", paramLabel = "N",
            description = "sae_feature_lookup: the number of features of the SAE the probe trains (default: 4 x"
                    + " the model width).")
    private Integer saeWidth;

    @Option(names = "--target-label", paramLabel = "LABEL",
            description = "sae_feature_lookup: rank features by their association with this label of the labels"
                    + " file (default: every label).")
    private String targetLabel;

    @Option(names = "--target-token", paramLabel = "TOKEN",
            description = "sae_feature_lookup: rank features by how much more they fire on this token than on"
                    + " others; it must be one token.")
    private String targetToken;

    @Option(names = "--top-k", paramLabel = "N",
            description = "sae_feature_lookup: top-activating examples kept per feature (default: "
                    + ProbeSettings.DEFAULT_TOP_K + ").")
    private Integer topK;

    @Option(names = "--probe-id", paramLabel = "ID",
            description = "Probe id, the results file name (default: <intervention>_layers_<first>_to_<last>, or"
                    + " path_patching_receiver_<head>, sae_feature_lookup_layer_<layer> or"
                    + " activation_patching_attribution_layers_<first>_to_<last>).")
    private String probeId;

    @Option(names = "--n-examples", paramLabel = "N", defaultValue = "" + SetupOptions.DEFAULT_N_EXAMPLES,
            description = "Examples per seed (default: ${DEFAULT-VALUE}; a result needs at least 64).")
    private int nExamples;

    @Option(names = "--seeds", paramLabel = "LIST", defaultValue = SetupOptions.DEFAULT_SEEDS,
            description = "Comma-separated seeds (default: ${DEFAULT-VALUE}; a result needs at least 3).")
    private String seeds;

    @Option(names = "--dtype", paramLabel = "DTYPE", defaultValue = SetupOptions.DEFAULT_DTYPE,
            description = "Torch dtype the model is loaded in: float32, float16, bfloat16 or float64"
                    + " (default: ${DEFAULT-VALUE}).")
    private String dtype;

    @Option(names = "--hypothesis", paramLabel = "TEXT",
            description = "Hypothesis the probe tests (default: that of --rq, else the first one under"
                    + " '## Hypotheses' in 04_EXPERIMENT_PLAN.md).")
    private String hypothesis;

    @Option(names = "--rq", paramLabel = "ID",
            description = "Research question of 04_EXPERIMENT_PLAN.md that the probe answers, such as RQ2 (see"
                    + " `probe plan`); the script records it as RESEARCH_QUESTION. Its hypothesis goes into the"
                    + " script, the results and the report: the first hypothesis tagged (RQ2), or H2 when the plan"
                    + " tags none. Not with --hypothesis.")
    private String researchQuestion;

    @Option(names = "--init", description = "Create code/ as a uv project with uv init when it has no pyproject.toml.")
    private boolean init;

    @Option(names = "--force", description = "Overwrite files you edited since the last setup.")
    private boolean force;

    @Option(names = "--trust-remote-code",
            description = "Let the model run Python code shipped in its hub repository or folder (off by default;"
                    + " setup warns, and only the scripts set up with this flag say trust_remote_code=True).")
    private boolean trustRemoteCode;

    @Option(names = "--backend", paramLabel = "NAME", defaultValue = Backend.AUTO,
            description = "Library the script runs the model with: transformer_lens, nnsight or auto (nnsight above"
                    + " 7 billion parameters, counted from the safetensors headers, else estimated from config.json or"
                    + " the model name). nnsight covers logit_lens, activation_patching and probing"
                    + " (default: ${DEFAULT-VALUE}).")
    private String backend;

    @Option(names = "--remote",
            description = "nnsight: run the traces on NDIF with nnsight's remote execution; --model must be a hub id"
                    + " that NDIF hosts, not a local folder, and --device-map does not apply. The script reads the"
                    + " key from NDIF_API_KEY when it runs, and setup never stores it. Implies nnsight with auto.")
    private boolean remote;

    @Option(names = "--device-map", paramLabel = "MAP",
            description = "nnsight: spread the model over the GPUs with this Hugging Face device_map: auto,"
                    + " balanced, balanced_low_0 or sequential (default: one device). Implies nnsight with auto.")
    private String deviceMap;

    @Option(names = "--recheck-float32", paramLabel = "N",
            description = "nnsight with --dtype bfloat16 or float16: re-run N examples (at most --n-examples) in"
                    + " float32 and record the largest difference of the per-example metric in the results"
                    + " (precision_check).")
    private Integer recheckFloat32;

    SetupCommand(ProbeContext context) {
        this.context = context;
    }

    @Override
    public Integer call() {
        Console console = common.console();
        SetupOptions options = new SetupOptions(common.root(context), slug, intervention, model, layers,
                prompts == null ? null : context.workingDirectory().resolve(prompts), probeId, nExamples, seeds,
                dtype, hypothesis, init, force, !common.allowUvInstall(), allowDownload,
                pairs == null ? null : context.workingDirectory().resolve(pairs), receiver, seqLen,
                labels == null ? null : context.workingDirectory().resolve(labels), hook, position, folds,
                sae == null ? null : context.workingDirectory().resolve(sae), saeWidth, targetLabel, targetToken,
                topK, method, trustRemoteCode, researchQuestion, backend, remote, deviceMap, recheckFloat32, null);
        SetupResult result = Services.setup(context, console, Map.of(), common.allowUvInstall()).setup(options);
        if (common.json()) {
            JsonOutput.print(console, JsonOutput.SetupDocument.of(result, ExitCode.SUCCESS.code()));
        }
        console.result(result.script().toString());
        console.result(result.mainScript().toString());
        return ExitCode.SUCCESS.code();
    }
}
