package io.autoresearch.probe.run;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * The {@code *.json} files directly in a results folder, with what identifies a version of
 * each: size, modification time and file key (the inode on Unix). Scripts write results
 * atomically by renaming a new file into place, which changes the file key even when size
 * and time do not.
 */
public final class ResultsSnapshot {
    private record FileState(long size, FileTime modified, Object fileKey) {
    }

    private final Map<Path, FileState> files;

    private ResultsSnapshot(Map<Path, FileState> files) {
        this.files = files;
    }

    /** Records the results files in {@code resultsDir}; a missing folder gives an empty snapshot. */
    public static ResultsSnapshot take(Path resultsDir) {
        Map<Path, FileState> files = new TreeMap<>();
        if (!Files.isDirectory(resultsDir)) {
            return new ResultsSnapshot(files);
        }
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(resultsDir, "*.json")) {
            for (Path entry : entries) {
                // Hidden names are temporary files of an atomic write in progress.
                if (entry.getFileName().toString().startsWith(".")) {
                    continue;
                }
                try {
                    BasicFileAttributes attributes = Files.readAttributes(entry, BasicFileAttributes.class);
                    if (attributes.isRegularFile()) {
                        files.put(entry, new FileState(attributes.size(), attributes.lastModifiedTime(),
                                attributes.fileKey()));
                    }
                } catch (NoSuchFileException e) {
                    // Deleted between listing and reading: it is not part of the snapshot.
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("could not list " + resultsDir, e);
        }
        return new ResultsSnapshot(files);
    }

    /** Returns the files in this snapshot that are missing from {@code before} or differ from it, sorted. */
    public List<Path> newOrChangedSince(ResultsSnapshot before) {
        List<Path> changed = new ArrayList<>();
        for (Map.Entry<Path, FileState> entry : files.entrySet()) {
            if (!Objects.equals(before.files.get(entry.getKey()), entry.getValue())) {
                changed.add(entry.getKey());
            }
        }
        return changed;
    }

    public boolean contains(Path file) {
        return files.containsKey(file);
    }
}
