package io.autoresearch.probe.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.autoresearch.probe.process.ProcessRunner;
import io.autoresearch.probe.results.ResultsValidator;
import io.autoresearch.probe.run.FakeProject.CapturedConsole;
import io.autoresearch.probe.run.RunOutcome.CheckedResults;
import io.autoresearch.probe.setup.Backend;
import io.autoresearch.probe.support.ExitCode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** End-to-end runs with the real uv on fake projects whose scripts are plain Python. */
@Tag("uv")
class RunServiceTest {
    private static final Clock CLOCK = Clock.fixed(Instant.parse("2026-12-04T10:15:30Z"), ZoneOffset.UTC);
    private static final ResultsValidator VALIDATOR = new ResultsValidator();

    @TempDir
    Path root;

    private final CapturedConsole captured = new CapturedConsole();

    private RunService service() {
        return new RunService(FakeProject.locator(), new ProcessRunner(), VALIDATOR, captured.console, CLOCK,
                new Random(7));
    }

    private static RunRequest request(Path codeDir) {
        return new RunRequest(codeDir, true, false, Duration.ofSeconds(120));
    }

    @Test
    void backendSelectsItsProbes() throws IOException {
        Path codeDir = FakeProject.create(root, List.of("lens_a", "lens_b"));
        FakeProject.setBackend(codeDir, "lens_b", "nnsight");
        FakeProject.writeScript(codeDir, "lens_a", FakeProject.resultsScript("lens_a", ""));
        FakeProject.writeScript(codeDir, "lens_b", FakeProject.resultsScript("lens_b", ""));

        RunOutcome nnsight = service().run(new RunRequest(codeDir, true, false, Duration.ofSeconds(120),
                Backend.NNSIGHT));

        assertEquals(ExitCode.SUCCESS, nnsight.exitCode(), captured.err.toString());
        assertEquals(2, nnsight.scripts().size(), "uv sync and the nnsight script");
        assertEquals(List.of(codeDir.resolve("results/probe/lens_b.json")),
                nnsight.results().stream().map(RunOutcome.CheckedResults::file).toList());
        assertFalse(Files.exists(codeDir.resolve("results/probe/lens_a.json")));

        RunOutcome transformerLens = service().run(new RunRequest(codeDir, true, false, Duration.ofSeconds(120),
                Backend.TRANSFORMER_LENS));

        assertEquals(ExitCode.SUCCESS, transformerLens.exitCode(), captured.err.toString());
        assertEquals(List.of(codeDir.resolve("results/probe/lens_a.json")),
                transformerLens.results().stream().map(RunOutcome.CheckedResults::file).toList());
    }

    @Test
    void runWritesAndValidatesResults() throws IOException {
        Path codeDir = FakeProject.create(root, List.of("lens_a", "lens_b"));
        FakeProject.writeScript(codeDir, "lens_a", FakeProject.resultsScript("lens_a", ""));
        FakeProject.writeScript(codeDir, "lens_b", FakeProject.resultsScript("lens_b", ""));

        RunOutcome outcome = service().run(request(codeDir));

        assertEquals(ExitCode.SUCCESS, outcome.exitCode(), captured.err.toString());
        assertEquals(3, outcome.scripts().size(), "uv sync and two scripts");
        assertEquals(2, outcome.results().size());
        Path lensA = codeDir.resolve("results/probe/lens_a.json");
        Path lensB = codeDir.resolve("results/probe/lens_b.json");
        assertEquals(List.of(lensA, lensB), outcome.results().stream().map(CheckedResults::file).toList());
        assertTrue(outcome.results().stream().allMatch(CheckedResults::valid), outcome.results().toString());
        assertEquals(lensA + "\tvalid" + System.lineSeparator() + lensB + "\tvalid" + System.lineSeparator(),
                captured.out.toString());
        assertNull(outcome.failure());
    }

    @Test
    void progressLinesBecomeOneLinePerStep() throws IOException {
        Path codeDir = FakeProject.create(root, List.of("lens_a"));
        String progress = String.join("\n",
                "import json, os, sys",
                "print('@auto-research-progress ' + json.dumps({'step': 'model.loaded', 'done': 1, 'total': 2}),"
                        + " file=sys.stderr, flush=True)",
                "print('tqdm=' + os.environ.get('TQDM_DISABLE', ''), file=sys.stderr, flush=True)",
                "print('@auto-research-progress {not json', file=sys.stderr, flush=True)",
                "");
        FakeProject.writeScript(codeDir, "lens_a", progress + FakeProject.resultsScript("lens_a", ""));

        RunOutcome outcome = service().run(request(codeDir));

        String err = captured.err.toString();
        assertEquals(ExitCode.SUCCESS, outcome.exitCode(), err);
        assertTrue(err.contains("[auto-research] analysis/lens_a.py: model.loaded (1 of 2)"), err);
        assertFalse(err.contains("@auto-research-progress {\"step\""), err);
        assertTrue(err.contains("@auto-research-progress {not json"), "a malformed line is passed through: " + err);
        assertTrue(err.contains("tqdm=1"), err);
    }

