package io.autoresearch.probe.setup;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/** Builds workspaces, models and prompts files for tests, and snapshots folder trees. */
public final class Fixtures {
    private Fixtures() {
    }

    /**
     * Writes a Hugging Face-style model folder whose config.json declares {@code nLayers} blocks,
     * with an empty pytorch_model.bin so that setup finds a weights file.
     */
    public static Path modelFolder(Path folder, int nLayers) throws IOException {
        Files.createDirectories(folder);
        Files.write(folder.resolve("pytorch_model.bin"), new byte[0]);
        Files.writeString(folder.resolve("config.json"),
                "{\"model_type\": \"gpt2\", \"n_layer\": " + nLayers + ", \"n_embd\": 64, \"n_head\": 4,"
                        + " \"n_positions\": 64}\n");
        return folder;
    }

    /** Writes a valid pairs file with two clean/corrupted pairs. */
    public static Path pairsFile(Path file) throws IOException {
        Files.createDirectories(file.toAbsolutePath().getParent());
        Files.writeString(file, String.join("\n",
                "{\"clean\": \"a b c a b\", \"corrupted\": \"a d c a b\", \"answer\": \" c\", \"wrong_answer\": \" d\"}",
                "",
                "{\"clean\": \"x y x\", \"corrupted\": \"x z x\", \"answer\": \" y\", \"wrong_answer\": \" z\","
                        + " \"note\": \"extra keys are ignored\"}") + "\n");
        return file;
    }

    /** Writes a valid labels file with {@code perClass} texts of each of the labels 0 and 1. */
    public static Path labelsFile(Path file, int perClass) throws IOException {
        Files.createDirectories(file.toAbsolutePath().getParent());
        StringBuilder lines = new StringBuilder();
        for (int i = 0; i < perClass; i++) {
            lines.append("{\"text\": \"a b c a\", \"label\": 1, \"note\": \"").append(i).append("\"}\n");
            lines.append("{\"text\": \"a b c d\", \"label\": 0}\n");
        }
        Files.writeString(file, lines.toString());
        return file;
    }

    /** Writes a valid prompts file with three prompts. */
    public static Path promptsFile(Path file) throws IOException {
        Files.createDirectories(file.toAbsolutePath().getParent());
        Files.writeString(file, String.join("\n",
                "{\"prompt\": \"a b c a b\", \"answer\": \" c\"}",
                "{\"prompt\": \"x y z x y\"}",
                "",
                "{\"prompt\": \"p q p\", \"answer\": \" q\", \"note\": \"extra keys are ignored\"}") + "\n");
        return file;
    }

    /**
     * Creates {@code <root>/.research/<slug>/code/pyproject.toml} that already declares the
     * packaged attention pins, so setup has no reason to run uv.
     */
    public static Path project(Path root, String slug, String projectName) throws IOException {
        Path code = root.resolve(".research").resolve(slug).resolve("code");
        Files.createDirectories(code.resolve("src").resolve(projectName.replace('-', '_')));
        StringBuilder pins = new StringBuilder();
        for (String pin : AttentionExtra.packagedPins()) {
            pins.append("    \"").append(pin).append("\",\n");
        }
        Files.writeString(code.resolve("pyproject.toml"), "[project]\nname = \"" + projectName + "\"\n"
                + "version = \"0.1.0\"\nrequires-python = \">=3.11\"\ndependencies = []\n\n"
                + "[project.optional-dependencies]\nattention = [\n" + pins + "]\n", StandardCharsets.UTF_8);
        return code;
    }

    /** Returns every path below {@code root} with its size and sha256, or "dir" for folders. */
    public static Map<String, String> tree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return Map.of();
        }
        try (Stream<Path> paths = Files.walk(root)) {
            return paths.collect(Collectors.toMap(
                    path -> root.relativize(path).toString(),
                    path -> Files.isDirectory(path) ? "dir" : AtomicFiles.sha256(path),
                    (first, second) -> first,
                    TreeMap::new));
        }
    }

    /** Copies the files of {@code from} into {@code to} with its subfolders, such as a trained SAE's. */
    public static void copyTree(Path from, Path to) throws IOException {
        Files.createDirectories(to);
        try (Stream<Path> files = Files.list(from)) {
            for (Path file : files.toList()) {
                Path target = to.resolve(file.getFileName().toString());
                if (Files.isDirectory(file)) {
                    copyTree(file, target);
                } else if (Files.isRegularFile(file)) {
                    Files.copy(file, target, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
    }
}
