package io.autoresearch.probe.setup;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import io.autoresearch.probe.support.ExitCode;
import io.autoresearch.probe.support.ProbeException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;

/**
 * The {@code attention} optional-dependency list. The pins come from this repository's own
 * pyproject.toml, packaged as the classpath resource {@code stack/pyproject.toml}, so every
 * scaffolded project resolves the versions this repository is tested with.
 */
public final class AttentionExtra {
    public static final String EXTRA = "attention";
    public static final String STACK_RESOURCE = "stack/pyproject.toml";

    private AttentionExtra() {
    }

    /** Reads the pins of the attention extra from the packaged {@code stack/pyproject.toml}. */
    public static List<String> packagedPins() {
        try (InputStream stream = AttentionExtra.class.getClassLoader().getResourceAsStream(STACK_RESOURCE)) {
            if (stream == null) {
                throw new ProbeException(ExitCode.INTERNAL_ERROR, "resource " + STACK_RESOURCE
                        + " is missing from the classpath; rebuild the jar with mvn package");
            }
            List<String> pins = readExtra(new TomlMapper().readTree(stream));
            if (pins == null || pins.isEmpty()) {
                throw new ProbeException(ExitCode.INTERNAL_ERROR, "resource " + STACK_RESOURCE
                        + " has no [project.optional-dependencies] " + EXTRA + " list");
            }
            return pins;
        } catch (IOException e) {
            throw new ProbeException(ExitCode.INTERNAL_ERROR, "could not read resource " + STACK_RESOURCE
                    + ": " + e.getMessage(), e);
        }
    }

    /**
     * Reads the attention extra of a project's pyproject.toml, or returns null when the file or
     * the extra does not exist.
     */
    public static List<String> projectPins(Path pyproject) {
        if (!Files.isRegularFile(pyproject)) {
            return null;
        }
        try {
            return readExtra(new TomlMapper().readTree(pyproject.toFile()));
        } catch (IOException e) {
            throw ProbeException.usage("invalid TOML in " + pyproject + ": " + e.getMessage().lines().findFirst()
                    .orElse("") + "; fix the file");
        }
    }

    /**
     * Returns whether two requirement lists hold the same requirements, ignoring order,
     * whitespace and the case of the text (package names are case-insensitive).
     */
    public static boolean sameRequirements(List<String> expected, List<String> actual) {
        if (actual == null || expected.size() != actual.size()) {
            return false;
        }
        return new HashSet<>(normalise(expected)).equals(new HashSet<>(normalise(actual)));
    }

    private static List<String> normalise(List<String> requirements) {
        List<String> normalised = new ArrayList<>();
        for (String requirement : requirements) {
            normalised.add(requirement.replaceAll("\\s+", "").toLowerCase(java.util.Locale.ROOT));
        }
        return normalised;
    }

    private static List<String> readExtra(JsonNode root) {
        JsonNode extra = root.path("project").path("optional-dependencies").path(EXTRA);
        if (!extra.isArray()) {
            return null;
        }
        List<String> pins = new ArrayList<>();
        extra.forEach(item -> pins.add(item.asText()));
        return pins;
    }
}
