package io.autoresearch.probe.render;

import java.nio.charset.StandardCharsets;
import java.util.Random;

/**
 * A generator of strings that have broken code generators: quotes and triple quotes, backslashes and
 * escape sequences, line breaks of every kind (including U+2028 and U+2029), NUL and other
 * control characters, Mustache markers, HTML entities, Python syntax, and random Unicode scalar
 * values. Never a lone surrogate, which is not a character and which setup rejects.
 */
public final class HostileStrings {
    /** Fragments that are each dangerous in generated Python, in Mustache or in HTML. */
    static final String[] FRAGMENTS = {
        "'", "\"", "'''", "\"\"\"", "\\", "\\\\", "\\'", "\\n", "\\x00", "\\u2028", "\\N{DASH}", "\n", "\r", "\r\n",
        "\t", "\u0000", "\u0007", "\u000b", "\u000c", "\u001b", "\u007f", "\u0085", "\u00a0", "\u2028", "\u2029",
        "\ufeff", "\ufffd", "\uffff", "{{", "}}", "{{slug}}", "{{{x}}}", "{{! c }}", "{{#probes}}", "{{/probes}}",
        "{{#trust_remote_code}}", "{{&x}}", "{{=<% %>=}}", "&amp;", "&#39;", "&quot;", "<", ">", "&", "#",
        "# -*- coding: latin-1 -*-", "\"\"\"; import os; \"\"\"", "'); print('pwned", "f'{x}'", "%s", "${x}",
        "\u202e", "\u200b", "é", "中", "😀", "\ud83d\ude00", "𝕏", " ", "", ")", "]", "\\\n", "\\\r\n", "#!"
    };

    private HostileStrings() {
    }

    /** Returns a string of 0 to 11 parts, each a fragment, a printable ASCII or control character, or a code point. */
    public static String next(Random random) {
        StringBuilder value = new StringBuilder();
        int parts = random.nextInt(12);
        for (int part = 0; part < parts; part++) {
            switch (random.nextInt(4)) {
                case 0 -> value.append(FRAGMENTS[random.nextInt(FRAGMENTS.length)]);
                case 1 -> value.append((char) (0x20 + random.nextInt(0x5f)));
                case 2 -> value.appendCodePoint(randomScalarValue(random));
                default -> value.append((char) random.nextInt(0x20));
            }
        }
        return value.toString();
    }

    /** Returns a non-blank hostile string: setup rejects a blank hypothesis. */
    public static String nextNonBlank(Random random) {
        String value = next(random);
        return value.isBlank() ? value + "H" : value;
    }

    /**
     * Returns a hostile string usable as a file or folder name on Linux: no {@code /}, no NUL,
     * not {@code .} or {@code ..}, at most {@code maxBytes} bytes of UTF-8. With
     * {@code asciiOnly} (a JVM whose file names are not UTF-8) only ASCII characters are kept.
     */
    public static String nextFileName(Random random, int maxBytes, boolean asciiOnly) {
        String raw = next(random).replace("/", "").replace("\u0000", "");
        StringBuilder name = new StringBuilder("f");
        int bytes = 1;
        for (int index = 0; index < raw.length(); ) {
            int codePoint = raw.codePointAt(index);
            index += Character.charCount(codePoint);
            if (asciiOnly && codePoint > 0x7f) {
                continue;
            }
            int size = new String(Character.toChars(codePoint)).getBytes(StandardCharsets.UTF_8).length;
            if (bytes + size > maxBytes) {
                break;
            }
            name.appendCodePoint(codePoint);
            bytes += size;
        }
        return name.toString();
    }

    /** Returns a random Unicode scalar value: any code point except the surrogates. */
    static int randomScalarValue(Random random) {
        while (true) {
            int codePoint = random.nextInt(Character.MAX_CODE_POINT + 1);
            if (codePoint < Character.MIN_SURROGATE || codePoint > Character.MAX_SURROGATE) {
                return codePoint;
            }
        }
    }
}
