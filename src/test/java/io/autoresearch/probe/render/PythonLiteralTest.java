package io.autoresearch.probe.render;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class PythonLiteralTest {
    @Test
    void plainTextIsSingleQuoted() {
        assertEquals("'gpt2'", PythonLiteral.of("gpt2"));
    }

    @Test
    void nullIsNone() {
        assertEquals("None", PythonLiteral.of(null));
        assertEquals("None", PythonLiteral.ofInts(null));
        assertEquals("None", PythonLiteral.ofStrings(null));
    }

    @Test
    void quotesAndBackslashesAreEscaped() {
        assertEquals("'it\\'s \"x\" \\\\n'", PythonLiteral.of("it's \"x\" \\n"));
        assertEquals("'\\'\\'\\''", PythonLiteral.of("'''"));
        assertEquals("'\"\"\"'", PythonLiteral.of("\"\"\""));
    }

    @Test
    void controlCharactersUseEscapes() {
        assertEquals("'a\\nb\\rc\\td'", PythonLiteral.of("a\nb\rc\td"));
        assertEquals("'\\x00\\x0c\\x1b\\x7f'", PythonLiteral.of("\u0000\u000c\u001b\u007f"));
    }

    @Test
    void unicodeLineBreaksAreEscaped() {
        assertEquals("'\\x85\\u2028\\u2029'", PythonLiteral.of("\u0085\u2028\u2029"));
    }

    @Test
    void nonAsciiUsesHexEscapes() {
        assertEquals("'caf\\xe9 \\u4e2d \\U0001f600'", PythonLiteral.of("café 中 😀"));
    }

    @Test
    void mustacheMarkersStayLiteralText() {
        assertEquals("'{{slug}} }}'", PythonLiteral.of("{{slug}} }}"));
    }

    @Test
    void loneSurrogateIsRejected() {
        IllegalArgumentException high = assertThrows(IllegalArgumentException.class,
                () -> PythonLiteral.of("a\ud800b"));
        assertTrue(high.getMessage().contains("U+D800 at index 1"), high.getMessage());
        IllegalArgumentException low = assertThrows(IllegalArgumentException.class,
                () -> PythonLiteral.of("\udc00"));
        assertTrue(low.getMessage().contains("U+DC00 at index 0"), low.getMessage());
        assertThrows(IllegalArgumentException.class, () -> PythonLiteral.of("end\ud83d"));
    }

    @Test
    void indexOfLoneSurrogateFindsFirst() {
        assertEquals(-1, PythonLiteral.indexOfLoneSurrogate("ok 😀"));
        assertEquals(3, PythonLiteral.indexOfLoneSurrogate("😀a\udc00"));
        assertEquals(0, PythonLiteral.indexOfLoneSurrogate("\ud800"));
    }

    @Test
    void outputIsPrintableAsciiOnOneLine() {
        StringBuilder every = new StringBuilder();
        for (int codePoint = 0; codePoint < 0x3000; codePoint++) {
            if (!Character.isSurrogate((char) codePoint)) {
                every.appendCodePoint(codePoint);
            }
        }
        String literal = PythonLiteral.of(every.toString());

        assertTrue(literal.chars().allMatch(ch -> ch >= 0x20 && ch < 0x7f), "non-printable output");
        assertEquals(1, literal.lines().count());
    }

    @Test
    void longStringIsOneLiteral() {
        String literal = PythonLiteral.of("x".repeat(200_000));

        assertEquals(200_002, literal.length());
    }

    @Test
    void intListIsPythonList() {
        assertEquals("[]", PythonLiteral.ofInts(List.of()));
        assertEquals("[0, 1, 2]", PythonLiteral.ofInts(List.of(0, 1, 2)));
        assertEquals("[-3]", PythonLiteral.ofInts(List.of(-3)));
    }

    @Test
    void stringListEscapesEachItem() {
        assertEquals("['a', 'b\\'c', None]", PythonLiteral.ofStrings(Arrays.asList("a", "b'c", null)));
    }
}
