package io.autoresearch.probe.report;

/**
 * Escaping for the Markdown reports. The report template is rendered without HTML escaping
 * (the reports are read as Markdown source, where {@code &lt;} would show literally), so the
 * values from a results file pass through these helpers instead. They keep the text as
 * written and change only what would break the report's structure: a line break or a
 * {@code |} inside a table cell, a line break inside a list item, a backtick inside a code
 * span, and a block marker ({@code #}, {@code >}, a list marker) at the start of a paragraph.
 */
final class Markdown {
    private Markdown() {
    }

    /** Returns the text on one line: every run of whitespace, line breaks included, becomes one space. */
    static String inline(String text) {
        return text == null ? "" : text.strip().replaceAll("\\s+", " ");
    }

    /** Returns a paragraph: inline text that cannot start a heading, quote or list. */
    static String paragraph(String text) {
        String line = inline(text);
        if (line.matches("^([#>+*=-]|\\d+[.)]).*")) {
            return "\\" + line;
        }
        return line;
    }

    /** Returns a table cell: inline text with {@code |} escaped. */
    static String cell(String text) {
        return inline(text).replace("|", "\\|");
    }

    /** Returns a code span around {@code text}, with enough backticks that none inside ends it. */
    static String code(String text) {
        String value = inline(text);
        String fence = "`";
        while (value.contains(fence)) {
            fence += "`";
        }
        boolean pad = value.startsWith("`") || value.endsWith("`");
        return fence + (pad ? " " + value + " " : value) + fence;
    }
}
