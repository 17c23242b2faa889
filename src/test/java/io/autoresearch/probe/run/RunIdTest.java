package io.autoresearch.probe.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Clock;
import java.time.Instant;
import java.time.ZoneId;
import java.util.Random;
import org.junit.jupiter.api.Test;

class RunIdTest {
    @Test
    void generateUsesUtcTimeAndManifestHash() {
        // 11:15:30 in Paris is 10:15:30 UTC.
        Clock paris = Clock.fixed(Instant.parse("2026-12-04T10:15:30Z"), ZoneId.of("Europe/Paris"));

        String runId = RunId.generate(paris, "abc", new Random(1));

        // sha256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
        assertTrue(runId.startsWith("20261204-101530-ba7816b-"), runId);
        assertTrue(RunId.PATTERN.matcher(runId).matches(), runId);
    }

    @Test
    void generateRandomSuffixDiffersBetweenRuns() {
        Clock clock = Clock.fixed(Instant.parse("2026-12-04T10:15:30Z"), ZoneId.of("UTC"));
        Random random = new Random(1);

        String first = RunId.generate(clock, "abc", random);
        String second = RunId.generate(clock, "abc", random);

        assertEquals(first.substring(0, 24), second.substring(0, 24));
        assertNotEquals(first, second);
    }
}
