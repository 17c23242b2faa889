package io.autoresearch.probe.setup;

import java.nio.file.Path;

/**
 * The inputs of {@code probe setup}, as given on the command line and not yet validated.
 *
 * @param root the folder that contains {@code .research/}
 * @param slug the research slug
 * @param intervention the intervention name, such as {@code logit_lens}
 * @param model a Hugging Face model folder or hub id
 * @param layers the layer spec: {@code all}, {@code 0,2,4} or {@code 0-4}
 * @param prompts the prompts JSONL file, or null to reuse {@code code/data/prompts.jsonl}
 * @param probeId the probe id, or null for {@code logit_lens_layers_<first>_to_<last>}
 * @param nExamples the number of examples per seed
 * @param seeds comma-separated integer seeds, such as {@code 0,1,2}
 * @param dtype the torch dtype name the model is loaded in
 * @param hypothesis the hypothesis text, or null to read it from 04_EXPERIMENT_PLAN.md
 * @param init whether to create code/ with uv init when it has no pyproject.toml
 * @param force whether to overwrite files a person edited
 * @param noInstall whether installing uv is forbidden when it is missing
 * @param allowDownload whether a hub model that is not in the local cache is accepted
 * @param pairs the clean/corrupted pairs JSONL file of the patching interventions, or null to reuse
 *     {@code code/data/pairs.jsonl}
 * @param receiver the path-patching receiver head, {@code auto} or such as {@code L1H0}; null for the
 *     default, {@code auto}
 * @param seqLen the length of the random span that the attention-pattern sequences repeat; null for
 *     the default, 20
 * @param labels the labelled-texts JSONL of probing and SAE feature lookup, or null to reuse
 *     {@code code/data/labels.jsonl}
 * @param hook the hook point of probing and SAE feature lookup, or null for {@code resid_post}
 * @param position the token position probing reads, or null for {@code last}
 * @param folds the cross-validation folds of probing, or null for 5
 * @param sae an SAE folder in sae-lens's format for SAE feature lookup, or null to train one
 * @param saeWidth the feature count of a trained SAE, or null for the runtime's default
 * @param targetLabel the label SAE feature lookup ranks features by, or null
 * @param targetToken the token SAE feature lookup ranks features by, or null
 * @param topK the top-activating examples per SAE feature, or null for 10
 * @param method the activation-patching method, or null for {@code exact}
 * @param trustRemoteCode whether the scripts may run Python code shipped with the model
 *     ({@code --trust-remote-code}); off by default
 * @param researchQuestion the research question id of {@code --rq}, such as {@code RQ2}, whose
 *     hypothesis in 04_EXPERIMENT_PLAN.md the probe tests, or null
 * @param backend the {@code --backend} value: transformer_lens, nnsight or auto; null for auto
 * @param remote whether the nnsight traces run on NDIF ({@code --remote})
 * @param deviceMap the {@code --device-map} value, such as {@code auto}, or null
 * @param recheckFloat32 the {@code --recheck-float32} example count, or null when not given
 * @param backendReason the reason setup prints for an explicit {@code backend}, or null for
 *     {@code --backend <value>}; the demo sets it, because its user did not pass {@code --backend}
 *     for every probe
 */
public record SetupOptions(
        Path root,
        String slug,
        String intervention,
        String model,
        String layers,
        Path prompts,
        String probeId,
        int nExamples,
        String seeds,
        String dtype,
        String hypothesis,
        boolean init,
        boolean force,
        boolean noInstall,
        boolean allowDownload,
        Path pairs,
        String receiver,
        Integer seqLen,
        Path labels,
        String hook,
        String position,
        Integer folds,
        Path sae,
        Integer saeWidth,
        String targetLabel,
        String targetToken,
        Integer topK,
        String method,
        boolean trustRemoteCode,
        String researchQuestion,
        String backend,
        boolean remote,
        String deviceMap,
        Integer recheckFloat32,
        String backendReason) {

    public static final String DEFAULT_MODEL = "gpt2";
    public static final String DEFAULT_LAYERS = "all";
    public static final int DEFAULT_N_EXAMPLES = 64;
    public static final String DEFAULT_SEEDS = "0,1,2";
    public static final String DEFAULT_DTYPE = "float32";
    public static final String DEFAULT_RECEIVER = "auto";
    public static final int DEFAULT_SEQ_LEN = 20;
}
