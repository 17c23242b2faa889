package io.autoresearch.probe.setup;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ManagedFilesTest {
    @TempDir
    Path folder;

    private static byte[] bytes(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void missingFileIsWritten() {
        assertEquals(ManagedFiles.Action.WROTE, ManagedFiles.decide(folder.resolve("a.py"), bytes("new"), null, false));
    }

    @Test
    void identicalFileIsKept() throws IOException {
        Path file = Files.writeString(folder.resolve("a.py"), "same");

        assertEquals(ManagedFiles.Action.KEPT, ManagedFiles.decide(file, bytes("same"), null, false));
        assertEquals(ManagedFiles.Action.KEPT, ManagedFiles.decide(file, bytes("same"), "0".repeat(64), false));
    }

    @Test
    void uneditedFileIsRewritten() throws IOException {
        Path file = Files.writeString(folder.resolve("a.py"), "old");

        assertEquals(ManagedFiles.Action.WROTE,
                ManagedFiles.decide(file, bytes("new"), AtomicFiles.sha256(bytes("old")), false));
    }

    @Test
    void editedFileIsSkipped() throws IOException {
        Path file = Files.writeString(folder.resolve("a.py"), "edited");

        assertEquals(ManagedFiles.Action.SKIPPED_EDITED,
                ManagedFiles.decide(file, bytes("new"), AtomicFiles.sha256(bytes("old")), false));
    }

    @Test
    void unknownFileIsSkipped() throws IOException {
        Path file = Files.writeString(folder.resolve("a.py"), "a person's file");

        assertEquals(ManagedFiles.Action.SKIPPED_EDITED, ManagedFiles.decide(file, bytes("new"), null, false));
    }

    @Test
    void forceOverwritesEditedFile() throws IOException {
        Path file = Files.writeString(folder.resolve("a.py"), "edited");

        assertEquals(ManagedFiles.Action.WROTE,
                ManagedFiles.decide(file, bytes("new"), AtomicFiles.sha256(bytes("old")), true));
    }

    @Test
    void atomicWriteLeavesNoTemporaryFile() throws IOException {
        Path file = folder.resolve("sub/a.py");

        AtomicFiles.write(file, bytes("content"));
        AtomicFiles.write(file, bytes("replaced"));

        assertEquals("replaced", Files.readString(file));
        try (var entries = Files.list(file.getParent())) {
            assertEquals(1, entries.count());
        }
    }
}
