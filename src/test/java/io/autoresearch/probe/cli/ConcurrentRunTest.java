package io.autoresearch.probe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoresearch.probe.results.ResultsValidator;
import io.autoresearch.probe.run.FakeProject;
import io.autoresearch.probe.uv.UvLocator;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two {@code probe run} processes started at the same moment on one project. The lock on
 * {@code code/.auto-research/run.lock} makes the second wait, so the two runs' scripts never
 * overlap, both succeed and the results file is whole.
 */
@Tag("uv")
class ConcurrentRunTest {
    /** A script prefix that appends its start and end to timeline.txt and sleeps 2 s in between. */
    private static final String TIMELINE = """
            import os, time
            from pathlib import Path

            def mark(what):
                with open("timeline.txt", "a", encoding="utf-8") as handle:
                    handle.write(f"{what} {os.environ['AUTO_RESEARCH_RUN_ID']}\\n")

            mark("start")
            time.sleep(2)
            mark("end")
            """;

    @TempDir
    Path root;

    @Test
    void secondRunWaitsForFirst() throws Exception {
        Path codeDir = FakeProject.create(root, List.of("lens_a"));
        FakeProject.writeScript(codeDir, "lens_a", TIMELINE + FakeProject.resultsScript("lens_a", ""));

        List<Process> runs = new ArrayList<>();
        List<Path> logs = new ArrayList<>();
        for (int index = 0; index < 2; index++) {
            Path log = root.resolve("run-" + index + ".log");
            ProcessBuilder builder = new ProcessBuilder(CliProcess.command("probe", "run", "fake-study", "--root",
                    root.toString())).redirectErrorStream(true).redirectOutput(log.toFile());
            builder.environment().put(UvLocator.TOOL_HOME_VARIABLE, FakeProject.TEST_TOOL_HOME.toString());
            logs.add(log);
            runs.add(builder.start());
        }
        try {
            for (int index = 0; index < 2; index++) {
                assertTrue(runs.get(index).waitFor(5, TimeUnit.MINUTES), "run " + index + " did not finish");
                assertEquals(0, runs.get(index).exitValue(), Files.readString(logs.get(index)));
            }
        } finally {
            runs.forEach(Process::destroyForcibly);
        }

        List<String> timeline = Files.readAllLines(codeDir.resolve("timeline.txt"), StandardCharsets.UTF_8);
        assertEquals(4, timeline.size(), timeline.toString());
        String first = timeline.get(0).split(" ")[1];
        String second = timeline.get(2).split(" ")[1];
        assertEquals(List.of("start " + first, "end " + first, "start " + second, "end " + second), timeline,
                "the two runs' scripts overlapped");
        assertNotEquals(first, second, "both lines name one run: " + timeline);

        String output = Files.readString(logs.get(0)) + Files.readString(logs.get(1));
        assertTrue(output.contains("another probe run is working in " + codeDir), output);
        assertTrue(output.contains("waiting for it to finish"), output);
        Path results = codeDir.resolve("results/probe/lens_a.json");
        assertEquals(List.of(), new ResultsValidator().validate(results, codeDir));
    }
}
