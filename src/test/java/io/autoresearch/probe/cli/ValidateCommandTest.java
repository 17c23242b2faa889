package io.autoresearch.probe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.autoresearch.probe.support.ExitCode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code probe validate} on real files: copies of the demo's committed results and their
 * plots, placed in a research workspace under a temporary root.
 */
class ValidateCommandTest {
    private static final Path REPOSITORY = Path.of("").toAbsolutePath();
    private static final Path COMMITTED = REPOSITORY.resolve("results/probe");
    private static final String LENS = "logit_lens_layers_0_to_2";
    private static final String PATH = "path_patching_receiver_auto";
    private static final String NL = System.lineSeparator();
    private static final ObjectMapper MAPPER = new ObjectMapper();

    @TempDir
    Path root;

    private Path codeDir;
    private Path resultsDir;

    @BeforeEach
    void createWorkspace() throws IOException {
        codeDir = root.resolve(".research/study-a/code");
        resultsDir = Files.createDirectories(codeDir.resolve("results/probe"));
    }

    /** Copies a committed results file and its plot into the workspace, and returns the copied results file. */
    private Path copyCommitted(String probeId) throws IOException {
        Files.copy(COMMITTED.resolve(probeId + ".png"), resultsDir.resolve(probeId + ".png"));
        return Files.copy(COMMITTED.resolve(probeId + ".json"), resultsDir.resolve(probeId + ".json"));
    }

    /** Writes {@code document} as the results file of {@code probeId}. */
    private Path writeResults(String probeId, ObjectNode document) throws IOException {
        Path file = resultsDir.resolve(probeId + ".json");
        MAPPER.writerWithDefaultPrettyPrinter().writeValue(file.toFile(), document);
        return file;
    }

    private static ObjectNode readCommitted(String probeId) throws IOException {
        return (ObjectNode) MAPPER.readTree(COMMITTED.resolve(probeId + ".json").toFile());
    }

    private CliRun validate(String... arguments) {
        String[] args = Stream.concat(Stream.of("probe", "validate"), Stream.of(arguments)).toArray(String[]::new);
        return CliRun.execute(root, args);
    }

    @Test
    void slugValidatesEveryResultsFileAndSkipsIndex() throws IOException {
        Path lens = copyCommitted(LENS);
        Path path = copyCommitted(PATH);
        // The collation file of probe report is not a results file and would fail the schema.
        Files.writeString(resultsDir.resolve("index.json"), "{\"probes\": []}\n");

        CliRun run = validate("study-a");

        assertEquals(ExitCode.SUCCESS.code(), run.exitCode(), run.err());
        assertEquals(lens + "\tvalid" + NL + path + "\tvalid" + NL, run.out());
        assertFalse(run.err().contains("error"), run.err());
        assertTrue(run.err().contains("2 of 2 results file(s) valid"), run.err());
    }

    @Test
    void slugUsesRootOption() throws IOException {
        Path lens = copyCommitted(LENS);
        Path elsewhere = Files.createDirectories(root.resolve("elsewhere"));
        ProbeContext context = new ProbeContext(Map.of(), elsewhere, elsewhere, CliRun.FIXED_CLOCK);

        CliRun run = CliRun.execute(context, "probe", "validate", "--root", root.toString(), "study-a", "--quiet");

        assertEquals(ExitCode.SUCCESS.code(), run.exitCode(), run.err());
        assertEquals(lens + "\tvalid" + NL, run.out());
        assertEquals("", run.err());
    }

    @Test
    void filesResolveArtifactsAgainstCodeFolder() throws IOException {
        copyCommitted(LENS);
        Path path = copyCommitted(PATH);
        String relative = ".research/study-a/code/results/probe/" + LENS + ".json";

        CliRun run = validate(relative, path.toString());

        assertEquals(ExitCode.SUCCESS.code(), run.exitCode(), run.err());
        assertEquals(relative + "\tvalid" + NL + path + "\tvalid" + NL, run.out());
    }

