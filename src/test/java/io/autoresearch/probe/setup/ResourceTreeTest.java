package io.autoresearch.probe.setup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoresearch.probe.support.ExitCode;
import io.autoresearch.probe.support.ProbeException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ResourceTreeTest {
    @TempDir
    Path folder;

    private static final Map<String, String> FILES = Map.of(
            "pkg/runtime/__init__.py", "from .a import x\n",
            "pkg/runtime/a.py", "x = 1\n",
            "pkg/runtime/sub/b.py", "y = 2\n",
            "pkg/runtime/__pycache__/a.cpython-311.pyc", "compiled",
            "pkg/other.py", "not in the tree\n");

    @Test
    void readsTreeFromJar() throws IOException {
        Path jar = folder.resolve("resources with space.jar");
        try (JarOutputStream output = new JarOutputStream(Files.newOutputStream(jar))) {
            for (String directory : List.of("pkg/", "pkg/runtime/", "pkg/runtime/sub/", "pkg/runtime/__pycache__/")) {
                output.putNextEntry(new JarEntry(directory));
                output.closeEntry();
            }
            for (Map.Entry<String, String> file : FILES.entrySet()) {
                output.putNextEntry(new JarEntry(file.getKey()));
                output.write(file.getValue().getBytes(StandardCharsets.UTF_8));
                output.closeEntry();
            }
        }

        try (URLClassLoader loader = new URLClassLoader(new URL[] {jar.toUri().toURL()}, null)) {
            assertTree(ResourceTree.read(loader, "pkg/runtime"));
            assertTree(ResourceTree.read(loader, "pkg/runtime/"));
        }
    }

    @Test
    void readsTreeFromDirectory() throws IOException {
        Path classes = folder.resolve("classes");
        for (Map.Entry<String, String> file : FILES.entrySet()) {
            Path target = classes.resolve(file.getKey());
            Files.createDirectories(target.getParent());
            try (OutputStream output = Files.newOutputStream(target)) {
                output.write(file.getValue().getBytes(StandardCharsets.UTF_8));
            }
        }

        try (URLClassLoader loader = new URLClassLoader(new URL[] {classes.toUri().toURL()}, null)) {
            assertTree(ResourceTree.read(loader, "pkg/runtime"));
        }
    }

    @Test
    void missingFolderIsTemplateError() throws IOException {
        try (URLClassLoader loader = new URLClassLoader(new URL[0], null)) {
            ProbeException error = assertThrows(ProbeException.class, () -> ResourceTree.read(loader, "no/such"));

            assertEquals(ExitCode.TEMPLATE, error.exitCode());
            assertTrue(error.getMessage().contains("'no/such'"), error.getMessage());
        }
    }

    @Test
    void packagedRuntimeIsOnClasspath() {
        Map<String, byte[]> runtime = ResourceTree.read(getClass().getClassLoader(), SetupService.RUNTIME_RESOURCE);

        assertTrue(runtime.containsKey("__init__.py"), runtime.keySet().toString());
        assertTrue(runtime.containsKey("logit_lens.py"), runtime.keySet().toString());
        assertTrue(runtime.keySet().stream().noneMatch(path -> path.contains("__pycache__")));
    }

    private static void assertTree(Map<String, byte[]> tree) {
        assertEquals(List.of("__init__.py", "a.py", "sub/b.py"), List.copyOf(tree.keySet()));
        assertArrayEquals("x = 1\n".getBytes(StandardCharsets.UTF_8), tree.get("a.py"));
        assertArrayEquals("y = 2\n".getBytes(StandardCharsets.UTF_8), tree.get("sub/b.py"));
    }
}
