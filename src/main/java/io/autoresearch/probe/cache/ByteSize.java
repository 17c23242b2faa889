package io.autoresearch.probe.cache;

import java.util.Locale;

/** Formats byte counts for people: exact below 1 KiB, else in binary units with the exact count beside. */
public final class ByteSize {
    private static final String[] UNITS = {"KiB", "MiB", "GiB", "TiB", "PiB"};

    private ByteSize() {
    }

    /** Returns, for example, {@code 512 B} or {@code 1.2 MiB (1234567 bytes)}. */
    public static String format(long bytes) {
        if (bytes < 1024) {
            return bytes + " B";
        }
        double value = bytes;
        int unit = -1;
        while (value >= 1024 && unit < UNITS.length - 1) {
            value /= 1024;
            unit++;
        }
        return String.format(Locale.ROOT, "%.1f %s (%d bytes)", value, UNITS[unit], bytes);
    }
}
