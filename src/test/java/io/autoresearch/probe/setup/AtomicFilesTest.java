package io.autoresearch.probe.setup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AtomicFilesTest {
    @TempDir
    Path folder;

    @Test
    void newFileIsReadableByAll() throws IOException {
        Path target = folder.resolve("reports").resolve("probe.md");

        AtomicFiles.write(target, "# report\n".getBytes(StandardCharsets.UTF_8));

        assertEquals("# report\n", Files.readString(target));
        assertEquals("rw-r--r--", PosixFilePermissions.toString(Files.getPosixFilePermissions(target)));
        try (Stream<Path> files = Files.list(target.getParent())) {
            assertEquals(1, files.count(), "a temporary file was left behind");
        }
    }

    @Test
    void overwriteKeepsPermissions() throws IOException {
        Path target = folder.resolve("run.sh");
        Files.writeString(target, "old");
        Files.setPosixFilePermissions(target, PosixFilePermissions.fromString("rwxr-x---"));

        AtomicFiles.write(target, new byte[] {1, 2, 3});

        assertArrayEquals(new byte[] {1, 2, 3}, Files.readAllBytes(target));
        assertEquals("rwxr-x---", PosixFilePermissions.toString(Files.getPosixFilePermissions(target)));
    }
}
