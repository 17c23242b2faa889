package io.autoresearch.probe.workspace;

import io.autoresearch.probe.support.ProbeException;
import java.util.regex.Pattern;

/**
 * A research slug: the folder name under {@code .research/} that the auto-research plugin
 * gives each study. The rule is the plugin's own, so a slug that passes here is also a
 * valid plugin slug, and it can never name a path outside {@code .research/}.
 */
public record Slug(String value) {
    /** A lower-case letter, then 2 to 48 lower-case letters, digits or hyphens. */
    public static final Pattern PATTERN = Pattern.compile("^[a-z][a-z0-9-]{2,48}$");

    public Slug {
        if (value == null || !PATTERN.matcher(value).matches()) {
            throw ProbeException.usage(describeInvalid(value));
        }
    }

    /** Parses a slug from user input; throws a usage error that names the value and the rule. */
    public static Slug parse(String value) {
        return new Slug(value);
    }

    /** Returns the slug with {@code -} replaced by {@code _}, the fallback Python package name. */
    public String toPackageName() {
        return value.replace('-', '_');
    }

    private static String describeInvalid(String value) {
        if (value == null || value.isEmpty()) {
            return "missing slug: pass a name such as 'induction-demo' (" + rule() + ")";
        }
        String shown = value.length() > 60 ? value.substring(0, 60) + "..." : value;
        String reason;
        if (value.length() > 49) {
            reason = "it has " + value.length() + " characters, at most 49 are allowed";
        } else if (value.length() < 3) {
            reason = "it has " + value.length() + (value.length() == 1 ? " character" : " characters")
                    + ", at least 3 are required";
        } else if (!Character.isLetter(value.charAt(0)) || !Character.isLowerCase(value.charAt(0))) {
            reason = "it must start with a lower-case letter";
        } else {
            reason = "it may contain only lower-case letters, digits and '-'";
        }
        return "invalid slug '" + shown + "': " + reason + " (" + rule() + ")";
    }

    private static String rule() {
        return "slugs match " + PATTERN.pattern();
    }

    @Override
    public String toString() {
        return value;
    }
}
