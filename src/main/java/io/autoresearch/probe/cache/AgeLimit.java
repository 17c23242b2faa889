package io.autoresearch.probe.cache;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Parses the ages of {@code probe cache clear}: a whole number and a unit, such as {@code 7d}, {@code 12h} or {@code 30m}. */
public final class AgeLimit {
    private static final Pattern AGE = Pattern.compile("([0-9]{1,9})([smhdw])");

    private AgeLimit() {
    }

    /**
     * Returns the duration of {@code text}: {@code s} seconds, {@code m} minutes, {@code h}
     * hours, {@code d} days of 24 hours, {@code w} weeks.
     *
     * @throws IllegalArgumentException with the expected form when {@code text} is not an age
     */
    public static Duration parse(String text) {
        Matcher matcher = AGE.matcher(text.strip());
        if (!matcher.matches()) {
            throw new IllegalArgumentException("'" + text + "' is not an age: expected a whole number and a unit"
                    + " s, m, h, d or w, such as 30m, 12h or 7d");
        }
        long amount = Long.parseLong(matcher.group(1));
        return switch (matcher.group(2)) {
            case "s" -> Duration.ofSeconds(amount);
            case "m" -> Duration.ofMinutes(amount);
            case "h" -> Duration.ofHours(amount);
            case "d" -> Duration.ofDays(amount);
            case "w" -> Duration.ofDays(amount * 7);
            default -> throw new IllegalStateException("unit not in the pattern: " + matcher.group(2));
        };
    }
}
