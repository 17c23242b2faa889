package io.autoresearch.probe.run;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.HexFormat;
import java.util.random.RandomGenerator;
import java.util.regex.Pattern;

/**
 * The id shared by every script of one {@code probe run}: {@code YYYYMMDD-HHMMSS-<sha7>-<hash6>}.
 * The time is the UTC start time, {@code sha7} the first 7 hex digits of the sha256 of the
 * setup manifest (so runs of the same scaffold share it), and {@code hash6} 6 random hex
 * digits so that two runs in the same second differ. The Python runtime reads it from
 * {@value #ENVIRONMENT_VARIABLE} and checks it against the same pattern.
 */
public final class RunId {
    public static final String ENVIRONMENT_VARIABLE = "AUTO_RESEARCH_RUN_ID";
    public static final Pattern PATTERN = Pattern.compile("^[0-9]{8}-[0-9]{6}-[0-9a-f]{7}-[0-9a-f]{6}$");

    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss").withZone(ZoneOffset.UTC);

    private RunId() {
    }

    public static String generate(Clock clock, byte[] manifest, RandomGenerator random) {
        String sha7 = HexFormat.of().formatHex(sha256(manifest)).substring(0, 7);
        byte[] randomBytes = new byte[3];
        random.nextBytes(randomBytes);
        String hash6 = HexFormat.of().formatHex(randomBytes);
        return TIME.format(clock.instant()) + "-" + sha7 + "-" + hash6;
    }

    /** Generates an id for a run whose manifest text is {@code manifest}. */
    public static String generate(Clock clock, String manifest, RandomGenerator random) {
        return generate(clock, manifest.getBytes(StandardCharsets.UTF_8), random);
    }

    private static byte[] sha256(byte[] content) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(content);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java runtime provides SHA-256", e);
        }
    }
}
