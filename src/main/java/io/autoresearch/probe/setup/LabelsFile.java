package io.autoresearch.probe.setup;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.autoresearch.probe.support.ProbeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Checks a labelled-texts file before setup copies it: UTF-8 JSON Lines, one object per line
 * with a non-empty string {@code text} and a {@code label} that is a non-empty string, an
 * integer or a boolean. Probing needs a label on every line; SAE feature lookup accepts lines
 * without one. Labels are compared as the Python runtime reads them: {@code 1} and {@code "1"}
 * are one class, {@code true} is the class {@code "true"}. Blank lines are skipped and other
 * keys are ignored.
 */
public final class LabelsFile {
    private static final String EXAMPLE = "{\"text\": ..., \"label\": ...}";
    /** The largest number of classes an error message lists. */
    private static final int LISTED = 10;

    /**
     * The contents of a labels file, counted.
     *
     * @param texts the number of texts
     * @param classCounts the number of texts per label, sorted by label; empty when no line has one
     */
    public record Summary(int texts, Map<String, Integer> classCounts) {
    }

    private LabelsFile() {
    }

    /** Validates {@code file}; a problem names the line number. */
    public static Summary validate(Path file, boolean requireLabels) {
        if (!Files.isRegularFile(file)) {
            throw ProbeException.usage("labels file '" + file + "' does not exist or is not a file; pass a JSONL"
                    + " file with one " + EXAMPLE + " object per line");
        }
        String text = PromptsFile.decodeUtf8(file, "labels file");
        ObjectMapper json = new ObjectMapper();
        String[] lines = text.split("\r\n|\r|\n", -1);
        int texts = 0;
        Map<String, Integer> counts = new TreeMap<>();
        for (int index = 0; index < lines.length; index++) {
            if (lines[index].isBlank()) {
                continue;
            }
            String where = "labels file " + file + " line " + (index + 1);
            JsonNode record;
            try {
                record = json.readTree(lines[index]);
            } catch (JsonProcessingException e) {
                throw ProbeException.usage(where + ": invalid JSON (" + e.getOriginalMessage() + ")");
            }
            String label = checkRecord(record, where, requireLabels);
            if (label != null) {
                counts.merge(label, 1, Integer::sum);
            }
            texts++;
        }
        if (texts == 0) {
            throw ProbeException.usage("labels file " + file + " contains no texts; add one " + EXAMPLE
                    + " object per line");
        }
        return new Summary(texts, counts);
    }

    /**
     * Checks that stratified k-fold cross-validation can run on the file: two classes or more, and
     * at least {@code folds} texts in each, so every held-out fold contains every class.
     */
    public static void checkFolds(Path file, Summary summary, int folds) {
        Map<String, Integer> counts = summary.classCounts();
        if (counts.size() < 2) {
            throw ProbeException.usage("labels file " + file + " has one class only ("
                    + counts.keySet().stream().findFirst().map(label -> "'" + label + "'").orElse("no label")
                    + "); a probe needs at least two labels"
                    + " to tell apart, so add texts of another class");
        }
        List<String> small = new ArrayList<>();
        counts.forEach((label, count) -> {
            if (count < folds) {
                small.add("'" + label + "': " + count);
            }
        });
        if (!small.isEmpty()) {
            throw ProbeException.usage("labels file " + file + " has fewer texts than --folds " + folds
                    + " in " + small.size() + " of its " + counts.size() + " classes (" + listed(small)
                    + "); add texts or pass a smaller --folds");
        }
    }

    /** Joins the first {@value #LISTED} items with commas and appends the count of the rest. */
    static String listed(Collection<String> items) {
        List<String> first = items.stream().limit(LISTED).toList();
        String text = String.join(", ", first);
        return items.size() > LISTED ? text + " and " + (items.size() - LISTED) + " more" : text;
    }

    /** Returns the line's label as the runtime reads it, or null when the line has none. */
    private static String checkRecord(JsonNode record, String where, boolean requireLabels) {
        if (record == null || !record.isObject()) {
            throw ProbeException.usage(where + ": expected a JSON object such as " + EXAMPLE);
        }
        JsonNode text = record.get("text");
        if (text == null) {
            throw ProbeException.usage(where + ": missing key \"text\"; each line needs " + EXAMPLE);
        }
        if (!text.isTextual() || text.asText().isBlank()) {
            throw ProbeException.usage(where + ": \"text\" must be a non-empty string, got " + text);
        }
        JsonNode label = record.get("label");
        if (label == null || label.isNull()) {
            if (requireLabels) {
                throw ProbeException.usage(where + (label == null ? ": missing key \"label\"" : ": \"label\" is null")
                        + "; probing needs a label on every line, such as " + EXAMPLE);
            }
            return null;
        }
        if (label.isBoolean()) {
            return label.asBoolean() ? "true" : "false";
        }
        if (label.isIntegralNumber()) {
            return label.bigIntegerValue().toString();
        }
        if (label.isTextual() && !label.asText().isBlank()) {
            return label.asText();
        }
        throw ProbeException.usage(where + ": \"label\" must be a non-empty string, an integer or a boolean, got "
                + label);
    }
}
