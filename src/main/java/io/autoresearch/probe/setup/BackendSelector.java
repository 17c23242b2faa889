package io.autoresearch.probe.setup;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.autoresearch.probe.support.ProbeException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Chooses the backend of a probe from {@code --backend}, {@code --remote}, {@code --device-map}
 * and {@code --recheck-float32}, the intervention and the model, and checks that the options
 * fit together. With {@code --backend auto}, models above {@link #AUTO_THRESHOLD} parameters
 * get nnsight and smaller ones TransformerLens. Every conflict is a usage error that names the
 * value and the fix.
 */
public final class BackendSelector {
    /** Above this many parameters, auto chooses nnsight. */
    public static final long AUTO_THRESHOLD = 7_000_000_000L;
    /** The values of {@code --device-map}, as Hugging Face accelerate names them. */
    public static final List<String> DEVICE_MAPS = List.of("auto", "balanced", "balanced_low_0", "sequential");
    /** The dtypes whose run {@code --recheck-float32} can re-check in float32. */
    public static final List<String> RECHECK_DTYPES = List.of("bfloat16", "float16");
    /**
     * The architectures ({@code architectures[0]} of config.json) that the nnsight runtime maps
     * to module paths. The runtime's table decides at run time; this list only drives a warning.
     */
    public static final Set<String> NNSIGHT_ARCHITECTURES = Set.of("GPT2LMHeadModel", "LlamaForCausalLM",
            "MistralForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM", "GemmaForCausalLM", "Gemma2ForCausalLM",
            "GPTNeoXForCausalLM", "PhiForCausalLM", "OPTForCausalLM");

    private static final String THRESHOLD_WORDS = "7 billion";
    private static final String ATTRIBUTION = "attribution";

    private BackendSelector() {
    }

    /**
     * Returns the backend of a probe of {@code intervention} on {@code model}.
     *
     * @param requested the value of {@code --backend}: transformer_lens, nnsight, auto, or null for auto
     * @param requestedReason the reason printed for an explicit {@code --backend}, or null for
     *     {@code --backend <value>}; the demo passes its own, because its user did not pass the option
     * @param recheckFloat32 the value of {@code --recheck-float32}, or null when not given
     * @param dtype the validated {@code --dtype}
     * @param nExamples the validated {@code --n-examples}
     * @param method the validated activation-patching method, {@code exact} or {@code attribution}
     */
    public static BackendChoice select(String requested, String requestedReason, boolean remote, String deviceMap,
            Integer recheckFloat32, String dtype, int nExamples, Intervention intervention, String method,
            ResolvedModel model) {
        Backend explicit = Backend.parseOrAuto("--backend", requested == null ? Backend.AUTO : requested, true);
        if (deviceMap != null && !DEVICE_MAPS.contains(deviceMap)) {
            throw ProbeException.usage("invalid --device-map '" + deviceMap + "'; use one of "
                    + String.join(", ", DEVICE_MAPS));
        }
        if (remote && deviceMap != null) {
            throw ProbeException.usage("--device-map " + deviceMap + " places a model loaded on this machine, but"
                    + " --remote runs the model on NDIF; remove --device-map or --remote");
        }
        int recheck = checkRecheck(recheckFloat32, dtype, nExamples);
        // What nnsight lacks for this probe, such as "attribution patching (--method attribution)"; null when
        // nnsight implements it.
        String nnsightGap = nnsightGap(intervention, method);
        // The first option given that only nnsight reads, for the messages; null when none is.
        String nnsightOption = null;
        if (remote) {
            nnsightOption = "--remote";
        } else if (deviceMap != null) {
            nnsightOption = "--device-map";
        }

        Backend backend;
        String reason;
        List<String> warnings = new ArrayList<>();
        if (explicit == Backend.TRANSFORMER_LENS) {
            rejectNnsightOption(nnsightOption, "--backend transformer_lens", "it runs TransformerLens locally;"
                    + " remove " + nnsightOption + " or pass --backend nnsight");
            backend = Backend.TRANSFORMER_LENS;
            reason = requestedReason != null ? requestedReason : "--backend transformer_lens";
        } else if (explicit == Backend.NNSIGHT) {
            checkNnsightFits(intervention, method, model, "--backend nnsight");
            backend = Backend.NNSIGHT;
            reason = requestedReason != null ? requestedReason : "--backend nnsight";
        } else if (model.isEncoder()) {
            rejectNnsightOption(nnsightOption, "the " + model.modelType() + " encoder '" + model.displayName() + "'",
                    "encoders run in Hugging Face directly, not on nnsight; remove " + nnsightOption);
            backend = Backend.TRANSFORMER_LENS;
            reason = "auto: '" + model.displayName() + "' is a " + model.modelType() + " encoder, which runs in"
                    + " Hugging Face directly on the transformer_lens code path";
        } else if (nnsightGap != null) {
            rejectNnsightOption(nnsightOption, nnsightGap, nnsightCoverage(intervention) + "; remove "
                    + nnsightOption);
            backend = Backend.TRANSFORMER_LENS;
            ParameterCount.Count count = ParameterCount.of(model);
            reason = "auto: " + nnsightGap + " runs on transformer_lens only";
            if (count != null && count.parameters() > AUTO_THRESHOLD) {
                reason += " (" + count.describe() + ", above the " + THRESHOLD_WORDS + " threshold)";
                warnings.add(nnsightGap + " has no nnsight version, so it runs on transformer_lens although '"
                        + model.displayName() + "' has " + count.describe() + "; TransformerLens loads the whole"
                        + " model into one device's memory");
            }
        } else if (nnsightOption != null) {
            backend = Backend.NNSIGHT;
            reason = "auto: " + nnsightOption + " runs on nnsight";
        } else {
            ParameterCount.Count count = ParameterCount.of(model);
            if (count == null) {
                backend = Backend.TRANSFORMER_LENS;
                reason = "auto: the parameter count of '" + model.displayName() + "' is unknown (no safetensors"
                        + " header, config.json or size in the name); pass --backend nnsight for a model above "
                        + THRESHOLD_WORDS + " parameters";
            } else if (count.parameters() > AUTO_THRESHOLD) {
                backend = Backend.NNSIGHT;
                reason = "auto: " + count.describe() + ", above the " + THRESHOLD_WORDS + " threshold";
            } else {
                backend = Backend.TRANSFORMER_LENS;
                reason = "auto: " + count.describe() + ", not above the " + THRESHOLD_WORDS + " threshold";
                if (!count.exact() && count.parameters() >= AUTO_THRESHOLD - AUTO_THRESHOLD / 10) {
                    reason += "; an estimate within 10% of the threshold, so pass --backend nnsight if the model"
                            + " does not fit on one device";
                }
            }
        }

        if (backend == Backend.TRANSFORMER_LENS && recheck > 0) {
            String fix = nnsightGap != null
                    ? "the check needs a probe on the nnsight backend, and " + nnsightCoverage(intervention)
                            + "; remove --recheck-float32"
                    : "pass --backend nnsight or remove --recheck-float32";
            throw ProbeException.usage("--recheck-float32 " + recheck + " applies to nnsight probes only, but this"
                    + " probe runs on transformer_lens (" + reason + "); " + fix);
        }
        if (backend == Backend.NNSIGHT && remote && model.isLocal()) {
            throw ProbeException.usage("--remote runs the model on NDIF, which serves the models it hosts by hub id,"
                    + " but --model is the local folder " + model.localFolder() + "; pass the model's hub id, such as"
                    + " meta-llama/Llama-3.1-70B, or remove --remote to run the folder on this machine");
        }
        if (backend == Backend.NNSIGHT) {
            String architecture = architecture(model);
            if (architecture != null && !NNSIGHT_ARCHITECTURES.contains(architecture)) {
                warnings.add("the nnsight support does not list architecture '" + architecture + "' of '"
                        + model.displayName() + "' (it lists " + String.join(", ", NNSIGHT_ARCHITECTURES.stream()
                                .sorted().toList()) + "); the runtime checks its own table when the script runs,"
                        + " and may need module path overrides in the script");
            }
        }
        return new BackendChoice(backend, reason, backend == Backend.NNSIGHT && remote,
                backend == Backend.NNSIGHT ? deviceMap : null, recheck, warnings);
    }

    /**
     * Returns what nnsight does not implement for a probe, as messages name it, or null when it
     * implements the probe: an intervention id, or attribution patching, which only the
     * TransformerLens runtime has.
     */
    static String nnsightGap(Intervention intervention, String method) {
        if (!Backend.NNSIGHT.supports(intervention)) {
            return intervention.id();
        }
        if (intervention == Intervention.ACTIVATION_PATCHING && ATTRIBUTION.equals(method)) {
            return "activation_patching --method attribution";
        }
        return null;
    }

    /** Returns what nnsight covers, for a message about {@code intervention}. */
    private static String nnsightCoverage(Intervention intervention) {
        String coverage = "nnsight implements only " + String.join(", ", Backend.NNSIGHT_INTERVENTION_IDS);
        return intervention == Intervention.ACTIVATION_PATCHING ? coverage + ", and activation_patching only with"
                + " --method exact" : coverage;
    }

    /** Returns the validated {@code --recheck-float32} count, 0 when it was not given. */
    private static int checkRecheck(Integer recheckFloat32, String dtype, int nExamples) {
        if (recheckFloat32 == null) {
            return 0;
        }
        if (recheckFloat32 < 1) {
            throw ProbeException.usage("invalid --recheck-float32 " + recheckFloat32 + ": give the number of"
                    + " examples to re-run in float32, at least 1");
        }
        if (!RECHECK_DTYPES.contains(dtype)) {
            throw ProbeException.usage("--recheck-float32 " + recheckFloat32 + " re-checks a bfloat16 or float16"
                    + " run in float32, but --dtype is '" + dtype + "'; pass --dtype bfloat16 or --dtype float16,"
                    + " or remove --recheck-float32");
        }
        if (recheckFloat32 > nExamples) {
            throw ProbeException.usage("--recheck-float32 " + recheckFloat32 + " is larger than --n-examples "
                    + nExamples + ": the check re-runs examples of the run; pass --recheck-float32 " + nExamples
                    + " or less");
        }
        return recheckFloat32;
    }

    private static void rejectNnsightOption(String option, String subject, String fix) {
        if (option != null) {
            throw ProbeException.usage(option + " needs the nnsight backend and cannot be used with " + subject
                    + ": " + fix);
        }
    }

    /** Rejects an intervention or method that nnsight does not implement, and encoder models. */
    private static void checkNnsightFits(Intervention intervention, String method, ResolvedModel model,
            String source) {
        if (!Backend.NNSIGHT.supports(intervention)) {
            throw ProbeException.usage(source + " does not implement " + intervention.id() + ": nnsight covers "
                    + String.join(", ", Backend.NNSIGHT_INTERVENTION_IDS) + "; pass --backend transformer_lens"
                    + " (or auto) for " + intervention.id());
        }
        if (nnsightGap(intervention, method) != null) {
            throw ProbeException.usage(source + " does not implement --method attribution of activation_patching:"
                    + " attribution patching runs on transformer_lens only; pass --method exact to patch on nnsight,"
                    + " or --backend transformer_lens (or auto) for attribution");
        }
        if (model.isEncoder()) {
            throw ProbeException.usage(source + " cannot load '" + model.displayName() + "', a " + model.modelType()
                    + " encoder: encoders run in Hugging Face directly; pass --backend auto or transformer_lens");
        }
    }

    /** Returns {@code architectures[0]} of the model's config.json, or null when it is not available. */
    static String architecture(ResolvedModel model) {
        if (model.configFile() == null) {
            return null;
        }
        try {
            JsonNode first = new ObjectMapper().readTree(model.configFile().toFile()).path("architectures").path(0);
            return first.isTextual() ? first.asText() : null;
        } catch (IOException e) {
            return null;
        }
    }
}
