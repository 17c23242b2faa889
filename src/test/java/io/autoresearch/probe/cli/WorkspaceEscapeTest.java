package io.autoresearch.probe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoresearch.probe.run.FakeProject;
import io.autoresearch.probe.setup.Fixtures;
import io.autoresearch.probe.support.ExitCode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Slugs, probe ids and symbolic links that try to lead a command out of
 * {@code .research/<slug>/}: each is rejected with exit code 2 and a message naming the path,
 * and nothing is written, inside the workspace or where the link points. The folder
 * {@code outside/} is the target of every link and must stay empty.
 */
class WorkspaceEscapeTest {
    @TempDir
    Path root;

    private Path outside;

    private Path outside() throws IOException {
        if (outside == null) {
            outside = Files.createDirectories(root.resolve("outside"));
        }
        return outside;
    }

    /** Runs setup of a logit-lens probe on the tiny model with the project's prompts. */
    private CliRun setup(String slug, String... extra) throws IOException {
        Path model = Fixtures.modelFolder(root.resolve("models/tiny"), 2);
        Path prompts = Fixtures.promptsFile(root.resolve("inputs/prompts.jsonl"));
        List<String> args = new ArrayList<>(List.of("probe", "setup", slug, "--intervention", "logit_lens",
                "--model", model.toString(), "--prompts", prompts.toString(), "--root", root.toString()));
        args.addAll(List.of(extra));
        return CliRun.execute(new ProbeContext(Map.of("PATH", ""), root, root, CliRun.FIXED_CLOCK),
                args.toArray(String[]::new));
    }

    private void assertRejected(CliRun run, Map<String, String> before, String message) throws IOException {
        assertEquals(ExitCode.USAGE.code(), run.exitCode(), run.err());
        assertTrue(run.err().contains(message), "expected '" + message + "' in: " + run.err());
        assertEquals("", run.out());
        assertEquals(before, Fixtures.tree(root), "something was written");
        try (Stream<Path> files = Files.list(outside())) {
            assertEquals(List.of(), files.toList(), "something was written outside");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"../outside", "/tmp/abs-slug", "lens-study/../../outside", "..", ".", "-rf",
        "lens-study/code", "lens\nstudy"})
    void setupRejectsEscapingSlug(String slug) throws IOException {
        Fixtures.project(root, "lens-study", "lens-study");
        outside();
        Fixtures.modelFolder(root.resolve("models/tiny"), 2);
        Fixtures.promptsFile(root.resolve("inputs/prompts.jsonl"));
        Map<String, String> before = Fixtures.tree(root);

        CliRun run = setup(slug);

        assertRejected(run, before, slug.startsWith("-") ? "not a valid slug" : "invalid slug");
    }

    @ParameterizedTest
    @ValueSource(strings = {"../escape", "a/b", "x/../../../outside/y", "/tmp/abs", "index", "UPPER", "a.json"})
    void setupRejectsEscapingProbeId(String probeId) throws IOException {
        Fixtures.project(root, "lens-study", "lens-study");
        outside();
        Fixtures.modelFolder(root.resolve("models/tiny"), 2);
        Fixtures.promptsFile(root.resolve("inputs/prompts.jsonl"));
        Map<String, String> before = Fixtures.tree(root);

        CliRun run = setup("lens-study", "--probe-id", probeId);

        assertRejected(run, before, "invalid --probe-id '" + probeId + "'");
    }

    @ParameterizedTest
    @ValueSource(strings = {"code", "code/data", "code/results", "code/results/probe", "code/analysis",
        "code/cache", "code/src/lens_study", "code/.auto-research"})
    void setupRejectsLinkedFolder(String linked) throws IOException {
        Path code = Fixtures.project(root, "lens-study", "lens-study");
        Path link = root.resolve(".research/lens-study").resolve(linked);
        if (linked.equals("code")) {
            // The whole project elsewhere: a pyproject.toml there, a link here.
            Files.move(code, outside().resolve("code"));
            Files.createSymbolicLink(link, outside().resolve("code"));
            outside = Files.createDirectories(root.resolve("outside-empty"));
        } else {
            deleteIfEmptyFolder(link);
            Files.createDirectories(link.getParent());
            Files.createSymbolicLink(link, outside());
        }
        Fixtures.modelFolder(root.resolve("models/tiny"), 2);
        Fixtures.promptsFile(root.resolve("inputs/prompts.jsonl"));
        Map<String, String> before = Fixtures.tree(root);

        CliRun run = setup("lens-study");

        assertRejected(run, before, "outside the workspace");
    }

