package io.autoresearch.probe.setup;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;

/** The version of auto-research, from the resource {@code version.properties} that Maven filters. */
public final class ToolVersion {
    private static final String RESOURCE = "/io/autoresearch/probe/version.properties";

    private ToolVersion() {
    }

    /** Returns the project version, such as {@code 0.1.0}. */
    public static String current() {
        try (InputStream stream = ToolVersion.class.getResourceAsStream(RESOURCE)) {
            if (stream == null) {
                throw new IllegalStateException(RESOURCE + " is missing from the classpath; rebuild with mvn package");
            }
            Properties properties = new Properties();
            properties.load(stream);
            String version = properties.getProperty("version");
            if (version == null || version.isBlank() || version.contains("${")) {
                throw new IllegalStateException(RESOURCE + " was not filtered by Maven; rebuild with mvn package");
            }
            return version.trim();
        } catch (IOException e) {
            throw new UncheckedIOException("could not read " + RESOURCE, e);
        }
    }
}
