package io.autoresearch.probe.support;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

class SecretsTest {
    @Test
    void namedSecretsAreRedacted() {
        Secrets secrets = Secrets.in(Map.of("NDIF_API_KEY", "ndif-0123456789", "HF_TOKEN", "hf_abcdefghij"));

        assertEquals("key [redacted], token [redacted].",
                secrets.redact("key ndif-0123456789, token hf_abcdefghij."));
    }

    @Test
    void namePatternCoversOtherSecrets() {
        Secrets secrets = Secrets.in(Map.of("MY_SERVICE_PASSWORD", "p4ssw0rd-long", "OPENAI_API_KEY", "sk-123456789"));

        assertEquals("[redacted] [redacted]", secrets.redact("p4ssw0rd-long sk-123456789"));
    }

    @Test
    void shortValuesAndOtherVariablesAreKept() {
        Secrets secrets = Secrets.in(Map.of("HF_TOKEN", "1234567", "HF_HUB_OFFLINE", "1", "HOME", "/home/someone"));

        assertTrue(secrets.isEmpty());
        assertEquals("1234567 1 /home/someone", secrets.redact("1234567 1 /home/someone"));
    }

    @Test
    void longerSecretIsReplacedWhole() {
        Secrets secrets = Secrets.in(Map.of("HF_TOKEN", "abcdefgh", "NDIF_API_KEY", "abcdefgh-and-more"));

        assertEquals("[redacted]", secrets.redact("abcdefgh-and-more"));
    }
}
