package io.autoresearch.probe.render;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.json.JsonWriteFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Renders thousands of hostile strings as Python literals, through the template renderer, and
 * has python3 check that each evaluates to exactly the original string and that the file
 * byte-compiles. The expected values travel as ASCII-escaped JSON, an encoding independent of
 * the code under test.
 */
@Tag("python")
class PythonLiteralPropertyTest {
    private static final int CASES = 5000;
    private static final long SEED = 20261204L;
    private static final Pattern HTML_ENTITY = Pattern.compile("&(#\\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);");

    /** Fragments that have broken code generators: quotes, escapes, line breaks, markers. */
    private static final String[] HOSTILE = {
        "'", "\"", "'''", "\"\"\"", "\\", "\\\\", "\\'", "\\n", "\\x00", "\\u2028", "\\N{DASH}", "\n", "\r", "\r\n",
        "\t", "\u0000", "\u0007", "\u000b", "\u000c", "\u001b", "\u007f", "\u0085", "\u00a0", "\u2028", "\u2029",
        "\ufeff", "\ufffd", "\uffff", "{{", "}}", "{{slug}}", "{{{x}}}", "{{! c }}", "{{#probes}}", "&amp;", "<", ">",
        "&", "#", "# -*- coding: latin-1 -*-", "\"\"\"; import os; \"\"\"", "'); print('pwned", "f'{x}'", "%s", "${x}",
        "\u202e", "\u200b", "é", "中", "😀", "\ud83d\ude00", "𝕏", " ", ""
    };

    @TempDir
    Path folder;

    @Test
    void hostileStringsRoundTripInPython() throws Exception {
        Random random = new Random(SEED);
        List<String> values = new ArrayList<>();
        values.add("x".repeat(100_000) + "'\n");
        for (int i = 0; i < CASES; i++) {
            values.add(randomHostileString(random));
        }
        TemplateRenderer renderer = new TemplateRenderer();
        StringBuilder source = new StringBuilder("VALUES = [\n");
        for (String value : values) {
            String literal = PythonLiteral.of(value);
            String rendered = renderer.renderText("    {{value_literal}},", "case", new Scope(literal));
            assertEquals("    " + literal + ",", rendered);
            assertFalse(HTML_ENTITY.matcher(rendered).find() && !HTML_ENTITY.matcher(value).find(),
                    "HTML entity in " + rendered);
            source.append(rendered).append('\n');
        }
        source.append("]\n");
        Path module = folder.resolve("values.py");
        Files.writeString(module, source.toString(), StandardCharsets.US_ASCII);
        JsonMapper json = JsonMapper.builder().enable(JsonWriteFeature.ESCAPE_NON_ASCII).build();
        Path expected = folder.resolve("expected.json");
        Files.writeString(expected, json.writeValueAsString(values), StandardCharsets.US_ASCII);

        Process python = new ProcessBuilder("python3", "-c", String.join("\n",
                "import json, py_compile, sys",
                "py_compile.compile(sys.argv[1], doraise=True)",
                "sys.path.insert(0, sys.argv[3])",
                "from values import VALUES",
                "expected = json.load(open(sys.argv[2], encoding='ascii'))",
                "assert len(VALUES) == len(expected), (len(VALUES), len(expected))",
                "bad = [i for i, (a, b) in enumerate(zip(VALUES, expected)) if a != b]",
                "print('mismatches', len(bad), bad[:5])",
                "sys.exit(1 if bad else 0)"),
                module.toString(), expected.toString(), folder.toString())
                .redirectErrorStream(true).start();
        String output = new String(python.getInputStream().readAllBytes(), StandardCharsets.UTF_8);

        assertEquals(0, python.waitFor(), output);
        assertTrue(output.contains("mismatches 0"), output);
    }

    private static String randomHostileString(Random random) {
        StringBuilder value = new StringBuilder();
        int parts = random.nextInt(12);
        for (int part = 0; part < parts; part++) {
            switch (random.nextInt(4)) {
                case 0 -> value.append(HOSTILE[random.nextInt(HOSTILE.length)]);
                case 1 -> value.append((char) (0x20 + random.nextInt(0x5f)));
                case 2 -> value.appendCodePoint(randomScalarValue(random));
                default -> value.append((char) random.nextInt(0x20));
            }
        }
        return value.toString();
    }

    /** Returns a random Unicode scalar value: any code point except the surrogates. */
    private static int randomScalarValue(Random random) {
        while (true) {
            int codePoint = random.nextInt(Character.MAX_CODE_POINT + 1);
            if (codePoint < Character.MIN_SURROGATE || codePoint > Character.MAX_SURROGATE) {
                return codePoint;
            }
        }
    }

    /** The scope of the one-line test template. */
    public record Scope(String value_literal) {
    }
}