    @Test
    void slugReportsEveryInvalidFileExitsSix() throws IOException {
        Path lens = copyCommitted(LENS);
        Files.writeString(resultsDir.resolve("broken.json"), "{\"probe_id\": \"broken\",\n");
        ObjectNode underpowered = readCommitted(PATH);
        underpowered.put("n_examples", 8);
        underpowered.withArray("components").remove(0);
        ((ObjectNode) underpowered.withArray("components").get(0)).remove("ci_95");
        Path path = writeResults(PATH, underpowered);
        Files.copy(COMMITTED.resolve(PATH + ".png"), resultsDir.resolve(PATH + ".png"));

        CliRun run = validate("study-a");

        assertEquals(ExitCode.VALIDATION_FAILED.code(), run.exitCode(), run.err());
        Path broken = resultsDir.resolve("broken.json");
        assertEquals(broken + "\tinvalid (1 problem)" + NL
                + lens + "\tvalid" + NL
                + path + "\tinvalid (2 problems)" + NL, run.out());
        assertTrue(run.err().contains(broken + ": $: not valid JSON"), run.err());
        assertTrue(run.err().contains("[json-syntax]"), run.err());
        assertTrue(run.err().contains(path + ": $.components[0]: "), run.err());
        assertTrue(run.err().contains("[schema:required]"), run.err());
        assertTrue(run.err().contains(path + ": $.n_examples: status \"result\" needs at least 64"), run.err());
        assertTrue(run.err().contains("[result-evidence]"), run.err());
        assertTrue(run.err().contains("1 of 3 results file(s) valid"), run.err());
    }

    @Test
    void filesModeReportsMixedFilesAndExitsSix() throws IOException {
        Path lens = copyCommitted(LENS);
        ObjectNode wrongId = readCommitted(LENS);
        wrongId.put("probe_id", "renamed");
        Path renamed = writeResults("other_name", wrongId);

        CliRun run = validate(renamed.toString(), lens.toString());

        assertEquals(ExitCode.VALIDATION_FAILED.code(), run.exitCode(), run.err());
        assertEquals(renamed + "\tinvalid (1 problem)" + NL + lens + "\tvalid" + NL, run.out());
        assertTrue(run.err().contains(renamed + ": $.probe_id: "), run.err());
        assertTrue(run.err().contains("[probe-id-file-name]"), run.err());
    }

    @Test
    void emptyResultsFolderIsUsageError() {
        CliRun run = validate("study-a");

        assertEquals(ExitCode.USAGE.code(), run.exitCode(), run.err());
        assertEquals("", run.out());
        assertTrue(run.err().contains("no results files in " + resultsDir), run.err());
        assertTrue(run.err().contains("auto-research probe run study-a"), run.err());
    }

    @Test
    void resultsFolderWithOnlyIndexIsUsageError() throws IOException {
        Files.writeString(resultsDir.resolve("index.json"), "{}\n");

        CliRun run = validate("study-a");

        assertEquals(ExitCode.USAGE.code(), run.exitCode(), run.err());
        assertTrue(run.err().contains("no results files in"), run.err());
    }

    @Test
    void missingResultsFolderIsUsageError() throws IOException {
        Files.delete(resultsDir);

        CliRun run = validate("study-a");

        assertEquals(ExitCode.USAGE.code(), run.exitCode(), run.err());
        assertTrue(run.err().contains("no results files in " + resultsDir), run.err());
    }

    @Test
    void missingWorkspaceIsUsageError() {
        CliRun run = validate("study-b");

        assertEquals(ExitCode.USAGE.code(), run.exitCode(), run.err());
        assertTrue(run.err().contains("research workspace not found: " + root.resolve(".research/study-b")),
                run.err());
        assertTrue(run.err().contains("--root"), run.err());
    }

    @Test
    void invalidSlugIsUsageError() {
        CliRun run = validate("Study_A");

        assertEquals(ExitCode.USAGE.code(), run.exitCode(), run.err());
        assertTrue(run.err().contains("invalid slug 'Study_A'"), run.err());
    }

