package io.autoresearch.probe.report;

import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;
import java.util.Locale;

/**
 * Formats numbers for reports: three significant digits, one decimal from 100 up (so a rank
 * of 102.5 is not shown as 103), and scientific notation below 0.001.
 */
final class Format {
    /** Shown where a results file leaves a value out. */
    static final String MISSING = "not reported";

    private Format() {
    }

    static String number(Double value) {
        return value == null ? MISSING : number(value.doubleValue());
    }

    static String number(double value) {
        if (!Double.isFinite(value)) {
            return String.valueOf(value);
        }
        double magnitude = Math.abs(value);
        if (magnitude == 0.0) {
            return "0";
        }
        if (magnitude >= 100) {
            return String.format(Locale.ROOT, "%.1f", value);
        }
        if (magnitude < 1e-3) {
            return String.format(Locale.ROOT, "%.2e", value);
        }
        return new BigDecimal(value).round(new MathContext(3, RoundingMode.HALF_EVEN)).toPlainString();
    }

    /** Formats {@code [lo, hi]}, or {@link #MISSING} for null. */
    static String interval(double[] interval) {
        return interval == null ? MISSING : "[" + number(interval[0]) + ", " + number(interval[1]) + "]";
    }

    /** Formats a value with its interval, such as {@code 0.591 [0.586, 0.596]}. */
    static String estimate(Double value, double[] interval) {
        if (value == null) {
            return MISSING;
        }
        return interval == null ? number(value) : number(value) + " " + interval(interval);
    }
}
