package io.autoresearch.probe.report;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.autoresearch.probe.setup.AtomicFiles;
import io.autoresearch.probe.support.ProbeException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * The report manifest {@code .research/<slug>/06_RUNS/attention/.auto-research-reports.json}:
 * the sha256 of each report as {@code probe report} last wrote it, so a later run can tell a
 * report a person edited from one it may replace. It plays the part of setup's
 * {@code code/.auto-research/manifest.json} for files outside code/.
 *
 * @param toolVersion the version of auto-research that last wrote the manifest
 * @param reports every report written, by file name within the reports folder
 */
@JsonInclude(JsonInclude.Include.ALWAYS)
public record ReportManifest(
        @JsonProperty("tool_version") String toolVersion,
        @JsonProperty("reports") List<Entry> reports) {
    /** The manifest's file name in the reports folder. */
    public static final String FILE_NAME = ".auto-research-reports.json";

    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(SerializationFeature.INDENT_OUTPUT)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    public ReportManifest {
        reports = reports == null ? List.of() : List.copyOf(reports);
    }

    /** One report: its file name and the sha256 of the content written. */
    public record Entry(@JsonProperty("path") String path, @JsonProperty("sha256") String sha256) {
    }

    public Optional<Entry> report(String path) {
        return reports.stream().filter(entry -> entry.path().equals(path)).findFirst();
    }

    /** Returns a copy with {@code entry} replacing the entry of the same path, sorted by path. */
    public ReportManifest with(Entry entry, String newToolVersion) {
        List<Entry> updated = new ArrayList<>();
        for (Entry existing : reports) {
            if (!existing.path().equals(entry.path())) {
                updated.add(existing);
            }
        }
        updated.add(entry);
        updated.sort(Comparator.comparing(Entry::path));
        return new ReportManifest(newToolVersion, updated);
    }

    /** Reads the manifest, or returns an empty one when the file does not exist. */
    public static ReportManifest read(Path file, String toolVersion) {
        if (!Files.exists(file)) {
            return new ReportManifest(toolVersion, List.of());
        }
        try {
            ReportManifest manifest = JSON.readValue(file.toFile(), ReportManifest.class);
            if (manifest == null) {
                throw ProbeException.usage("report manifest " + file + " is empty; delete it and run probe report"
                        + " with --force");
            }
            return manifest;
        } catch (JsonProcessingException e) {
            throw ProbeException.usage("invalid report manifest " + file + ": " + e.getOriginalMessage()
                    + "; restore it from version control, or delete it and run probe report with --force");
        } catch (IOException e) {
            throw new UncheckedIOException("could not read " + file, e);
        }
    }

    /** Writes the manifest atomically, as indented JSON with a final newline. */
    public void write(Path file) {
        try {
            AtomicFiles.write(file, (JSON.writeValueAsString(this) + "\n").getBytes(StandardCharsets.UTF_8));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("the manifest records always serialise", e);
        }
    }
}
