package io.autoresearch.probe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.autoresearch.probe.setup.AttentionExtra;
import io.autoresearch.probe.setup.Fixtures;
import io.autoresearch.probe.uv.UvLocator;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Setup with {@code --init} against the real uv: uv init creates the project and uv add
 * declares the packaged attention pins. uv add resolves the pins, so it needs the package
 * index or a uv cache that already contains their metadata.
 */
@Tag("uv")
class UvSetupTest {
    @TempDir
    Path root;

    @Test
    void initCreatesProjectWithAttentionExtra() throws IOException {
        Map<String, String> environment = new HashMap<>(System.getenv());
        environment.put(UvLocator.TOOL_HOME_VARIABLE, root.resolve("tool-home").toString());
        assumeTrue(new UvLocator(root.resolve("tool-home"), environment).find().isPresent(),
                "uv is not on PATH; install uv to run this test");
        Path model = Fixtures.modelFolder(root.resolve("models/tiny"), 2);
        Path prompts = Fixtures.promptsFile(root.resolve("prompts.jsonl"));
        ProbeContext context = new ProbeContext(environment, root, root, CliRun.FIXED_CLOCK);
        String[] args = {"probe", "setup", "uv-study", "--intervention", "logit_lens", "--model", model.toString(),
            "--prompts", prompts.toString(), "--init", "--no-install", "--verbose", "--root", root.toString()};

        CliRun first = CliRun.execute(context, args);

        assertEquals(0, first.exitCode(), first.err());
        Path code = root.resolve(".research/uv-study/code");
        assertTrue(Files.isRegularFile(code.resolve("src/uv_study/__init__.py")), first.err());
        assertTrue(Files.isRegularFile(code.resolve("src/uv_study/probe.py")));
        assertTrue(Files.isRegularFile(code.resolve("uv.lock")));
        assertTrue(AttentionExtra.sameRequirements(AttentionExtra.packagedPins(),
                AttentionExtra.projectPins(code.resolve("pyproject.toml"))));
        assertTrue(first.err().contains(" init --package --name uv-study"), first.err());

        CliRun second = CliRun.execute(context, args);

        assertEquals(0, second.exitCode(), second.err());
        assertTrue(second.err().contains("skipping uv add"), second.err());
        assertFalse(second.err().contains(" add --optional"), second.err());
    }
}
