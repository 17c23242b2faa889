package io.autoresearch.probe.results;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Validates the demo's results files committed under {@code results/probe/}. Their artifact
 * paths are relative to the demo's code/ folder, which the repository root mirrors.
 */
class CommittedResultsTest {
    private static final Path REPOSITORY = Path.of("").toAbsolutePath();

    @Test
    void committedResultsPassValidation() throws IOException {
        List<Path> files;
        try (Stream<Path> listing = Files.list(REPOSITORY.resolve("results").resolve("probe"))) {
            files = listing.filter(path -> path.toString().endsWith(".json")).sorted().toList();
        }
        assertFalse(files.isEmpty(), "results/probe/ holds no results file");

        ResultsValidator validator = new ResultsValidator();
        for (Path file : files) {
            assertEquals(List.of(), validator.validate(file, REPOSITORY), "problems in " + file);
        }
    }
}
