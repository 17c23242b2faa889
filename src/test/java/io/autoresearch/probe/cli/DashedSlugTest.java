package io.autoresearch.probe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoresearch.probe.support.ExitCode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Slugs that start with '-'. picocli reads them as unknown options, so the error names the
 * argument and the slug rule instead of reporting only that SLUG is missing.
 */
class DashedSlugTest {
    @TempDir
    Path root;

    @ParameterizedTest
    @ValueSource(strings = {"run", "setup --intervention logit_lens", "report", "cache verify", "cache stats"})
    void dashedSlugIsNamed(String command) throws Exception {
        List<String> args = new ArrayList<>(List.of("probe"));
        args.addAll(List.of(command.split(" ")));
        args.addAll(List.of("-my-study", "--root", root.toString()));

        CliRun run = CliRun.execute(root, args.toArray(String[]::new));

        assertEquals(ExitCode.USAGE.code(), run.exitCode(), run.err());
        assertTrue(run.err().contains("error: '-my-study' is not an option of auto-research probe "
                + command.split(" --")[0] + ", and not a valid slug: a slug must start with a lower-case letter"),
                run.err());
        assertTrue(run.err().contains("^[a-z][a-z0-9-]{2,48}$"), run.err());
        assertFalse(run.err().contains("Missing required parameter"), run.err());
        try (var files = Files.list(root)) {
            assertEquals(List.of(), files.toList(), "something was written");
        }
    }

    @Test
    void optionValueStartingWithDashIsNotSlug() {
        CliRun run = CliRun.execute(root, "probe", "setup", "--hypothesis", "-x", "--intervention", "logit_lens");

        assertEquals(ExitCode.USAGE.code(), run.exitCode(), run.err());
        assertTrue(run.err().contains("Missing required parameter: 'SLUG'"), run.err());
    }

    @Test
    void clusteredShortOptionsAreNotSlug() {
        CliRun run = CliRun.execute(root, "probe", "run", "-qv");

        assertEquals(ExitCode.USAGE.code(), run.exitCode(), run.err());
        assertTrue(run.err().contains("Missing required parameter: 'SLUG'"), run.err());
    }

    @Test
    void slugAfterDoubleDashGetsSlugRule() {
        CliRun run = CliRun.execute(root, "probe", "run", "--root", root.toString(), "--", "-my-study");

        assertEquals(ExitCode.USAGE.code(), run.exitCode(), run.err());
        assertTrue(run.err().contains("invalid slug '-my-study': it must start with a lower-case letter"), run.err());
    }
}
