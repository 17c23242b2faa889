package io.autoresearch.probe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoresearch.probe.cache.CacheFixture;
import io.autoresearch.probe.run.FakeProject;
import io.autoresearch.probe.support.ExitCode;
import io.autoresearch.probe.uv.UvLocator;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A script that crashes, is killed with SIGKILL, or runs past {@code --timeout} while it is in
 * the middle of writing: half a results file under its temporary name, and an unfinished
 * activation-cache entry (a shard without metadata, and a temporary file). Each ends with its
 * own exit code, the earlier results file unchanged, no temporary results file, and a cache
 * that {@code probe cache verify} still passes.
 */
@Tag("uv")
class ScriptFaultTest {
    private static final String EARLIER = "{\"earlier\": \"results\"}\n";

    /** A script prefix that starts writing results and a cache entry, then writes the marker file. */
    private static final String MID_WRITE = """
            import os, sys, time
            from pathlib import Path

            Path("results/probe/.lens_a.json.half.tmp").write_text('{"probe_id": "lens_a", ', encoding="utf-8")
            cache = Path("cache/activations")
            cache.mkdir(parents=True, exist_ok=True)
            key = "e" * 64
            (cache / f"{key}.0.safetensors").write_bytes(b"first shard of an entry never committed")
            (cache / f".{key}.1.safetensors.x1y2.tmp").write_bytes(b"second shard, half")
            marker = Path(os.environ["FAULT_TEST_MARKER"])
            marker.with_suffix(".partial").write_text(str(os.getpid()), encoding="utf-8")
            os.replace(marker.with_suffix(".partial"), marker)
            """;

    @TempDir
    Path root;

    @TempDir
    Path fixtureRoot;

    private Path codeDir;
    private Path marker;
    private CacheFixture.Entry entry;

    @BeforeEach
    void createProject() throws IOException {
        codeDir = FakeProject.create(root, List.of("lens_a"));
        Files.writeString(codeDir.resolve("results/probe/lens_a.json"), EARLIER, StandardCharsets.UTF_8);
        marker = root.resolve("script-started.txt");
        // One committed cache entry from an earlier run, copied into this project.
        CacheFixture fixture = new CacheFixture(fixtureRoot);
        entry = fixture.addEntry("earlier run", "resid_pre", "models/tiny", Instant.parse("2026-12-01T10:00:00Z"), 2, 1);
        Path cache = Files.createDirectories(codeDir.resolve("cache/activations"));
        try (Stream<Path> files = Files.list(fixture.folder())) {
            for (Path file : files.toList()) {
                Files.copy(file, cache.resolve(file.getFileName().toString()), StandardCopyOption.COPY_ATTRIBUTES);
            }
        }
    }

    private CliRun run(String... extra) {
        Map<String, String> environment = new HashMap<>(System.getenv());
        environment.put(UvLocator.TOOL_HOME_VARIABLE, FakeProject.TEST_TOOL_HOME.toString());
        environment.put("FAULT_TEST_MARKER", marker.toString());
        ProbeContext context = new ProbeContext(environment, root, root, CliRun.FIXED_CLOCK);
        String[] args = Stream.concat(Stream.of("probe", "run", "fake-study", "--root", root.toString()),
                Stream.of(extra)).toArray(String[]::new);
        return CliRun.execute(context, args);
    }

    @Test
    void crashExitsFive() throws IOException {
        FakeProject.writeScript(codeDir, "lens_a", MID_WRITE + "raise RuntimeError('crashed mid-write')\n");

        CliRun run = run();

        assertEquals(ExitCode.SCRIPT_FAILED.code(), run.exitCode(), run.err());
        assertTrue(run.err().contains("analysis/lens_a.py failed with exit code 1"), run.err());
        assertTrue(run.err().contains("RuntimeError: crashed mid-write"), run.err());
        assertNothingHalfWritten();
    }

    @Test
    void killNineExitsSeven() throws Exception {
        FakeProject.writeScript(codeDir, "lens_a", MID_WRITE + "time.sleep(600)\n");

        CompletableFuture<CliRun> running = CompletableFuture.supplyAsync(this::run);
        waitForMarker(running);
        ProcessHandle script = ProcessHandle.of(Long.parseLong(Files.readString(marker).trim())).orElseThrow();
        assertTrue(script.destroyForcibly(), "SIGKILL was not sent");
        CliRun run = running.get(2, TimeUnit.MINUTES);

        assertEquals(ExitCode.SCRIPT_KILLED.code(), run.exitCode(), run.err());
        assertTrue(run.err().contains("analysis/lens_a.py was killed by signal SIGKILL (exit code 137)"), run.err());
        assertNothingHalfWritten();
    }

    @Test
    void timeoutExitsEight() throws IOException {
        FakeProject.writeScript(codeDir, "lens_a", MID_WRITE + "time.sleep(600)\n");

        CliRun run = run("--timeout", "5");

        assertEquals(ExitCode.SCRIPT_TIMED_OUT.code(), run.exitCode(), run.err());
        assertTrue(run.err().contains("analysis/lens_a.py timed out after 5.0 s and was killed"), run.err());
        assertTrue(run.err().contains("timed out after --timeout 5 s and was stopped"), run.err());
        assertNothingHalfWritten();
    }

    private void waitForMarker(CompletableFuture<CliRun> running) throws Exception {
        long deadline = System.nanoTime() + Duration.ofMinutes(3).toNanos();
        while (!Files.exists(marker)) {
            if (running.isDone()) {
                CliRun run = running.get();
                throw new AssertionError("the run ended with " + run.exitCode() + " before the script started:\n"
                        + run.err());
            }
            assertTrue(System.nanoTime() < deadline, "the script did not start within 3 minutes");
            Thread.sleep(20);
        }
    }

    /**
     * Checks that the earlier results file is unchanged, that the temporary one is gone, and that
     * the cache still verifies: the earlier entry is whole, the unfinished one only left orphans.
     */
    private void assertNothingHalfWritten() throws IOException {
        Path results = codeDir.resolve("results/probe");
        assertEquals(EARLIER, Files.readString(results.resolve("lens_a.json")), "the earlier results changed");
        try (Stream<Path> files = Files.list(results)) {
            assertEquals(List.of(results.resolve("lens_a.json")), files.toList(), "a partial results file was left");
        }

        CliRun verify = CliRun.execute(root, "probe", "cache", "verify", "fake-study", "--root", root.toString());
        assertEquals(0, verify.exitCode(), verify.out() + verify.err());
        assertTrue(verify.out().contains(entry.key() + "\tok"), verify.out());
        assertTrue(verify.out().contains("e".repeat(64) + ".0.safetensors\torphan"), verify.out());
    }
}
