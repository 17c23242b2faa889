package io.autoresearch.probe.support;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The values of secret environment variables, and the redaction of those values from text that
 * is logged or printed. The rule is the Python runtime's ({@code events.py}): the variables
 * {@code NDIF_API_KEY}, {@code HF_TOKEN}, {@code HUGGING_FACE_HUB_TOKEN} and
 * {@code HUGGINGFACE_TOKEN}, and every variable whose name ends in {@code KEY}, {@code TOKEN},
 * {@code SECRET} or {@code PASSWORD}, with a value of at least 8 characters. Shorter values are
 * flags such as {@code 1}, and replacing them would mangle ordinary text.
 */
public final class Secrets {
    /** The variables that contain secrets, whatever their names end in. */
    public static final Set<String> NAMES = Set.of("NDIF_API_KEY", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN",
            "HUGGINGFACE_TOKEN");
    /** The placeholder that replaces each secret value. */
    public static final String REDACTED = "[redacted]";
    static final int MIN_LENGTH = 8;
    private static final Pattern SECRET_NAME = Pattern.compile("(KEY|TOKEN|SECRET|PASSWORD)$");

    private final List<String> values;

    private Secrets(List<String> values) {
        this.values = List.copyOf(values);
    }

    /** Returns the secret values found in {@code environment}, longest first. */
    public static Secrets in(Map<String, String> environment) {
        List<String> found = new ArrayList<>();
        for (Map.Entry<String, String> variable : environment.entrySet()) {
            String name = variable.getKey();
            String value = variable.getValue();
            boolean secretName = NAMES.contains(name) || SECRET_NAME.matcher(name).find();
            if (secretName && value != null && value.length() >= MIN_LENGTH && !found.contains(value)) {
                found.add(value);
            }
        }
        // The longest first, so that a secret that contains another one is replaced whole.
        found.sort(Comparator.comparingInt(String::length).reversed());
        return new Secrets(found);
    }

    /** Returns {@code text} with every secret value replaced by {@link #REDACTED}. */
    public String redact(String text) {
        if (text == null || values.isEmpty()) {
            return text;
        }
        String redacted = text;
        for (String value : values) {
            redacted = redacted.replace(value, REDACTED);
        }
        return redacted;
    }

    public boolean isEmpty() {
        return values.isEmpty();
    }
}