    @Test
    void setupRejectsLinkedScriptFile() throws IOException {
        Path code = Fixtures.project(root, "lens-study", "lens-study");
        Path target = Files.writeString(root.resolve("elsewhere.py"), "print('not yours')\n");
        Files.createDirectories(code.resolve("analysis"));
        Files.createSymbolicLink(code.resolve("analysis/logit_lens_20261204.py"), target);
        outside();
        Fixtures.modelFolder(root.resolve("models/tiny"), 2);
        Fixtures.promptsFile(root.resolve("inputs/prompts.jsonl"));
        Map<String, String> before = Fixtures.tree(root);

        CliRun run = setup("lens-study");

        assertRejected(run, before, "outside the workspace");
        assertEquals("print('not yours')\n", Files.readString(target));
    }

    @ParameterizedTest
    @ValueSource(strings = {"code", "code/results", "code/results/probe", "code/cache", "code/cache/activations",
        "code/.auto-research/logs"})
    void runRejectsLinkedFolder(String linked) throws IOException {
        Path code = FakeProject.create(root, List.of("lens_a"));
        FakeProject.writeScript(code, "lens_a", "print('must not run')\n");
        Path link = root.resolve(".research/fake-study").resolve(linked);
        if (linked.equals("code")) {
            Files.move(code, outside().resolve("code"));
            Files.createSymbolicLink(link, outside().resolve("code"));
            outside = Files.createDirectories(root.resolve("outside-empty"));
        } else {
            deleteIfEmptyFolder(link);
            Files.createDirectories(link.getParent());
            Files.createSymbolicLink(link, outside());
        }
        Map<String, String> before = Fixtures.tree(root);

        // PATH is empty and --no-install is given: the checks come before uv is needed.
        CliRun run = CliRun.execute(new ProbeContext(Map.of("PATH", ""), root, root, CliRun.FIXED_CLOCK),
                "probe", "run", "fake-study", "--no-install", "--root", root.toString());

        assertRejected(run, before, "outside the workspace");
    }

    @ParameterizedTest
    @ValueSource(strings = {"06_RUNS", "06_RUNS/attention"})
    void reportRejectsLinkedReportsFolder(String linked) throws IOException {
        Path code = root.resolve(".research/induction-demo/code");
        copyFolder(Path.of("results/probe"), code.resolve("results/probe"));
        copyFolder(Path.of("analysis"), code.resolve("analysis"));
        Path link = root.resolve(".research/induction-demo").resolve(linked);
        Files.createDirectories(link.getParent());
        Files.createSymbolicLink(link, outside());
        Map<String, String> before = Fixtures.tree(root);

        CliRun run = CliRun.execute(root, "probe", "report", "induction-demo", "--root", root.toString());

        assertEquals(ExitCode.USAGE.code(), run.exitCode(), run.err());
        assertTrue(run.err().contains("outside the workspace"), run.err());
        try (Stream<Path> files = Files.list(outside())) {
            assertEquals(List.of(), files.toList(), "a report was written outside");
        }
        // The results were validated, but no report, index or page was written.
        assertEquals(before, Fixtures.tree(root), "something was written");
    }

    @Test
    void reportSkipsResultsWithEscapingProbeId() throws IOException {
        Path code = root.resolve(".research/induction-demo/code");
        copyFolder(Path.of("results/probe"), code.resolve("results/probe"));
        copyFolder(Path.of("analysis"), code.resolve("analysis"));
        Path lens = code.resolve("results/probe/logit_lens_layers_0_to_2.json");
        Files.writeString(lens, Files.readString(lens).replace("\"probe_id\": \"logit_lens_layers_0_to_2\"",
                "\"probe_id\": \"../../../../outside/x\""), StandardCharsets.UTF_8);
        outside();

        CliRun run = CliRun.execute(root, "probe", "report", "induction-demo", "--root", root.toString());

        assertEquals(ExitCode.VALIDATION_FAILED.code(), run.exitCode(), run.err());
        assertTrue(run.err().contains("$.probe_id"), run.err());
        try (Stream<Path> files = Files.list(outside())) {
            assertEquals(List.of(), files.toList(), "a report was written outside");
        }
        assertTrue(Files.notExists(root.resolve(".research/induction-demo/06_RUNS/attention/x.md")));
    }

    /** Deletes {@code folder}, which must contain only empty folders, so that a link can take its place. */
    private static void deleteIfEmptyFolder(Path folder) throws IOException {
        if (!Files.isDirectory(folder)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(folder)) {
            List<Path> all = paths.sorted(java.util.Comparator.reverseOrder()).toList();
            assertTrue(all.stream().allMatch(Files::isDirectory), folder + " contains files");
            for (Path path : all) {
                Files.delete(path);
            }
        }
    }

    private static void copyFolder(Path from, Path to) throws IOException {
        Files.createDirectories(to);
        try (Stream<Path> files = Files.list(from)) {
            for (Path file : files.filter(Files::isRegularFile).toList()) {
                Files.copy(file, to.resolve(file.getFileName().toString()), StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }
}
