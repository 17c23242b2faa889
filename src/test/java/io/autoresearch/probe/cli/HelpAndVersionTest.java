package io.autoresearch.probe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoresearch.probe.setup.ToolVersion;
import io.autoresearch.probe.support.ExitCode;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class HelpAndVersionTest {
    @TempDir
    Path home;

    @ParameterizedTest
    @ValueSource(strings = {"", "probe", "probe setup", "probe demo", "doctor", "completion"})
    void helpShowsExitCodeTable(String command) {
        String[] args = (command + " --help").trim().split(" ");
        CliRun run = CliRun.execute(home, args);

        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.out().contains("Exit codes:"), run.out());
        for (ExitCode exitCode : ExitCode.values()) {
            assertTrue(run.out().contains(String.format("%3d  %s", exitCode.code(), exitCode.meaning())),
                    "missing row for " + exitCode + " in:\n" + run.out());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "probe", "probe setup", "probe demo", "doctor", "completion"})
    void versionPrintsToolVersion(String command) {
        String[] args = (command + " --version").trim().split(" ");
        CliRun run = CliRun.execute(home, args);

        assertEquals(0, run.exitCode(), run.err());
        assertEquals("auto-research " + ToolVersion.current(), run.out().trim());
        assertTrue(ToolVersion.current().matches("\\d+\\.\\d+\\.\\d+.*"), ToolVersion.current());
    }

    @Test
    void unknownOptionIsUsageErrorWithHint() {
        CliRun run = CliRun.execute(home, "probe", "setup", "demo-slug", "--intervention", "logit_lens", "--colour");

        assertEquals(ExitCode.USAGE.code(), run.exitCode());
        assertTrue(run.err().contains("--colour"), run.err());
        assertTrue(run.err().contains("Try 'auto-research probe setup --help'"), run.err());
        assertEquals("", run.out());
    }

    @Test
    void missingSubcommandIsUsageError() {
        CliRun run = CliRun.execute(home, "probe");

        assertEquals(ExitCode.USAGE.code(), run.exitCode());
        assertTrue(run.err().contains("missing subcommand"), run.err());
    }

    @Test
    void quietWithVerboseIsUsageError() {
        CliRun run = CliRun.execute(home, "probe", "setup", "abc", "--intervention", "logit_lens", "--quiet",
                "--verbose", "--root", home.toString());

        assertEquals(ExitCode.USAGE.code(), run.exitCode());
        assertTrue(run.err().contains("--quiet and --verbose"), run.err());
    }

    @Test
    void probeErrorPrintsOneLineWithoutStackTrace() {
        CliRun run = CliRun.execute(home, "probe", "setup", "Bad", "--intervention", "logit_lens",
                "--root", home.toString());

        assertEquals(ExitCode.USAGE.code(), run.exitCode());
        assertEquals(1, run.err().strip().lines().count(), run.err());
        assertTrue(run.err().startsWith("[auto-research] error: invalid slug 'Bad'"), run.err());
        assertFalse(run.err().contains("at io.autoresearch"), run.err());
    }

    @Test
    void verbosePrintsStackTraceOfError() {
        CliRun run = CliRun.execute(home, "probe", "setup", "Bad", "--intervention", "logit_lens",
                "--root", home.toString(), "--verbose");

        assertEquals(ExitCode.USAGE.code(), run.exitCode());
        assertTrue(run.err().contains("at io.autoresearch.probe.workspace.Slug"), run.err());
    }
}
