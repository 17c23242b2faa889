package io.autoresearch.probe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.autoresearch.probe.cache.CacheFixture;
import io.autoresearch.probe.run.FakeProject;
import io.autoresearch.probe.setup.Fixtures;
import io.autoresearch.probe.support.ExitCode;
import io.autoresearch.probe.uv.UvLocator;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code --json} on every command: stdout is exactly one JSON document with the expected top-level fields. */
class JsonOutputTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String DEMO = "induction-demo";

    @TempDir
    Path root;

    /** Parses stdout as one JSON document; fails when anything else is printed there. */
    private static JsonNode document(CliRun run) throws IOException {
        JsonNode node = JSON.readTree(run.out());
        assertNotNull(node, "stdout is empty:\n" + run.out());
        assertTrue(node.isObject(), "stdout is not one JSON object:\n" + run.out());
        return node;
    }

    private static void assertFields(JsonNode node, String... fields) {
        for (String field : fields) {
            assertTrue(node.has(field), "no field " + field + " in " + node);
        }
    }

    private static void assertError(CliRun run, ExitCode code) throws IOException {
        assertEquals(code.code(), run.exitCode(), run.err());
        JsonNode node = document(run);
        assertEquals(List.of("error"), List.copyOf(iterable(node)), node.toString());
        assertEquals(code.code(), node.path("error").path("code").asInt());
        assertFalse(node.path("error").path("message").asText().isBlank(), node.toString());
        assertTrue(run.err().contains("error:"), run.err());
    }

    private static List<String> iterable(JsonNode node) {
        List<String> names = new java.util.ArrayList<>();
        node.fieldNames().forEachRemaining(names::add);
        return names;
    }

    private Path demoWorkspace() throws IOException {
        Path code = root.resolve(".research").resolve(DEMO).resolve("code");
        Path repository = Path.of("").toAbsolutePath();
        Fixtures.copyTree(repository.resolve("results").resolve("probe"), code.resolve("results").resolve("probe"));
        Fixtures.copyTree(repository.resolve("analysis"), code.resolve("analysis"));
        return code;
    }

    @Test
    void setupPrintsFilesAndScripts() throws IOException {
        Path code = Fixtures.project(root, "lens-study", "lens-study");
        Path model = Fixtures.modelFolder(root.resolve("models").resolve("tiny"), 2);
        Path prompts = Fixtures.promptsFile(root.resolve("prompts.jsonl"));
        CliRun run = CliRun.execute(new ProbeContext(Map.of("PATH", ""), root, root, CliRun.FIXED_CLOCK),
                "probe", "setup", "lens-study", "--json", "--intervention", "logit_lens", "--model", model.toString(),
                "--prompts", prompts.toString(), "--hypothesis", "formed late");

        assertEquals(0, run.exitCode(), run.err());
        JsonNode node = document(run);
        assertFields(node, "command", "exit_code", "probe_id", "hypothesis", "script", "main_script", "files");
        assertEquals("setup", node.path("command").asText());
        assertEquals("formed late", node.path("hypothesis").asText());
        assertTrue(Files.isRegularFile(Path.of(node.path("script").asText())));
        assertTrue(node.path("files").size() > 3, node.toString());
        for (JsonNode file : node.path("files")) {
            assertEquals("wrote", file.path("action").asText(), file.toString());
            assertTrue(Files.exists(code.resolve(file.path("path").asText())), file.toString());
        }
        assertFalse(run.err().contains("wrote "), "info lines are quiet under --json: " + run.err());
    }

    @Test
    void setupErrorIsJson() throws IOException {
        CliRun run = CliRun.execute(root, "probe", "setup", "no-such-study", "--json", "--intervention", "logit_lens",
                "--root", root.toString());

        assertError(run, ExitCode.USAGE);
    }

    @Test
    void usageErrorFromPicocliIsJson() throws IOException {
        assertError(CliRun.execute(root, "probe", "setup", "lens-study", "--json"), ExitCode.USAGE);
        assertError(CliRun.execute(root, "probe", "run", "--json", "--no-such-option"), ExitCode.USAGE);
        assertError(CliRun.execute(root, "probe", "demo", "--json", "--quiet", "--verbose"), ExitCode.USAGE);
    }

    @Test
    void validatePrintsEachFile() throws IOException {
        demoWorkspace();
        CliRun run = CliRun.execute(root, "probe", "validate", DEMO, "--json", "--root", root.toString());

        assertEquals(0, run.exitCode(), run.err());
        JsonNode node = document(run);
        assertFields(node, "command", "exit_code", "files", "errors");
        assertEquals(6, node.path("files").size(), node.toString());
        for (JsonNode file : node.path("files")) {
            assertFields(file, "file", "status", "problems");
            assertEquals("valid", file.path("status").asText());
        }
    }

    @Test
    void validateReportsProblemsAndMissingFiles() throws IOException {
        Path code = demoWorkspace();
        Path lens = code.resolve("results/probe/logit_lens_layers_0_to_2.json");
        Files.writeString(lens, Files.readString(lens).replace("\"n_examples\"", "\"n_examples_renamed\""));
        CliRun run = CliRun.execute(root, "probe", "validate", "--json", lens.toString(),
                root.resolve("missing.json").toString());

        assertEquals(ExitCode.USAGE.code(), run.exitCode(), run.err());
        JsonNode node = document(run);
        assertEquals(2, node.path("exit_code").asInt());
        JsonNode file = node.path("files").get(0);
        assertEquals("invalid", file.path("status").asText());
        assertFields(file.path("problems").get(0), "path", "rule", "message");
        assertEquals(1, node.path("errors").size(), node.toString());
    }

    @Test
    void reportPrintsReportsAndIndex() throws IOException {
        demoWorkspace();
        CliRun run = CliRun.execute(root, "probe", "report", DEMO, "--json", "--root", root.toString());

        assertEquals(0, run.exitCode(), run.err());
        JsonNode node = document(run);
        assertFields(node, "command", "exit_code", "reports", "invalid", "index", "page");
        assertEquals(6, node.path("reports").size(), node.toString());
        assertFields(node.path("reports").get(0), "probe_id", "file", "action");
        assertTrue(Files.isRegularFile(Path.of(node.path("index").asText())));
    }

    @Test
    void reportErrorIsJson() throws IOException {
        assertError(CliRun.execute(root, "probe", "report", "no-such-study", "--json", "--root", root.toString()),
                ExitCode.USAGE);
    }

    @Test
    void cacheCommandsPrintTheirData() throws IOException {
        CacheFixture cache = new CacheFixture(root);
        CacheFixture.Entry entry = cache.addEntry("one", "resid_pre", "model-a", Instant.parse("2026-12-01T10:00:00Z"),
                2);

        JsonNode stats = document(CliRun.execute(root, "probe", "cache", "stats", CacheFixture.SLUG, "--json"));
        assertFields(stats, "command", "exit_code", "folder", "entries", "events");

        CliRun verify = CliRun.execute(root, "probe", "cache", "verify", CacheFixture.SLUG, "--json");
        assertEquals(0, verify.exitCode(), verify.err());
        JsonNode checked = document(verify);
        assertFields(checked, "command", "exit_code", "folder", "entries", "orphans");
        assertEquals(entry.key(), checked.path("entries").get(0).path("key").asText());
        assertEquals("ok", checked.path("entries").get(0).path("status").asText());

        CliRun dryRun = CliRun.execute(root, "probe", "cache", "clear", CacheFixture.SLUG, "--all", "--dry-run",
                "--json");
        JsonNode planned = document(dryRun);
        assertFields(planned, "command", "exit_code", "folder", "dry_run", "selected", "selected_bytes", "deleted",
                "failures");
        assertTrue(planned.path("dry_run").asBoolean());
        assertEquals(0, planned.path("deleted").size());

        CliRun clear = CliRun.execute(root, "probe", "cache", "clear", CacheFixture.SLUG, "--all", "--yes", "--json");
        JsonNode cleared = document(clear);
        assertTrue(cleared.path("deleted").size() >= 1, cleared.toString());
        assertEquals("", clear.err().lines().filter(line -> line.endsWith("deleted")).findFirst().orElse(""));
    }

    @Test
    void cacheClearWithoutConfirmationIsJsonError() throws IOException {
        CacheFixture cache = new CacheFixture(root);
        cache.addEntry("one", "resid_pre", "model-a", Instant.parse("2026-12-01T10:00:00Z"), 2);

        assertError(CliRun.execute(root, "probe", "cache", "clear", CacheFixture.SLUG, "--all", "--json"),
                ExitCode.USAGE);
        assertError(CliRun.execute(root, "probe", "cache", "stats", "no-such-study", "--json"), ExitCode.USAGE);
    }

    @Test
    @Tag("uv")
    void runPrintsResultsWithStatus() throws IOException {
        Path codeDir = FakeProject.create(root, List.of("lens_a"));
        FakeProject.writeScript(codeDir, "lens_a", FakeProject.resultsScript("lens_a", ""));
        Map<String, String> environment = new HashMap<>(System.getenv());
        environment.put(UvLocator.TOOL_HOME_VARIABLE, FakeProject.TEST_TOOL_HOME.toString());
        CliRun run = CliRun.execute(new ProbeContext(environment, root, root, CliRun.FIXED_CLOCK),
                "probe", "run", "fake-study", "--json", "--root", root.toString(), "--timeout", "120");

        assertEquals(0, run.exitCode(), run.err());
        JsonNode node = document(run);
        assertFields(node, "command", "exit_code", "run_id", "results", "failure");
        JsonNode results = node.path("results").get(0);
        assertEquals(codeDir.resolve("results/probe/lens_a.json").toString(), results.path("file").asText());
        assertEquals("valid", results.path("status").asText());
        assertFalse(run.err().contains("probe lens_a starting"), "script output is quiet under --json: " + run.err());
    }
}
