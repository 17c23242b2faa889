package io.autoresearch.probe.setup;

import java.util.List;

/**
 * The backend a probe runs on, why, and the nnsight-only settings.
 *
 * @param backend the chosen backend
 * @param reason why it was chosen, as setup prints it, such as {@code auto: about 8.0 billion parameters
 *     from the safetensors headers, above the 7 billion threshold}
 * @param remote whether the nnsight traces run on NDIF ({@code --remote}); false for transformer_lens
 * @param deviceMap the Hugging Face {@code device_map} of {@code --device-map}, or null
 * @param recheckFloat32 the number of examples re-run in float32 to check a bfloat16 or float16 run,
 *     0 for no check
 * @param warnings problems setup reports without failing, such as an architecture that nnsight
 *     support does not list
 */
public record BackendChoice(Backend backend, String reason, boolean remote, String deviceMap, int recheckFloat32,
        List<String> warnings) {
    public BackendChoice {
        warnings = List.copyOf(warnings);
    }

    /** Returns the choice of a caller that sets no backend options: transformer_lens, as before backends existed. */
    public static BackendChoice transformerLens(String reason) {
        return new BackendChoice(Backend.TRANSFORMER_LENS, reason, false, null, 0, List.of());
    }
}
