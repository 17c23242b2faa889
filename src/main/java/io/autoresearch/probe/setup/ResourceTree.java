package io.autoresearch.probe.setup;

import io.autoresearch.probe.support.ExitCode;
import io.autoresearch.probe.support.ProbeException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.FileSystem;
import java.nio.file.FileSystemAlreadyExistsException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * Reads a folder of classpath resources, such as {@code python/auto_research_probe/}, as a map
 * from relative path to content. The folder may be a directory ({@code file:} URL, when running
 * from {@code target/classes}) or a folder inside a jar ({@code jar:} URL, when running the
 * shaded jar); a jar is opened as a zip file system.
 */
public final class ResourceTree {
    /** Bytecode caches that a developer's checkout may contain; they are never vendored. */
    private static final Set<String> SKIPPED_NAMES = Set.of("__pycache__", ".DS_Store");

    private ResourceTree() {
    }

    /**
     * Reads every regular file below {@code folder} (a classpath path without leading slash),
     * keyed by its {@code /}-separated path relative to the folder, in sorted order.
     */
    public static Map<String, byte[]> read(ClassLoader loader, String folder) {
        String normalised = folder.endsWith("/") ? folder.substring(0, folder.length() - 1) : folder;
        URL url = loader.getResource(normalised);
        if (url == null) {
            url = loader.getResource(normalised + "/");
        }
        if (url == null) {
            throw new ProbeException(ExitCode.TEMPLATE, "resource folder '" + normalised
                    + "' is missing from the classpath; rebuild the jar with mvn package");
        }
        try {
            URI uri = url.toURI();
            if ("jar".equals(uri.getScheme())) {
                return readFromJar(uri, normalised);
            }
            return readTree(Path.of(uri));
        } catch (URISyntaxException | IOException e) {
            throw new ProbeException(ExitCode.TEMPLATE, "could not read resource folder '" + normalised
                    + "' from " + url + ": " + e.getMessage(), e);
        }
    }

    private static Map<String, byte[]> readFromJar(URI uri, String folder) throws IOException {
        String text = uri.toString();
        URI jarUri = URI.create(text.substring(0, text.indexOf("!/")));
        try (FileSystem zip = openZip(jarUri)) {
            return readTree(zip.getPath("/" + folder));
        } catch (FileSystemAlreadyExistsException e) {
            // Another caller has this jar open; read through its file system and leave it open.
            return readTree(FileSystems.getFileSystem(jarUri).getPath("/" + folder));
        }
    }

    private static FileSystem openZip(URI jarUri) throws IOException {
        return FileSystems.newFileSystem(jarUri, Map.of());
    }

    private static Map<String, byte[]> readTree(Path base) throws IOException {
        Map<String, byte[]> files = new TreeMap<>();
        if (!Files.isDirectory(base)) {
            throw new IOException(base + " is not a folder");
        }
        try (Stream<Path> paths = Files.walk(base)) {
            for (Path path : (Iterable<Path>) paths::iterator) {
                if (!Files.isRegularFile(path) || isSkipped(base.relativize(path))) {
                    continue;
                }
                String relative = base.relativize(path).toString().replace('\\', '/');
                try {
                    files.put(relative, Files.readAllBytes(path));
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
        }
        return files;
    }

    private static boolean isSkipped(Path relative) {
        for (Path part : relative) {
            String name = part.toString();
            if (SKIPPED_NAMES.contains(name) || name.endsWith(".pyc")) {
                return true;
            }
        }
        return false;
    }
}
