package io.autoresearch.probe.setup;

import io.autoresearch.probe.support.ProbeException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The receiver head of path patching: {@code auto}, which lets the script pick the head with the
 * largest direct effect on the logits, or one head written {@code L<layer>H<head>}.
 *
 * @param layer the receiver's layer, or -1 for auto
 * @param head the receiver's head, or -1 for auto
 */
public record Receiver(int layer, int head) {
    public static final Receiver AUTO = new Receiver(-1, -1);
    private static final Pattern HEAD = Pattern.compile("^[Ll](\\d{1,6})[Hh](\\d{1,6})$");

    /** Parses {@code auto} or {@code L<layer>H<head>}; the case of L and H does not matter. */
    public static Receiver parse(String text) {
        String value = text == null ? "" : text.trim();
        if (value.equals("auto")) {
            return AUTO;
        }
        Matcher matcher = HEAD.matcher(value);
        if (!matcher.matches()) {
            throw ProbeException.usage("invalid --receiver '" + text + "': use auto, or a head such as L1H0"
                    + " (layer 1, head 0)");
        }
        return new Receiver(Integer.parseInt(matcher.group(1)), Integer.parseInt(matcher.group(2)));
    }

    public boolean isAuto() {
        return layer < 0;
    }

    /**
     * Checks the head against the model's shape. A receiver needs senders in earlier layers, so
     * its layer is at least 1. Unknown sizes (null) are not checked; the script checks them.
     */
    public Receiver checkAgainst(Integer nLayers, Integer nHeads, String modelId) {
        if (isAuto()) {
            return this;
        }
        if (layer < 1) {
            throw ProbeException.usage("invalid --receiver '" + this + "': a receiver in layer 0 has no sender heads"
                    + " before it; choose a head in layer 1 or later, or auto");
        }
        if (nLayers != null && layer >= nLayers) {
            throw ProbeException.usage("invalid --receiver '" + this + "': model '" + modelId + "' has " + nLayers
                    + " layers, so the receiver's layer must be in 1-" + (nLayers - 1));
        }
        if (nHeads != null && head >= nHeads) {
            throw ProbeException.usage("invalid --receiver '" + this + "': model '" + modelId + "' has " + nHeads
                    + " heads per layer, so the head must be in 0-" + (nHeads - 1));
        }
        return this;
    }

    /** Returns {@code auto} or {@code L<layer>H<head>}, the form the script receives. */
    @Override
    public String toString() {
        return isAuto() ? "auto" : "L" + layer + "H" + head;
    }

    /** Returns the probe-id form: {@code auto} or {@code l1h0}. */
    public String idPart() {
        return toString().toLowerCase(java.util.Locale.ROOT);
    }
}
