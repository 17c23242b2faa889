package io.autoresearch.probe.cache;

import io.autoresearch.probe.support.ExitCode;
import io.autoresearch.probe.support.ProbeException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;

/**
 * Rechecks committed entries: the metadata fields, the key against the file name, and every
 * listed shard's presence, size and sha256.
 */
public final class CacheVerifier {
    private static final int BUFFER_BYTES = 1 << 20;

    private CacheVerifier() {
    }

    /**
     * Returns the problems of one entry, empty when it is intact. A format-1 entry is not
     * checked, because no cache lookup of this format reads it.
     */
    public static List<String> check(Path folder, CacheEntry entry) {
        return switch (entry.format()) {
            case INVALID -> List.of(entry.readProblem());
            case FORMAT_1 -> List.of();
            case CURRENT -> checkCurrent(folder, entry);
        };
    }

    private static List<String> checkCurrent(Path folder, CacheEntry entry) {
        List<String> problems = new ArrayList<>(entry.metadata().problems());
        for (EntryMetadata.ShardRecord shard : entry.metadata().files()) {
            checkShard(folder, shard).ifPresent(problems::add);
        }
        return problems;
    }

    /** Checks one shard: the metadata parser has already checked that its name is a shard of this entry's key. */
    private static Optional<String> checkShard(Path folder, EntryMetadata.ShardRecord shard) {
        String name = shard.name();
        Optional<CacheFile> found;
        try {
            found = CacheFile.describe(folder.resolve(name));
        } catch (IOException e) {
            return Optional.of("shard " + name + " could not be read: " + e);
        }
        if (found.isEmpty()) {
            return Optional.of("shard " + name + " is missing");
        }

        CacheFile file = found.get();
        if (file.type() == CacheFile.Type.SYMBOLIC_LINK) {
            return Optional.of("shard " + name + " is a symbolic link, which this tool does not follow");
        }
        if (!file.isRegularFile()) {
            return Optional.of("shard " + name + " is not a regular file");
        }
        if (file.size() != shard.bytes()) {
            return Optional.of("shard " + name + " has " + file.size() + " bytes, but the metadata records "
                    + shard.bytes());
        }

        String actual;
        try {
            actual = sha256(file.path());
        } catch (IOException e) {
            return Optional.of("shard " + name + " could not be read: " + e);
        }
        if (!actual.equals(shard.sha256())) {
            return Optional.of("shard " + name + " has sha256 " + actual + ", but the metadata records "
                    + shard.sha256());
        }
        return Optional.empty();
    }

    /** Returns the lower-case hex sha256 of a file, read in 1 MiB blocks without following a link. */
    static String sha256(Path file) throws IOException {
        MessageDigest digest;
        try {
            digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new ProbeException(ExitCode.INTERNAL_ERROR, "this Java runtime has no SHA-256", e);
        }
        byte[] buffer = new byte[BUFFER_BYTES];
        try (InputStream input = Files.newInputStream(file, LinkOption.NOFOLLOW_LINKS)) {
            for (int read = input.read(buffer); read >= 0; read = input.read(buffer)) {
                digest.update(buffer, 0, read);
            }
        }
        return HexFormat.of().formatHex(digest.digest());
    }
}
