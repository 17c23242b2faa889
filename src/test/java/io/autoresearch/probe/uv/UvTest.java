package io.autoresearch.probe.uv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.autoresearch.probe.process.CommandSpec;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class UvTest {
    private static final Path UV = Path.of("/opt/tools/uv");
    private static final Path CODE = Path.of("/work/research/.research/my-probe/code");

    private final Uv uv = new Uv(UV, Map.of("UV_NO_PROGRESS", "1"));

    @Test
    void initCreatesPackagedProjectFromParentFolder() {
        CommandSpec spec = uv.init(CODE, "my_probe");

        assertEquals(List.of("/opt/tools/uv", "init", "--package", "--name", "my_probe", "--python", "3.11",
                "--vcs", "none", "--no-workspace", "--author-from", "none", CODE.toString()), spec.command());
        assertEquals(CODE.getParent(), spec.workingDirectory());
    }

    @Test
    void addOptionalKeepsEachRequirementOneArgument() {
        CommandSpec spec = uv.addOptional(CODE, "attention",
                List.of("torch==2.15.0", "transformer-lens==3.5.1", "numpy>=2,<3"));

        assertEquals(List.of("/opt/tools/uv", "add", "--optional", "attention", "--no-sync",
                "torch==2.15.0", "transformer-lens==3.5.1", "numpy>=2,<3"), spec.command());
        assertEquals(CODE, spec.workingDirectory());
    }

    @Test
    void addOptionalRejectsEmptyRequirements() {
        assertThrows(IllegalArgumentException.class, () -> uv.addOptional(CODE, "attention", List.of()));
    }

    @Test
    void syncInstallsExtraInCodeFolder() {
        CommandSpec spec = uv.sync(CODE, "attention");

        assertEquals(List.of("/opt/tools/uv", "sync", "--extra", "attention"), spec.command());
        assertEquals(CODE, spec.workingDirectory());
        assertNull(spec.timeout());
    }

    @Test
    void runPythonRunsScriptWithExtra() {
        CommandSpec spec = uv.runPython(CODE, "attention", Path.of("analysis/logit_lens_20261204.py"));

        assertEquals(List.of("/opt/tools/uv", "run", "--extra", "attention", "python",
                "analysis/logit_lens_20261204.py"), spec.command());
        assertEquals(CODE, spec.workingDirectory());
    }

    @Test
    void commandsCarryConfiguredEnvironment() {
        assertEquals(Map.of("UV_NO_PROGRESS", "1"), uv.sync(CODE, "attention").environment());
        assertEquals(Map.of("UV_NO_PROGRESS", "1"), uv.init(CODE, "my_probe").environment());
    }

    @Test
    void displayQuotesArgumentsWithSpaces() {
        CommandSpec spec = uv.runPython(CODE, "attention", Path.of("analysis/my probe.py"));

        assertEquals("/opt/tools/uv run --extra attention python 'analysis/my probe.py'", spec.display());
    }
}
