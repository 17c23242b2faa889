package io.autoresearch.probe.run;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ResultsSnapshotTest {
    @TempDir
    Path resultsDir;

    @Test
    void newOrChangedFindsNewFile() throws IOException {
        ResultsSnapshot before = ResultsSnapshot.take(resultsDir);
        Path added = Files.writeString(resultsDir.resolve("probe_a.json"), "{}");

        assertEquals(List.of(added), ResultsSnapshot.take(resultsDir).newOrChangedSince(before));
    }

    @Test
    void newOrChangedIgnoresUntouchedFile() throws IOException {
        Files.writeString(resultsDir.resolve("probe_a.json"), "{}");
        ResultsSnapshot before = ResultsSnapshot.take(resultsDir);

        assertEquals(List.of(), ResultsSnapshot.take(resultsDir).newOrChangedSince(before));
    }

    @Test
    void newOrChangedFindsAtomicReplace() throws IOException {
        Path file = Files.writeString(resultsDir.resolve("probe_a.json"), "{\"a\": 1}");
        FileTime time = Files.getLastModifiedTime(file);
        ResultsSnapshot before = ResultsSnapshot.take(resultsDir);

        Path replacement = Files.writeString(resultsDir.resolve(".probe_a.json.tmp"), "{\"a\": 2}");
        Files.setLastModifiedTime(replacement, time);
        Files.move(replacement, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);

        assertEquals(List.of(file), ResultsSnapshot.take(resultsDir).newOrChangedSince(before));
    }

    @Test
    void takeSkipsHiddenAndNonJsonFiles() throws IOException {
        ResultsSnapshot before = ResultsSnapshot.take(resultsDir);
        Files.writeString(resultsDir.resolve(".probe_a.json"), "{}");
        Files.writeString(resultsDir.resolve("notes.txt"), "text");
        Files.createDirectories(resultsDir.resolve("folder.json"));

        assertEquals(List.of(), ResultsSnapshot.take(resultsDir).newOrChangedSince(before));
    }

    @Test
    void takeOfMissingFolderIsEmpty() throws IOException {
        ResultsSnapshot before = ResultsSnapshot.take(resultsDir.resolve("absent"));
        Path added = Files.writeString(resultsDir.resolve("probe_a.json"), "{}");

        assertEquals(List.of(added), ResultsSnapshot.take(resultsDir).newOrChangedSince(before));
    }
}
