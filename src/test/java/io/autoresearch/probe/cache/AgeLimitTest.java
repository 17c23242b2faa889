package io.autoresearch.probe.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class AgeLimitTest {
    @Test
    void parseEachUnit() {
        assertEquals(Duration.ofSeconds(45), AgeLimit.parse("45s"));
        assertEquals(Duration.ofMinutes(30), AgeLimit.parse("30m"));
        assertEquals(Duration.ofHours(12), AgeLimit.parse("12h"));
        assertEquals(Duration.ofDays(7), AgeLimit.parse("7d"));
        assertEquals(Duration.ofDays(14), AgeLimit.parse("2w"));
        assertEquals(Duration.ZERO, AgeLimit.parse("0s"));
    }

    @Test
    void parseLargestAmount() {
        assertEquals(Duration.ofDays(7L * 999_999_999), AgeLimit.parse("999999999w"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "7", "d", "7D", "1.5h", "-1d", "1d12h", "7 d", "1000000000s"})
    void parseRejectsOtherForms(String text) {
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> AgeLimit.parse(text));

        assertTrue(error.getMessage().startsWith("'" + text + "' is not an age"), error.getMessage());
    }
}