    @Test
    void runSharesOneRunIdAcrossScripts() throws IOException {
        Path codeDir = FakeProject.create(root, List.of("lens_a", "lens_b"));
        FakeProject.writeScript(codeDir, "lens_a", FakeProject.resultsScript("lens_a", ""));
        FakeProject.writeScript(codeDir, "lens_b", FakeProject.resultsScript("lens_b", ""));

        RunOutcome outcome = service().run(request(codeDir));

        ObjectMapper mapper = new ObjectMapper();
        JsonNode lensA = mapper.readTree(codeDir.resolve("results/probe/lens_a.json").toFile());
        JsonNode lensB = mapper.readTree(codeDir.resolve("results/probe/lens_b.json").toFile());
        assertTrue(RunId.PATTERN.matcher(outcome.runId()).matches(), outcome.runId());
        assertTrue(outcome.runId().startsWith("20261204-101530-"), outcome.runId());
        assertEquals(outcome.runId(), lensA.at("/provenance/run_id").asText());
        assertEquals(outcome.runId(), lensB.at("/provenance/run_id").asText());
    }

    @Test
    void runStreamsOutputAndWritesLogs() throws IOException {
        Path codeDir = FakeProject.create(root, List.of("lens_a"));
        FakeProject.writeScript(codeDir, "lens_a", FakeProject.resultsScript("lens_a", ""));

        service().run(request(codeDir));

        String stderr = captured.err.toString();
        assertTrue(stderr.contains("probe lens_a starting"), stderr);
        assertTrue(stderr.contains("progress on stderr"), stderr);
        Path log = codeDir.resolve(".auto-research/logs/lens_a.log");
        List<String> logLines = Files.readAllLines(log);
        assertTrue(logLines.contains("probe lens_a starting"), logLines.toString());
        assertTrue(logLines.contains("progress on stderr"), logLines.toString());
        assertTrue(logLines.contains("probe lens_a wrote results/probe/lens_a.json"), logLines.toString());
        assertTrue(Files.isRegularFile(codeDir.resolve(".auto-research/logs/uv-sync.log")));
    }

    @Test
    void runSetsOfflineAndUnbufferedEnvironment() throws IOException {
        Path codeDir = FakeProject.create(root, List.of("lens_a"));
        FakeProject.writeScript(codeDir, "lens_a", FakeProject.resultsScript("lens_a", ""));

        service().run(request(codeDir));

        List<String> logLines = Files.readAllLines(codeDir.resolve(".auto-research/logs/lens_a.log"));
        assertTrue(logLines.contains("HF_HUB_OFFLINE=1"), logLines.toString());
        assertTrue(logLines.contains("TRANSFORMERS_OFFLINE=1"), logLines.toString());
        assertTrue(logLines.contains("PYTHONUNBUFFERED=1"), logLines.toString());
    }

    @Test
    void failingScriptGivesScriptFailedWithStderrTail() throws IOException {
        Path codeDir = FakeProject.create(root, List.of("lens_a", "lens_b"));
        FakeProject.writeScript(codeDir, "lens_a",
                "import sys\nprint('about to fail', file=sys.stderr)\nraise ValueError('layer 99 out of range')\n");
        FakeProject.writeScript(codeDir, "lens_b", FakeProject.resultsScript("lens_b", ""));

        RunOutcome outcome = service().run(request(codeDir));

        assertEquals(ExitCode.SCRIPT_FAILED, outcome.exitCode());
        assertEquals(2, outcome.scripts().size(), "uv sync and the failed script, not lens_b");
        assertTrue(outcome.failure().startsWith("analysis/lens_a.py failed with exit code 1"), outcome.failure());
        assertTrue(outcome.failure().contains("| ValueError: layer 99 out of range"), outcome.failure());
        assertTrue(outcome.failure().contains("| about to fail"), outcome.failure());
        assertTrue(outcome.failure().contains("working directory: " + codeDir), outcome.failure());
        assertTrue(outcome.failure().contains(".auto-research/logs/lens_a.log"), outcome.failure());
        assertTrue(captured.err.toString().contains("error: analysis/lens_a.py failed"), captured.err.toString());
        assertFalse(Files.exists(codeDir.resolve("results/probe/lens_b.json")), "lens_b must not run");
        assertEquals(List.of(), outcome.results());
    }

