package io.autoresearch.probe.setup;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.autoresearch.probe.support.ProbeException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Checks a prompts file before setup copies it: UTF-8 JSON Lines, one object per line with a
 * non-empty string {@code prompt} and an optional non-empty string {@code answer}. Blank lines
 * are skipped and other keys are ignored, the same rules as the Python runtime's loader, so a
 * file accepted here also loads there.
 */
public final class PromptsFile {
    private PromptsFile() {
    }

    /** Validates {@code file} and returns its number of prompts; a problem names the line number. */
    public static int validate(Path file) {
        if (!Files.isRegularFile(file)) {
            throw ProbeException.usage("prompts file '" + file + "' does not exist or is not a file;"
                    + " pass a JSONL file with one {\"prompt\": ..., \"answer\": ...} object per line");
        }
        String text = decodeUtf8(file, "prompts file");
        ObjectMapper json = new ObjectMapper();
        String[] lines = text.split("\r\n|\r|\n", -1);
        int prompts = 0;
        for (int index = 0; index < lines.length; index++) {
            String line = lines[index];
            if (line.isBlank()) {
                continue;
            }
            String where = "prompts file " + file + " line " + (index + 1);
            JsonNode record;
            try {
                record = json.readTree(line);
            } catch (JsonProcessingException e) {
                throw ProbeException.usage(where + ": invalid JSON (" + e.getOriginalMessage() + ")");
            }
            checkRecord(record, where);
            prompts++;
        }
        if (prompts == 0) {
            throw ProbeException.usage("prompts file " + file + " contains no prompts; add one"
                    + " {\"prompt\": ..., \"answer\": ...} object per line");
        }
        return prompts;
    }

    private static void checkRecord(JsonNode record, String where) {
        if (record == null || !record.isObject()) {
            throw ProbeException.usage(where + ": expected a JSON object such as {\"prompt\": \"...\"}");
        }
        JsonNode prompt = record.get("prompt");
        if (prompt == null) {
            throw ProbeException.usage(where + ": missing key \"prompt\"");
        }
        if (!prompt.isTextual() || prompt.asText().isBlank()) {
            throw ProbeException.usage(where + ": \"prompt\" must be a non-empty string, got " + prompt);
        }
        JsonNode answer = record.get("answer");
        if (answer != null && !answer.isNull() && (!answer.isTextual() || answer.asText().isEmpty())) {
            throw ProbeException.usage(where + ": \"answer\" must be a non-empty string when present, got " + answer);
        }
    }

    /** Reads {@code file} as strict UTF-8; {@code kind}, such as "pairs file", names it in errors. */
    static String decodeUtf8(Path file, String kind) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw ProbeException.usage("cannot read " + kind + " " + file + ": " + e.getMessage());
        }
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes))
                    .toString();
        } catch (CharacterCodingException e) {
            throw ProbeException.usage(kind + " " + file + " is not valid UTF-8; save it as UTF-8");
        }
    }
}
