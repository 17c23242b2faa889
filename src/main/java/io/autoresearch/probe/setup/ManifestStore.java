package io.autoresearch.probe.setup;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.autoresearch.probe.support.ProbeException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Reads and atomically writes the setup manifest. */
public final class ManifestStore {
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(SerializationFeature.INDENT_OUTPUT)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    private ManifestStore() {
    }

    /** Reads the manifest, or returns an empty one when the file does not exist. */
    public static Manifest read(Path file, String toolVersion) {
        if (!Files.exists(file)) {
            return Manifest.empty(toolVersion);
        }
        try {
            return JSON.readValue(file.toFile(), Manifest.class);
        } catch (JsonProcessingException e) {
            throw ProbeException.usage("invalid setup manifest " + file + ": " + e.getOriginalMessage()
                    + "; restore it from version control, or delete it and run setup with --force");
        } catch (IOException e) {
            throw new UncheckedIOException("could not read " + file, e);
        }
    }

    /** Writes the manifest atomically, as indented JSON with a final newline. */
    public static void write(Path file, Manifest manifest) {
        try {
            String text = JSON.writeValueAsString(manifest) + "\n";
            AtomicFiles.write(file, text.getBytes(StandardCharsets.UTF_8));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("the manifest records always serialise", e);
        }
    }
}
