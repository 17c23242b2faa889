package io.autoresearch.probe.cache;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Instant;
import java.util.Optional;

/**
 * One directory entry of the cache folder, described by {@code lstat}: the attributes of a
 * symbolic link are those of the link itself, never of its target.
 *
 * @param size bytes on disk of the file, or of the link itself
 * @param modified the last modification time
 */
public record CacheFile(Path path, Type type, long size, Instant modified) {
    /** Kind of a directory entry, read without following links. */
    public enum Type {
        REGULAR_FILE, SYMBOLIC_LINK, FOLDER, OTHER
    }

    public String name() {
        return path.getFileName().toString();
    }

    public boolean isRegularFile() {
        return type == Type.REGULAR_FILE;
    }

    /** Reads the attributes of {@code path} without following a link, or returns empty when it no longer exists. */
    static Optional<CacheFile> describe(Path path) throws IOException {
        BasicFileAttributes attributes;
        try {
            attributes = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            // A concurrent writer or cleaner removed it between listing and reading.
            return Optional.empty();
        }
        Type type;
        if (attributes.isSymbolicLink()) {
            type = Type.SYMBOLIC_LINK;
        } else if (attributes.isDirectory()) {
            type = Type.FOLDER;
        } else if (attributes.isRegularFile()) {
            type = Type.REGULAR_FILE;
        } else {
            type = Type.OTHER;
        }
        return Optional.of(new CacheFile(path, type, attributes.size(), attributes.lastModifiedTime().toInstant()));
    }
}
