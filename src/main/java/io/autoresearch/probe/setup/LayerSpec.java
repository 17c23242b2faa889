package io.autoresearch.probe.setup;

import io.autoresearch.probe.support.ProbeException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The {@code --layers} value: {@code all}, or a comma-separated list of layer numbers and
 * inclusive ranges such as {@code 0,2,4}, {@code 0-4} or {@code 0-2,5}.
 *
 * <p>Logit-lens layers index residual streams: layer {@code i} is the stream entering block
 * {@code i}, and layer {@code n_layers} is the final residual stream after the last block. So a
 * model with {@code n_layers} blocks has valid lens layers {@code 0..n_layers} inclusive.
 *
 * <p>The layers are kept in ascending order whatever order they were given in, so that
 * {@code 2,1} and {@code 1,2} name the same probe ({@code ..._layers_1_to_2}) and every script
 * and results file lists its layers in order.
 *
 * @param layers the layers in ascending order, or {@code null} for all layers
 */
public record LayerSpec(List<Integer> layers) {
    public static final LayerSpec ALL = new LayerSpec(null);

    public LayerSpec {
        layers = layers == null ? null : List.copyOf(layers);
    }

    public boolean isAll() {
        return layers == null;
    }

    /** Parses a layer spec; a malformed value is a usage error that shows the syntax. */
    public static LayerSpec parse(String text) {
        String spec = text == null ? "" : text.trim();
        if (spec.equals("all")) {
            return ALL;
        }
        if (spec.isEmpty()) {
            throw invalid(text, "it is empty");
        }
        List<Integer> layers = new ArrayList<>();
        Set<Integer> seen = new HashSet<>();
        for (String item : spec.split(",", -1)) {
            String part = item.trim();
            int dash = part.indexOf('-', 1);
            if (dash > 0) {
                int first = parseLayer(text, part.substring(0, dash));
                int last = parseLayer(text, part.substring(dash + 1));
                if (last < first) {
                    throw invalid(text, "range '" + part + "' runs backwards; write " + last + "-" + first);
                }
                for (int layer = first; layer <= last; layer++) {
                    addOnce(text, layers, seen, layer);
                }
            } else {
                addOnce(text, layers, seen, parseLayer(text, part));
            }
        }
        layers.sort(null);
        return new LayerSpec(layers);
    }

    /**
     * Returns the explicit layers after checking them against the model's number of blocks, or
     * all lens layers {@code 0..nLayers} for {@code all}. With {@code nLayers} unknown (a hub
     * model that is not cached yet) only the explicit list is returned, or null for all.
     */
    public List<Integer> resolve(Integer nLayers, String modelId) {
        return resolve(nLayers, modelId, true);
    }

    /**
     * Returns the layers for an intervention. With {@code includeFinal} (the logit lens) layer
     * {@code nLayers} names the final residual stream, so the range is {@code 0..nLayers}; the
     * other interventions address blocks {@code 0..nLayers-1}.
     */
    public List<Integer> resolve(Integer nLayers, String modelId, boolean includeFinal) {
        if (nLayers == null) {
            return layers;
        }
        int last = includeFinal ? nLayers : nLayers - 1;
        if (layers == null) {
            List<Integer> all = new ArrayList<>();
            for (int layer = 0; layer <= last; layer++) {
                all.add(layer);
            }
            return all;
        }
        for (int layer : layers) {
            if (layer > last) {
                String valid = includeFinal
                        ? "valid logit-lens layers are 0-" + last + " (" + last + " is the final residual stream)"
                        : "valid blocks are 0-" + last;
                throw ProbeException.usage("layer " + layer + " is out of range for model '" + modelId + "' with "
                        + nLayers + " layers; " + valid);
            }
        }
        return layers;
    }

    private static void addOnce(String text, List<Integer> layers, Set<Integer> seen, int layer) {
        if (!seen.add(layer)) {
            throw invalid(text, "layer " + layer + " appears twice");
        }
        layers.add(layer);
    }

    private static int parseLayer(String text, String number) {
        String digits = number.trim();
        if (digits.isEmpty() || !digits.chars().allMatch(ch -> ch >= '0' && ch <= '9')) {
            throw invalid(text, "'" + digits + "' is not a non-negative layer number");
        }
        try {
            return Integer.parseInt(digits);
        } catch (NumberFormatException e) {
            throw invalid(text, "'" + digits + "' is too large");
        }
    }

    private static ProbeException invalid(String text, String reason) {
        return ProbeException.usage("invalid --layers '" + text + "': " + reason
                + "; use 'all', a list such as 0,2,4 or a range such as 0-4");
    }
}
