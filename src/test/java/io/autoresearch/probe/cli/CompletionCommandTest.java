package io.autoresearch.probe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CompletionCommandTest {
    @TempDir
    Path home;

    @Test
    void printsValidBashScript() throws IOException, InterruptedException {
        CliRun run = CliRun.execute(home, "completion");

        assertEquals(0, run.exitCode(), run.err());
        String script = run.out();
        assertTrue(script.startsWith("#!/usr/bin/env bash"), script.lines().findFirst().orElse(""));
        for (String word : new String[] {"probe", "setup", "run", "validate", "report", "doctor", "--intervention",
                "complete -F"}) {
            assertTrue(script.contains(word), "completion script does not mention " + word);
        }

        Process bash = new ProcessBuilder("bash", "-n").redirectErrorStream(true).start();
        try (OutputStream stdin = bash.getOutputStream()) {
            stdin.write(script.getBytes(StandardCharsets.UTF_8));
        }
        assertTrue(bash.waitFor(30, TimeUnit.SECONDS), "bash -n did not finish");
        String output = new String(bash.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, bash.exitValue(), "bash -n rejected the script: " + output);
    }
}
