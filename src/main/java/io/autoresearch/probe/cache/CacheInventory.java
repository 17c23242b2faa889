package io.autoresearch.probe.cache;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.autoresearch.probe.support.ExitCode;
import io.autoresearch.probe.support.ProbeException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.stream.Collectors;

/**
 * Everything in one activation cache folder, sorted into committed entries, orphans, lock
 * files and other files. The scan lists the folder itself only: it never descends into a
 * subfolder and never follows a symbolic link.
 *
 * @param entries every {@code <key>.json}, sorted by key, whatever its format
 * @param orphans files that no entry uses, sorted by name
 * @param lockFiles the {@code <key>.lock} files of writers
 * @param otherFiles folders, links and files whose names are not part of the cache format
 */
public record CacheInventory(Path folder, List<CacheEntry> entries, List<Orphan> orphans, List<CacheFile> lockFiles,
        List<CacheFile> otherFiles) {
    /** Limit on the size of a metadata file that is read, so that a stray large file cannot exhaust memory. */
    static final int MAX_METADATA_BYTES = 16 * 1024 * 1024;

    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    public CacheInventory {
        entries = List.copyOf(entries);
        orphans = List.copyOf(orphans);
        lockFiles = List.copyOf(lockFiles);
        otherFiles = List.copyOf(otherFiles);
    }

    /** Returns the entries of one format. */
    public List<CacheEntry> entries(CacheEntry.Format format) {
        return entries.stream().filter(entry -> entry.format() == format).toList();
    }

    /**
     * Lists and sorts the files of {@code folder} and reads every metadata file.
     *
     * @throws ProbeException (ENVIRONMENT) when the folder cannot be listed
     */
    public static CacheInventory scan(Path folder) {
        Map<String, CacheFile> metadataByKey = new TreeMap<>();
        Map<String, List<CacheFile>> shardsByKey = new HashMap<>();
        Map<String, CacheFile> format1TensorsByKey = new HashMap<>();
        List<Orphan> orphans = new ArrayList<>();
        List<CacheFile> lockFiles = new ArrayList<>();
        List<CacheFile> otherFiles = new ArrayList<>();

        for (CacheFile file : list(folder)) {
            String name = file.name();
            Matcher shard = CacheFormat.SHARD_NAME.matcher(name);
            Matcher metadata = CacheFormat.METADATA_NAME.matcher(name);
            Matcher format1Tensor = CacheFormat.FORMAT_1_TENSOR_NAME.matcher(name);
            if (file.type() == CacheFile.Type.FOLDER || file.type() == CacheFile.Type.OTHER) {
                otherFiles.add(file);
            } else if (metadata.matches()) {
                metadataByKey.put(metadata.group(1), file);
            } else if (shard.matches()) {
                shardsByKey.computeIfAbsent(shard.group(1), key -> new ArrayList<>()).add(file);
            } else if (format1Tensor.matches()) {
                format1TensorsByKey.put(format1Tensor.group(1), file);
            } else if (CacheFormat.LOCK_NAME.matcher(name).matches()) {
                lockFiles.add(file);
            } else if (CacheFormat.TEMPORARY_NAME.matcher(name).matches()) {
                orphans.add(new Orphan(file, Orphan.Kind.TEMPORARY_FILE));
            } else {
                otherFiles.add(file);
            }
        }

        List<CacheEntry> entries = new ArrayList<>();
        for (Map.Entry<String, CacheFile> metadata : metadataByKey.entrySet()) {
            String key = metadata.getKey();
            List<CacheFile> shards = shardsByKey.getOrDefault(key, List.of());
            CacheFile format1Tensor = format1TensorsByKey.get(key);
            CacheEntry entry = assignFiles(readEntry(key, metadata.getValue()), shards, format1Tensor, orphans);
            entries.add(entry);
        }
        for (Map.Entry<String, List<CacheFile>> shards : shardsByKey.entrySet()) {
            if (!metadataByKey.containsKey(shards.getKey())) {
                shards.getValue().forEach(file -> orphans.add(new Orphan(file, Orphan.Kind.SHARD_WITHOUT_METADATA)));
            }
        }
        for (Map.Entry<String, CacheFile> tensor : format1TensorsByKey.entrySet()) {
            if (!metadataByKey.containsKey(tensor.getKey())) {
                orphans.add(new Orphan(tensor.getValue(), Orphan.Kind.FORMAT_1_TENSOR_WITHOUT_METADATA));
            }
        }
        orphans.sort(Comparator.comparing(orphan -> orphan.file().name()));
        return new CacheInventory(folder, entries, orphans, lockFiles, otherFiles);
    }

    private static List<CacheFile> list(Path folder) {
        List<CacheFile> files = new ArrayList<>();
        try (DirectoryStream<Path> paths = Files.newDirectoryStream(folder)) {
            for (Path path : paths) {
                CacheFile.describe(path).ifPresent(files::add);
            }
        } catch (IOException e) {
            throw new ProbeException(ExitCode.ENVIRONMENT, "could not list the cache folder " + folder + ": " + e
                    + ". Check that it is a folder you may read", e);
        }
        files.sort(Comparator.comparing(CacheFile::name));
        return files;
    }

    /** Reads one metadata file into an entry without shards. */
    static CacheEntry readEntry(String key, CacheFile file) {
        String name = file.name();
        if (file.type() == CacheFile.Type.SYMBOLIC_LINK) {
            return invalid(key, file, "metadata " + name + " is a symbolic link, which this tool does not follow");
        }
        if (file.size() > MAX_METADATA_BYTES) {
            return invalid(key, file, "metadata " + name + " has " + file.size() + " bytes, more than the "
                    + MAX_METADATA_BYTES + " a metadata file may have");
        }

        JsonNode root;
        try (InputStream input = Files.newInputStream(file.path(), LinkOption.NOFOLLOW_LINKS)) {
            root = JSON.readTree(input.readNBytes(MAX_METADATA_BYTES));
        } catch (JsonProcessingException e) {
            return invalid(key, file, "metadata " + name + " is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            return invalid(key, file, "metadata " + name + " could not be read: " + e);
        }
        if (root == null || root.isMissingNode()) {
            return invalid(key, file, "metadata " + name + " is empty");
        }
        if (!root.isObject()) {
            return invalid(key, file, "metadata " + name + " is not a JSON object");
        }
        return entryOfVersion(key, file, root);
    }

    /** Sorts a parsed metadata object by its {@code format_version}. */
    private static CacheEntry entryOfVersion(String key, CacheFile file, JsonNode root) {
        JsonNode version = root.get("format_version");
        if (isVersion(version, CacheFormat.FORMAT_VERSION)) {
            return new CacheEntry(key, file, CacheEntry.Format.CURRENT, EntryMetadata.parse(root, key), null, List.of());
        }
        if (isVersion(version, 1) || (version == null && root.has("tensor_sha256"))) {
            return new CacheEntry(key, file, CacheEntry.Format.FORMAT_1, null, null, List.of());
        }
        if (version == null) {
            return invalid(key, file, "metadata " + file.name() + " has no format_version");
        }
        return invalid(key, file, "metadata " + file.name() + " has format_version " + version
                + ", which this tool cannot read (it reads format " + CacheFormat.FORMAT_VERSION + ")");
    }

    /** Accepts the version as a number or, as format 1 wrote it, a string. */
    private static boolean isVersion(JsonNode node, int version) {
        if (node == null) {
            return false;
        }
        return (node.isIntegralNumber() && node.asLong() == version)
                || (node.isTextual() && node.textValue().equals(Integer.toString(version)));
    }

    private static CacheEntry invalid(String key, CacheFile file, String problem) {
        return new CacheEntry(key, file, CacheEntry.Format.INVALID, null, problem, List.of());
    }

    /**
     * Gives an entry the files of its key that it uses, and adds the others to {@code orphans}.
     * An entry whose metadata has problems cannot be trusted to list its shards, so it takes
     * every file of its key.
     */
    private static CacheEntry assignFiles(CacheEntry entry, List<CacheFile> shards, CacheFile format1Tensor,
            List<Orphan> orphans) {
        List<CacheFile> owned = new ArrayList<>();
        List<CacheFile> unlisted = new ArrayList<>();
        switch (entry.format()) {
            case CURRENT -> {
                if (entry.metadata().isValid()) {
                    Set<String> listed = entry.metadata().files().stream().map(EntryMetadata.ShardRecord::name)
                            .collect(Collectors.toSet());
                    for (CacheFile shard : shards) {
                        if (listed.contains(shard.name())) {
                            owned.add(shard);
                        } else {
                            unlisted.add(shard);
                        }
                    }
                } else {
                    owned.addAll(shards);
                }
                if (format1Tensor != null) {
                    unlisted.add(format1Tensor);
                }
            }
            case FORMAT_1 -> {
                unlisted.addAll(shards);
                if (format1Tensor != null) {
                    owned.add(format1Tensor);
                }
            }
            case INVALID -> {
                owned.addAll(shards);
                if (format1Tensor != null) {
                    owned.add(format1Tensor);
                }
            }
        }
        unlisted.forEach(file -> orphans.add(new Orphan(file, Orphan.Kind.UNLISTED_SHARD)));
        owned.sort(Comparator.comparing(CacheFile::name));
        return new CacheEntry(entry.key(), entry.metadataFile(), entry.format(), entry.metadata(),
                entry.readProblem(), owned);
    }
}
