package io.autoresearch.probe.workspace;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoresearch.probe.support.ExitCode;
import io.autoresearch.probe.support.ProbeException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class SlugTest {
    @ParameterizedTest
    @ValueSource(strings = {"abc", "induction-demo", "a1-2", "a-b-c-d"})
    void validSlugIsAccepted(String value) {
        assertEquals(value, Slug.parse(value).value());
    }

    @Test
    void longestValidSlugIsAccepted() {
        String value = "a" + "b".repeat(48);

        assertEquals(49, Slug.parse(value).value().length());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "../x|must start with a lower-case letter",
        "A|at least 3",
        "ab|at least 3",
        "Abc|must start with a lower-case letter",
        "1abc|must start with a lower-case letter",
        "-abc|must start with a lower-case letter",
        "a_bc|only lower-case letters, digits and '-'",
        "a/bc|only lower-case letters, digits and '-'",
        "abC|only lower-case letters, digits and '-'"})
    void invalidSlugIsRejectedWithReason(String value, String reason) {
        ProbeException error = assertThrows(ProbeException.class, () -> Slug.parse(value));

        assertEquals(ExitCode.USAGE, error.exitCode());
        assertTrue(error.getMessage().contains("'" + value + "'"), error.getMessage());
        assertTrue(error.getMessage().contains(reason), error.getMessage());
    }

    @Test
    void sixtyCharacterSlugIsRejected() {
        ProbeException error = assertThrows(ProbeException.class, () -> Slug.parse("a".repeat(60)));

        assertTrue(error.getMessage().contains("60 characters, at most 49"), error.getMessage());
    }

    @Test
    void emptySlugIsRejected() {
        ProbeException error = assertThrows(ProbeException.class, () -> Slug.parse(""));

        assertTrue(error.getMessage().startsWith("missing slug"), error.getMessage());
    }

    @Test
    void packageNameReplacesHyphens() {
        assertEquals("induction_demo", Slug.parse("induction-demo").toPackageName());
    }
}