    @Test
    void scriptTimeoutGivesScriptTimedOut() throws IOException {
        Path codeDir = FakeProject.create(root, List.of("lens_a"));
        FakeProject.writeScript(codeDir, "lens_a", "import time\nprint('sleeping', flush=True)\ntime.sleep(60)\n");

        long started = System.nanoTime();
        RunOutcome outcome = service().run(new RunRequest(codeDir, true, false, Duration.ofSeconds(3)));
        Duration elapsed = Duration.ofNanos(System.nanoTime() - started);

        assertEquals(ExitCode.SCRIPT_TIMED_OUT, outcome.exitCode());
        assertTrue(outcome.failure().contains("timed out after 3.0 s"), outcome.failure());
        assertTrue(elapsed.toSeconds() < 45, "the run took " + elapsed);
    }

    @Test
    void invalidResultsGiveValidationFailed() throws IOException {
        Path codeDir = FakeProject.create(root, List.of("lens_a", "lens_b"));
        FakeProject.writeScript(codeDir, "lens_a", FakeProject.resultsScript("lens_a", ""));
        FakeProject.writeScript(codeDir, "lens_b",
                FakeProject.resultsScript("lens_b", "doc[\"ci_per_layer\"][1] = [2.0, 3.0]"));

        RunOutcome outcome = service().run(request(codeDir));

        assertEquals(ExitCode.VALIDATION_FAILED, outcome.exitCode());
        Path lensB = codeDir.resolve("results/probe/lens_b.json");
        assertTrue(captured.out.toString().contains(lensB + "\tinvalid"), captured.out.toString());
        CheckedResults invalid = outcome.results().get(1);
        assertEquals(lensB, invalid.file());
        assertEquals(1, invalid.problems().size(), invalid.problems().toString());
        assertEquals("$.ci_per_layer[1]", invalid.problems().get(0).path());
        assertEquals(ResultsValidator.RULE_VALUE_IN_INTERVAL, invalid.problems().get(0).rule());
        assertTrue(captured.err.toString().contains("results/probe/lens_b.json: $.ci_per_layer[1]"),
                captured.err.toString());
    }

    @Test
    void nanInResultsGivesValidationFailed() throws IOException {
        Path codeDir = FakeProject.create(root, List.of("lens_a"));
        FakeProject.writeScript(codeDir, "lens_a",
                FakeProject.resultsScript("lens_a", "doc[\"values_per_layer\"][0] = float(\"nan\")"));

        RunOutcome outcome = service().run(request(codeDir));

        assertEquals(ExitCode.VALIDATION_FAILED, outcome.exitCode());
        assertEquals("$.values_per_layer[0]", outcome.results().get(0).problems().get(0).path());
    }

    @Test
    void unchangedResultsAreNotValidated() throws IOException {
        Path codeDir = FakeProject.create(root, List.of("lens_a"));
        Path stale = codeDir.resolve("results/probe/old_probe.json");
        Files.writeString(stale, "{ not json");
        FakeProject.writeScript(codeDir, "lens_a", FakeProject.resultsScript("lens_a", ""));

        RunOutcome outcome = service().run(request(codeDir));

        assertEquals(ExitCode.SUCCESS, outcome.exitCode(), captured.err.toString());
        assertEquals(List.of(codeDir.resolve("results/probe/lens_a.json")),
                outcome.results().stream().map(CheckedResults::file).toList());
    }

    @Test
    void scriptWritingNothingFails() throws IOException {
        Path codeDir = FakeProject.create(root, List.of("lens_a"));
        FakeProject.writeScript(codeDir, "lens_a", "print('did nothing')\n");

        RunOutcome outcome = service().run(request(codeDir));

        assertEquals(ExitCode.SCRIPT_FAILED, outcome.exitCode());
        assertTrue(captured.err.toString().contains("did not write their results file"), captured.err.toString());
        assertTrue(captured.err.toString().contains("lens_a.json"), captured.err.toString());
    }

    @Test
    void brokenPyprojectGivesEnvironmentError() throws IOException {
        Path codeDir = FakeProject.create(root, List.of("lens_a"));
        FakeProject.writeScript(codeDir, "lens_a", FakeProject.resultsScript("lens_a", ""));
        Files.writeString(codeDir.resolve("pyproject.toml"), "[project\nname = \"broken\"\n");

        RunOutcome outcome = service().run(request(codeDir));

        assertEquals(ExitCode.ENVIRONMENT, outcome.exitCode());
        assertEquals(1, outcome.scripts().size(), "only uv sync ran");
        assertTrue(outcome.failure().startsWith("uv sync --extra attention failed with exit code"), outcome.failure());
        assertTrue(outcome.failure().contains("pyproject.toml"), outcome.failure());
    }
}
