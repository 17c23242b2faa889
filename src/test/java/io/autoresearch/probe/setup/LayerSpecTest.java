package io.autoresearch.probe.setup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoresearch.probe.support.ExitCode;
import io.autoresearch.probe.support.ProbeException;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class LayerSpecTest {
    @Test
    void allMeansEveryLayer() {
        LayerSpec spec = LayerSpec.parse("all");

        assertTrue(spec.isAll());
        assertNull(spec.layers());
        assertEquals(List.of(0, 1, 2), spec.resolve(2, "m"));
        assertNull(spec.resolve(null, "m"));
    }

    @Test
    void listIsSorted() {
        assertEquals(List.of(0, 2, 4), LayerSpec.parse("4,0,2").layers());
        assertEquals(List.of(1, 2), LayerSpec.parse("2,1").layers());
        assertEquals(List.of(0, 1, 2, 5, 6), LayerSpec.parse("5-6,0-2").layers());
    }

    @Test
    void rangeIsInclusive() {
        assertEquals(List.of(0, 1, 2, 3, 4), LayerSpec.parse("0-4").layers());
    }

    @Test
    void listAndRangeCombine() {
        assertEquals(List.of(0, 1, 2, 5), LayerSpec.parse(" 0-2 , 5 ").layers());
    }

    @Test
    void finalResidualStreamIsValid() {
        assertEquals(List.of(12), LayerSpec.parse("12").resolve(12, "m"));
    }

    @Test
    void layerAboveFinalStreamIsRejected() {
        ProbeException error = assertThrows(ProbeException.class, () -> LayerSpec.parse("0,13").resolve(12, "gpt2"));

        assertEquals(ExitCode.USAGE, error.exitCode());
        assertTrue(error.getMessage().contains("layer 13 is out of range for model 'gpt2' with 12 layers"),
                error.getMessage());
        assertTrue(error.getMessage().contains("0-12"), error.getMessage());
    }

    @Test
    void unknownLayerCountKeepsExplicitList() {
        assertEquals(List.of(40), LayerSpec.parse("40").resolve(null, "m"));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "''|it is empty",
        "-1|'-1' is not a non-negative layer number",
        "1,,2|'' is not a non-negative layer number",
        "a|'a' is not a non-negative layer number",
        "3-1|runs backwards",
        "1,1|layer 1 appears twice",
        "0-2,2|layer 2 appears twice",
        "99999999999|too large",
        "1.5|'1.5' is not"})
    void malformedSpecIsRejected(String text, String reason) {
        ProbeException error = assertThrows(ProbeException.class, () -> LayerSpec.parse(text));

        assertEquals(ExitCode.USAGE, error.exitCode());
        assertTrue(error.getMessage().contains("invalid --layers '" + text + "'"), error.getMessage());
        assertTrue(error.getMessage().contains(reason), error.getMessage());
    }
}
