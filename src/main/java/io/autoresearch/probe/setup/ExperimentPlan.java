package io.autoresearch.probe.setup;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;

/** Reads the plugin's {@code 04_EXPERIMENT_PLAN.md}. */
public final class ExperimentPlan {
    /** The hypothesis used when neither {@code --hypothesis} nor the plan gives one. */
    public static final String NO_HYPOTHESIS = "No hypothesis was given: pass --hypothesis TEXT to setup,"
            + " or add one under '## Hypotheses' in 04_EXPERIMENT_PLAN.md and run setup again.";

    private static final Pattern LIST_MARKER = Pattern.compile("^\\s*(?:[-*+]|\\d+[.)])\\s+");

    private ExperimentPlan() {
    }

    /**
     * Returns the first hypothesis under the {@code ## Hypotheses} heading: the first list item
     * or paragraph, with its list marker removed and its continuation lines joined by spaces.
     * Returns null when the file, the section or any text in it is missing.
     */
    public static String firstHypothesis(Path planFile) {
        if (!Files.isRegularFile(planFile)) {
            return null;
        }
        List<String> lines;
        try {
            lines = Files.readAllLines(planFile, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + planFile, e);
        }
        int index = 0;
        while (index < lines.size() && !lines.get(index).trim().matches("##\\s+Hypotheses\\s*")) {
            index++;
        }
        index++;
        while (index < lines.size() && lines.get(index).isBlank()) {
            index++;
        }
        if (index >= lines.size() || lines.get(index).trim().startsWith("#")) {
            return null;
        }
        StringBuilder hypothesis = new StringBuilder(LIST_MARKER.matcher(lines.get(index)).replaceFirst("").trim());
        for (index++; index < lines.size(); index++) {
            String line = lines.get(index);
            if (line.isBlank() || line.trim().startsWith("#") || LIST_MARKER.matcher(line).find()) {
                break;
            }
            hypothesis.append(' ').append(line.trim());
        }
        return hypothesis.toString();
    }
}
