package io.autoresearch.probe.setup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoresearch.probe.support.ExitCode;
import io.autoresearch.probe.support.ProbeException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PromptsFileTest {
    @TempDir
    Path folder;

    @Test
    void validFileCountsPrompts() throws IOException {
        assertEquals(3, PromptsFile.validate(Fixtures.promptsFile(folder.resolve("p.jsonl"))));
    }

    @Test
    void nullAnswerCountsAsAbsent() throws IOException {
        Path file = Files.writeString(folder.resolve("p.jsonl"), "{\"prompt\": \"a\", \"answer\": null}\r\n");

        assertEquals(1, PromptsFile.validate(file));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "{\"prompt\": \"a\"}\\n{\"prompt\": |line 2: invalid JSON",
        "{\"prompt\": \"a\"}\\n\\n[1, 2]|line 3: expected a JSON object",
        "{\"text\": \"a\"}|line 1: missing key \"prompt\"",
        "{\"prompt\": 3}|line 1: \"prompt\" must be a non-empty string",
        "{\"prompt\": \"  \"}|line 1: \"prompt\" must be a non-empty string",
        "{\"prompt\": \"a\", \"answer\": \"\"}|line 1: \"answer\" must be a non-empty string",
        "{\"prompt\": \"a\", \"answer\": 5}|line 1: \"answer\" must be a non-empty string",
        "\\n\\n|contains no prompts"})
    void invalidFileNamesLine(String content, String expected) throws IOException {
        Path file = Files.writeString(folder.resolve("p.jsonl"), content.replace("\\n", "\n"));

        ProbeException error = assertThrows(ProbeException.class, () -> PromptsFile.validate(file));

        assertEquals(ExitCode.USAGE, error.exitCode());
        assertTrue(error.getMessage().contains(expected), error.getMessage());
        assertTrue(error.getMessage().contains(file.toString()), error.getMessage());
    }

    @Test
    void invalidUtf8IsRejected() throws IOException {
        Path file = Files.write(folder.resolve("p.jsonl"), new byte[] {'{', '"', (byte) 0xff, '"', '}'});

        ProbeException error = assertThrows(ProbeException.class, () -> PromptsFile.validate(file));

        assertTrue(error.getMessage().contains("not valid UTF-8"), error.getMessage());
    }

    @Test
    void folderIsRejected() {
        ProbeException error = assertThrows(ProbeException.class, () -> PromptsFile.validate(folder));

        assertTrue(error.getMessage().contains("does not exist or is not a file"), error.getMessage());
    }
}
