package io.autoresearch.probe.render;

import java.util.List;

/**
 * Renders Java values as Python source literals. This is the only way a value from a person
 * (a hypothesis, a model id, a file name) enters a generated script, so it must be safe for
 * every input. The output is pure printable ASCII on a single line, and Python evaluates it to
 * exactly the input string.
 *
 * <p>Strings use single quotes. Printable ASCII is kept except {@code '} and the backslash,
 * which are escaped; newline, carriage return and tab use their short escapes; every other
 * character becomes a hex escape (two digits below U+0100, then the four- and eight-digit
 * forms). So line breaks that Python or an editor would honour (U+2028, U+2029, U+0085, form
 * feed) never appear raw, and Mustache markers such as a double brace stay inert text inside
 * the literal. A lone UTF-16 surrogate has no Unicode scalar value, so it is rejected rather
 * than turned into a Python string that cannot be encoded as UTF-8.
 */
public final class PythonLiteral {
    private PythonLiteral() {
    }

    /** Renders a string as a Python str literal, or {@code None} for null. */
    public static String of(String value) {
        if (value == null) {
            return "None";
        }
        StringBuilder literal = new StringBuilder(value.length() + 2);
        literal.append('\'');
        int index = 0;
        while (index < value.length()) {
            char ch = value.charAt(index);
            if (Character.isHighSurrogate(ch) && index + 1 < value.length()
                    && Character.isLowSurrogate(value.charAt(index + 1))) {
                int codePoint = Character.toCodePoint(ch, value.charAt(index + 1));
                literal.append(String.format("\\U%08x", codePoint));
                index += 2;
                continue;
            }
            if (Character.isSurrogate(ch)) {
                throw new IllegalArgumentException(describeLoneSurrogate(ch, index));
            }
            appendChar(literal, ch);
            index++;
        }
        literal.append('\'');
        return literal.toString();
    }

    /** Renders a list of integers as a Python list literal, or {@code None} for null. */
    public static String ofInts(List<Integer> values) {
        if (values == null) {
            return "None";
        }
        StringBuilder literal = new StringBuilder("[");
        for (int i = 0; i < values.size(); i++) {
            if (i > 0) {
                literal.append(", ");
            }
            literal.append(values.get(i).intValue());
        }
        return literal.append(']').toString();
    }

    /** Renders a list of strings as a Python list literal, or {@code None} for null. */
    public static String ofStrings(List<String> values) {
        if (values == null) {
            return "None";
        }
        StringBuilder literal = new StringBuilder("[");
        for (int i = 0; i < values.size(); i++) {
            if (i > 0) {
                literal.append(", ");
            }
            literal.append(of(values.get(i)));
        }
        return literal.append(']').toString();
    }

    /**
     * Returns the index of the first lone UTF-16 surrogate in {@code value}, or -1 when every
     * surrogate is part of a valid pair. Input checks call this to reject such text early with
     * a message that names the option.
     */
    public static int indexOfLoneSurrogate(String value) {
        for (int index = 0; index < value.length(); index++) {
            char ch = value.charAt(index);
            if (Character.isHighSurrogate(ch) && index + 1 < value.length()
                    && Character.isLowSurrogate(value.charAt(index + 1))) {
                index++;
            } else if (Character.isSurrogate(ch)) {
                return index;
            }
        }
        return -1;
    }

    private static void appendChar(StringBuilder literal, char ch) {
        switch (ch) {
            case '\\' -> literal.append("\\\\");
            case '\'' -> literal.append("\\'");
            case '\n' -> literal.append("\\n");
            case '\r' -> literal.append("\\r");
            case '\t' -> literal.append("\\t");
            default -> {
                if (ch >= 0x20 && ch < 0x7f) {
                    literal.append(ch);
                } else if (ch < 0x100) {
                    literal.append(String.format("\\x%02x", (int) ch));
                } else {
                    literal.append(String.format("\\u%04x", (int) ch));
                }
            }
        }
    }

    private static String describeLoneSurrogate(char ch, int index) {
        return String.format("text contains a lone UTF-16 surrogate U+%04X at index %d, which is not"
                + " a Unicode character; remove it or replace it with the intended character", (int) ch, index);
    }
}
