package io.autoresearch.probe.setup;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.autoresearch.probe.support.ProbeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Checks a patching pairs file before setup copies it: UTF-8 JSON Lines, one object per line
 * with the non-empty strings {@code clean}, {@code corrupted}, {@code answer} and
 * {@code wrong_answer}, where the two answers differ. Blank lines are skipped and other keys
 * are ignored. Token-level rules (one token per answer, equal clean and corrupted lengths)
 * need the tokenizer, so the Python runtime checks them before its first forward pass.
 */
public final class PairsFile {
    /** The keys every line must have. */
    public static final List<String> KEYS = List.of("clean", "corrupted", "answer", "wrong_answer");
    private static final String EXAMPLE = "{\"clean\": ..., \"corrupted\": ..., \"answer\": ..., \"wrong_answer\": ...}";

    private PairsFile() {
    }

    /** Validates {@code file} and returns its number of pairs; a problem names the line number. */
    public static int validate(Path file) {
        if (!Files.isRegularFile(file)) {
            throw ProbeException.usage("pairs file '" + file + "' does not exist or is not a file; pass a JSONL"
                    + " file with one " + EXAMPLE + " object per line");
        }
        String text = PromptsFile.decodeUtf8(file, "pairs file");
        ObjectMapper json = new ObjectMapper();
        String[] lines = text.split("\r\n|\r|\n", -1);
        int pairs = 0;
        for (int index = 0; index < lines.length; index++) {
            if (lines[index].isBlank()) {
                continue;
            }
            String where = "pairs file " + file + " line " + (index + 1);
            JsonNode record;
            try {
                record = json.readTree(lines[index]);
            } catch (JsonProcessingException e) {
                throw ProbeException.usage(where + ": invalid JSON (" + e.getOriginalMessage() + ")");
            }
            checkRecord(record, where);
            pairs++;
        }
        if (pairs == 0) {
            throw ProbeException.usage("pairs file " + file + " contains no pairs; add one " + EXAMPLE
                    + " object per line");
        }
        return pairs;
    }

    private static void checkRecord(JsonNode record, String where) {
        if (record == null || !record.isObject()) {
            throw ProbeException.usage(where + ": expected a JSON object such as " + EXAMPLE);
        }
        for (String key : KEYS) {
            JsonNode value = record.get(key);
            if (value == null) {
                throw ProbeException.usage(where + ": missing key \"" + key + "\"; each line needs " + EXAMPLE);
            }
            if (!value.isTextual() || value.asText().isBlank()) {
                throw ProbeException.usage(where + ": \"" + key + "\" must be a non-empty string, got " + value);
            }
        }
        if (record.get("answer").asText().equals(record.get("wrong_answer").asText())) {
            throw ProbeException.usage(where + ": \"answer\" and \"wrong_answer\" are both "
                    + record.get("answer") + "; the logit difference between them is always zero, so give the"
                    + " token the corrupted prompt supports as wrong_answer");
        }
    }
}
