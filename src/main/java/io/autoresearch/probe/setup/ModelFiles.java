package io.autoresearch.probe.setup;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * The weight files of a Hugging Face model folder, as {@code save_pretrained} writes them.
 * {@code probe doctor --model} and {@code probe setup} share this test, so both reject the
 * same folders.
 */
public final class ModelFiles {
    /** The names of single-file and sharded weights, in the messages' order. */
    public static final List<String> WEIGHT_FILES = List.of("model.safetensors", "model.safetensors.index.json",
            "pytorch_model.bin", "pytorch_model.bin.index.json");

    private ModelFiles() {
    }

    /** Returns whether {@code folder} has one of {@link #WEIGHT_FILES} or any {@code *.safetensors} file. */
    public static boolean hasWeights(Path folder) {
        return WEIGHT_FILES.stream().anyMatch(name -> Files.isRegularFile(folder.resolve(name)))
                || hasFileEndingWith(folder, ".safetensors");
    }

    private static boolean hasFileEndingWith(Path folder, String suffix) {
        try (Stream<Path> files = Files.list(folder)) {
            return files.anyMatch(file -> file.getFileName().toString().endsWith(suffix) && Files.isRegularFile(file));
        } catch (IOException e) {
            return false;
        }
    }
}