    @Test
    void missingFileExitsTwoAfterCheckingOthers() throws IOException {
        Path lens = copyCommitted(LENS);

        CliRun run = validate("results/probe/absent.json", lens.toString());

        assertEquals(ExitCode.USAGE.code(), run.exitCode(), run.err());
        assertEquals(lens + "\tvalid" + NL, run.out());
        assertTrue(run.err().contains("results file not found: results/probe/absent.json ("
                + root.resolve("results/probe/absent.json") + ")"), run.err());
    }

    @Test
    void fileOutsideResultsProbeFolderIsUsageError() throws IOException {
        Path loose = Files.copy(COMMITTED.resolve(LENS + ".json"), root.resolve(LENS + ".json"));

        CliRun run = validate(loose.toString());

        assertEquals(ExitCode.USAGE.code(), run.exitCode(), run.err());
        assertEquals("", run.out());
        assertTrue(run.err().contains("is not in a results/probe/ folder"), run.err());
    }

    @Test
    void folderArgumentIsUsageError() {
        CliRun run = validate(resultsDir.toString());

        assertEquals(ExitCode.USAGE.code(), run.exitCode(), run.err());
        assertTrue(run.err().contains("is a folder"), run.err());
    }

    @Test
    void indexFileGivenAsArgumentIsSkipped() throws IOException {
        Path lens = copyCommitted(LENS);
        Path index = Files.writeString(resultsDir.resolve("index.json"), "{}\n");

        CliRun run = validate(index.toString(), lens.toString());

        assertEquals(ExitCode.SUCCESS.code(), run.exitCode(), run.err());
        assertEquals(lens + "\tvalid" + NL, run.out());
        assertTrue(run.err().contains("skipped " + index), run.err());
    }

    @Test
    void slugAndFilesTogetherAreUsageError() throws IOException {
        Path lens = copyCommitted(LENS);

        CliRun run = validate("study-a", lens.toString());

        assertEquals(ExitCode.USAGE.code(), run.exitCode(), run.err());
        assertEquals("", run.out());
        assertTrue(run.err().contains("cannot mix a slug with results files: [study-a]"), run.err());
    }

    @Test
    void twoSlugsAreUsageError() {
        CliRun run = validate("study-a", "study-b");

        assertEquals(ExitCode.USAGE.code(), run.exitCode(), run.err());
        assertTrue(run.err().contains("expected one slug but got 2"), run.err());
    }

    @Test
    void noArgumentIsUsageError() {
        CliRun run = validate();

        assertEquals(ExitCode.USAGE.code(), run.exitCode(), run.err());
        assertTrue(run.err().contains("SLUG|FILE"), run.err());
    }

    @Test
    void committedDemoResultsPassThroughTheCommand() throws IOException {
        List<String> files;
        try (Stream<Path> listing = Files.list(COMMITTED)) {
            files = listing.filter(file -> file.toString().endsWith(".json")).sorted()
                    .map(file -> REPOSITORY.relativize(file).toString()).toList();
        }
        ProbeContext context = new ProbeContext(Map.of(), root, REPOSITORY, CliRun.FIXED_CLOCK);

        CliRun run = CliRun.execute(context, Stream.concat(Stream.of("probe", "validate"), files.stream())
                .toArray(String[]::new));

        assertEquals(ExitCode.SUCCESS.code(), run.exitCode(), run.err());
        assertEquals(files.size(), run.out().lines().filter(line -> line.endsWith("\tvalid")).count(), run.out());
    }

    @Test
    void probeHelpListsValidate() {
        CliRun run = validate("--help");

        assertEquals(ExitCode.SUCCESS.code(), run.exitCode(), run.err());
        assertTrue(run.out().contains("index.json"), run.out());
        assertTrue(run.out().contains("Exit codes:"), run.out());
        CliRun probe = CliRun.execute(root, "probe", "--help");
        assertTrue(probe.out().contains("validate"), probe.out());
    }
}
