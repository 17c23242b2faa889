package io.autoresearch.probe.report;

import io.autoresearch.probe.setup.Fixtures;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A research workspace {@code .research/induction-demo/} holding the demo's committed results
 * and scripts. The repository root mirrors the demo's code/ folder, so {@code results/probe/}
 * and {@code analysis/} are copied to the same places under code/ and the artifact paths in
 * the results files stay valid.
 */
final class DemoWorkspace {
    static final String SLUG = "induction-demo";
    static final Path REPOSITORY = Path.of("").toAbsolutePath();
    static final List<String> PROBES = List.of("activation_patching_layers_0_to_1",
            "attention_pattern_layers_0_to_1", "logit_lens_layers_0_to_2", "path_patching_receiver_auto",
            "probing_layers_0_to_1", "sae_feature_lookup_layer_1");

    private DemoWorkspace() {
    }

    /** Creates the workspace under {@code root} and returns its code/ folder. */
    static Path create(Path root) throws IOException {
        Path code = codeDir(root);
        Fixtures.copyTree(REPOSITORY.resolve("results").resolve("probe"), code.resolve("results").resolve("probe"));
        Fixtures.copyTree(REPOSITORY.resolve("analysis"), code.resolve("analysis"));
        // The model folder the results name, as probe demo leaves it (its files are not read here).
        Files.createDirectories(code.resolve("models").resolve("induction-demo-model"));
        return code;
    }

    static Path researchDir(Path root) {
        return root.resolve(".research").resolve(SLUG);
    }

    static Path codeDir(Path root) {
        return researchDir(root).resolve("code");
    }

    static Path resultsDir(Path root) {
        return codeDir(root).resolve("results").resolve("probe");
    }

    static Path reportsDir(Path root) {
        return researchDir(root).resolve("06_RUNS").resolve("attention");
    }

}
