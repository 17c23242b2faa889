package io.autoresearch.probe.setup;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.autoresearch.probe.support.ProbeException;
import io.autoresearch.probe.workspace.Workspace;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * An SAE saved in sae-lens's on-disk format: a folder with {@code cfg.json} and
 * {@code sae_weights.safetensors}. Setup checks the folder and the SAE's input width against
 * the model before anything is written; the runtime loads it with sae-lens.
 *
 * @param folder the absolute folder
 * @param dIn the SAE's input width from cfg.json, or null when it does not say
 */
public record SaeFolder(Path folder, Integer dIn) {
    public static final String CONFIG = "cfg.json";
    public static final String WEIGHTS = "sae_weights.safetensors";

    /**
     * Checks {@code given}, that its input width equals the width of the model's hook point, and
     * that the hook it records, if any, is {@code blocks.<layer>.hook_<hook>}.
     */
    public static SaeFolder check(Path given, ResolvedModel model, String hook, int layer) {
        Path folder = given.toAbsolutePath().normalize();
        if (!Files.isDirectory(folder)) {
            throw ProbeException.usage("--sae '" + given + "' is not a folder; pass the folder sae-lens saved,"
                    + " with " + CONFIG + " and " + WEIGHTS + " inside");
        }
        for (String name : new String[] {CONFIG, WEIGHTS}) {
            if (!Files.isRegularFile(folder.resolve(name))) {
                throw ProbeException.usage("SAE folder " + folder + " has no " + name + "; pass a folder in sae-lens's"
                        + " format (" + CONFIG + " and " + WEIGHTS + "), or omit --sae to train one");
            }
        }
        JsonNode config;
        try {
            config = new ObjectMapper().readTree(folder.resolve(CONFIG).toFile());
        } catch (JsonProcessingException e) {
            throw ProbeException.usage("invalid JSON in " + folder.resolve(CONFIG) + ": " + e.getOriginalMessage());
        } catch (IOException e) {
            throw ProbeException.usage("cannot read " + folder.resolve(CONFIG) + ": " + e.getMessage());
        }
        Integer dIn = config.path("d_in").isInt() ? config.path("d_in").asInt() : null;
        if (dIn != null && model.dModel() != null && !dIn.equals(model.dModel())) {
            throw ProbeException.usage("the SAE in " + folder + " reads vectors of width " + dIn + " (d_in in "
                    + CONFIG + "), but " + hook + " of model '" + model.displayName() + "' has width "
                    + model.dModel() + "; pass an SAE trained on this model's " + hook + ", or omit --sae to train one");
        }
        String recorded = recordedHook(config);
        String expected = "blocks." + layer + ".hook_" + hook;
        if (recorded != null && !recorded.equals(expected)) {
            throw ProbeException.usage("the SAE in " + folder + " was trained on " + recorded + " (hook_name in "
                    + CONFIG + "), but this probe reads " + expected + "; pass --layers and --hook that match the SAE,"
                    + " or omit --sae to train one");
        }
        return new SaeFolder(folder, dIn);
    }

    /** Returns the hook name sae-lens records, under {@code metadata} in newer files or at the top. */
    private static String recordedHook(JsonNode config) {
        for (JsonNode node : new JsonNode[] {config.path("metadata"), config}) {
            for (String key : new String[] {"hook_name", "hook_point"}) {
                if (node.path(key).isTextual()) {
                    return node.path(key).asText();
                }
            }
        }
        return null;
    }

    /** Names the folder relative to code/ when it is inside, so the project can move; else absolute. */
    public String scriptPath(Workspace workspace) {
        return workspace.isInsideCode(folder) ? workspace.relativeToCode(folder) : folder.toString();
    }
}
