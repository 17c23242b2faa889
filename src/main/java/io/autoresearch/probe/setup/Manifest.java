package io.autoresearch.probe.setup;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * The setup manifest {@code code/.auto-research/manifest.json}: what setup wrote, with the
 * sha256 it wrote, so a later setup can tell a file a person edited from one it may replace,
 * and the probes scaffolded so far.
 *
 * @param toolVersion the version of auto-research that last wrote the manifest
 * @param files every rendered, vendored or copied file, by path relative to code/
 * @param probes every probe scaffolded in this project, in creation order
 */
@JsonInclude(JsonInclude.Include.ALWAYS)
public record Manifest(
        @JsonProperty("tool_version") String toolVersion,
        @JsonProperty("files") List<FileEntry> files,
        @JsonProperty("probes") List<ProbeEntry> probes) {

    public Manifest {
        files = files == null ? List.of() : List.copyOf(files);
        probes = probes == null ? List.of() : List.copyOf(probes);
    }

    public static Manifest empty(String toolVersion) {
        return new Manifest(toolVersion, List.of(), List.of());
    }

    /** One file setup wrote: its path relative to code/ and the sha256 of what it wrote. */
    public record FileEntry(@JsonProperty("path") String path, @JsonProperty("sha256") String sha256) {
    }

    /**
     * One scaffolded probe.
     *
     * @param layers the lens layers, or null when the script uses all layers of a model whose
     *     config was not available at setup time
     * @param created the ISO 8601 instant of the first setup of this probe
     * @param backend the backend the script was rendered for, {@code transformer_lens} or {@code nnsight};
     *     null in manifests written before backends existed, which means transformer_lens
     */
    public record ProbeEntry(
            @JsonProperty("probe_id") String probeId,
            @JsonProperty("intervention") String intervention,
            @JsonProperty("script") String script,
            @JsonProperty("model_id") String modelId,
            @JsonProperty("layers") List<Integer> layers,
            @JsonProperty("created") String created,
            @JsonProperty("backend") String backend) {
        /** Returns the recorded backend, or transformer_lens for an entry that records none. */
        @JsonIgnore
        public String backendOrDefault() {
            return Backend.idOrDefault(backend);
        }
    }

    public Optional<FileEntry> file(String path) {
        return files.stream().filter(entry -> entry.path().equals(path)).findFirst();
    }

    public Optional<ProbeEntry> probe(String probeId) {
        return probes.stream().filter(entry -> entry.probeId().equals(probeId)).findFirst();
    }

    /** Returns a copy with {@code entry} replacing the probe of the same id, or appended. */
    public Manifest withProbe(ProbeEntry entry) {
        List<ProbeEntry> updated = new ArrayList<>();
        boolean replaced = false;
        for (ProbeEntry probe : probes) {
            if (probe.probeId().equals(entry.probeId())) {
                updated.add(entry);
                replaced = true;
            } else {
                updated.add(probe);
            }
        }
        if (!replaced) {
            updated.add(entry);
        }
        return new Manifest(toolVersion, files, updated);
    }

    /** Returns a copy with the given file entries replacing those of equal path, sorted by path. */
    public Manifest withFiles(List<FileEntry> entries, String newToolVersion) {
        List<FileEntry> merged = new ArrayList<>();
        for (FileEntry existing : files) {
            if (entries.stream().noneMatch(entry -> entry.path().equals(existing.path()))) {
                merged.add(existing);
            }
        }
        merged.addAll(entries);
        merged.sort(Comparator.comparing(FileEntry::path));
        return new Manifest(newToolVersion, merged, probes);
    }
}
