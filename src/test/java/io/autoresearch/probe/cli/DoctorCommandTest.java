package io.autoresearch.probe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.autoresearch.probe.uv.UvLocator;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DoctorCommandTest {
    private static final Path DEMO_MODEL = Path.of("python", "demo", "induction-demo-model").toAbsolutePath();

    @TempDir
    Path home;

    /** Returns a context with the real PATH, so uv is found as the other commands find it, and an empty tool home. */
    private ProbeContext realPath() {
        return new ProbeContext(Map.of("PATH", System.getenv().getOrDefault("PATH", ""),
                UvLocator.TOOL_HOME_VARIABLE, System.getenv().getOrDefault(UvLocator.TOOL_HOME_VARIABLE,
                        UvLocator.defaultToolHome(System.getenv()).toString())), home, home, CliRun.FIXED_CLOCK);
    }

    private static void assertEveryLineIsACheck(String out) {
        List<String> lines = out.lines().toList();
        assertTrue(lines.size() >= 6, out);
        for (String line : lines) {
            assertTrue(line.matches("^(ok|warn|fail) [a-z][a-z ]*: .+$"), "not a check line: " + line);
        }
    }

    @Test
    void missingUvFailsWithFix() throws IOException {
        Path emptyBin = Files.createDirectories(home.resolve("empty-bin"));
        ProbeContext context = new ProbeContext(Map.of("PATH", emptyBin.toString(),
                UvLocator.TOOL_HOME_VARIABLE, home.resolve("tool-home").toString()), home, home, CliRun.FIXED_CLOCK);

        CliRun run = CliRun.execute(context, "doctor");

        assertEquals(3, run.exitCode(), run.out() + run.err());
        assertEveryLineIsACheck(run.out());
        assertTrue(run.out().contains("ok java: Java "), run.out());
        assertTrue(run.out().contains("fail uv: not found on PATH"), run.out());
        assertTrue(run.out().contains("https://docs.astral.sh/uv/"), run.out());
        assertTrue(run.out().contains("fail python: not checked, because uv is missing"), run.out());
        assertTrue(run.out().contains("ok attention extra: "), run.out());
        assertTrue(run.out().contains("warn torch: not imported without a workspace"), run.out());
        assertTrue(run.out().contains("warn model: not checked"), run.out());
    }

    @Test
    void missingModelFolderFails() {
        CliRun run = CliRun.execute(realPath(), "doctor", "--model", home.resolve("no-such-model").toString());

        assertEquals(3, run.exitCode(), run.out() + run.err());
        assertTrue(run.out().lines().anyMatch(line -> line.startsWith("fail model: ")), run.out());
    }

    @Test
    void uncachedHubIdFails() {
        CliRun run = CliRun.execute(realPath(), "doctor", "--model", "org/not-cached-model");

        assertEquals(3, run.exitCode(), run.out() + run.err());
        assertTrue(run.out().contains("fail model: "), run.out());
        assertTrue(run.out().contains("not in the local Hugging Face cache"), run.out());
    }

    @Test
    void modelWithoutWeightsFails() throws IOException {
        Path folder = Files.createDirectories(home.resolve("half-model"));
        Files.copy(DEMO_MODEL.resolve("config.json"), folder.resolve("config.json"));

        CliRun run = CliRun.execute(realPath(), "doctor", "--model", folder.toString());

        assertEquals(3, run.exitCode(), run.out() + run.err());
        String modelLine = run.out().lines().filter(line -> line.startsWith("fail model: ")).findFirst().orElse("");
        assertTrue(modelLine.contains("no weights"), run.out());
        assertTrue(modelLine.contains("tokenizer"), run.out());
    }

    @Test
    void realEnvironmentAndDemoModelPass() {
        CliRun run = CliRun.execute(realPath(), "doctor", "--model", DEMO_MODEL.toString());

        assumeTrue(run.out().contains("ok uv: "), "uv is not installed here: " + run.out());
        assumeTrue(run.out().contains("ok python: "), "Python 3.11 is not installed here: " + run.out());
        assertEquals(0, run.exitCode(), run.out() + run.err());
        assertEveryLineIsACheck(run.out());
        assertTrue(run.out().contains("ok model: local folder " + DEMO_MODEL + ", gpt2, 2 layers"), run.out());
    }

    @Test
    void workspaceWithoutVenvFails() throws IOException {
        Path code = Files.createDirectories(home.resolve(".research").resolve("doc-test").resolve("code"));
        Files.copy(Path.of("pyproject.toml"), code.resolve("pyproject.toml"));

        CliRun run = CliRun.execute(realPath(), "doctor", "--root", home.toString(), "--slug", "doc-test");

        assumeTrue(run.out().contains("ok uv: "), "uv is not installed here: " + run.out());
        assertEquals(3, run.exitCode(), run.out() + run.err());
        assertTrue(run.out().contains("ok attention extra: " + code.resolve("pyproject.toml")), run.out());
        assertTrue(run.out().contains("fail installed extra: no environment at " + code.resolve(".venv")), run.out());
        assertTrue(run.out().contains("uv sync --extra attention"), run.out());
    }

    @Test
    void workspaceWithoutExtraFails() throws IOException {
        Path code = Files.createDirectories(home.resolve(".research").resolve("doc-test").resolve("code"));
        Files.writeString(code.resolve("pyproject.toml"), "[project]\nname = \"doc-test\"\nversion = \"0.1.0\"\n");

        CliRun run = CliRun.execute(realPath(), "doctor", "--root", home.toString(), "--slug", "doc-test");

        assertEquals(3, run.exitCode(), run.out() + run.err());
        assertTrue(run.out().contains("fail attention extra: "), run.out());
        assertTrue(run.out().contains("auto-research probe setup doc-test"), run.out());
    }

    /** Imports torch in this repository's own locked environment, reached as a workspace through a link. */
    @Test
    void syncedWorkspaceReportsTorchDevice() throws IOException {
        Path project = Path.of("").toAbsolutePath();
        assumeTrue(Files.isDirectory(project.resolve(".venv")), "run uv sync --extra attention in the repository first");
        Path research = Files.createDirectories(home.resolve(".research").resolve("doc-test"));
        Files.createSymbolicLink(research.resolve("code"), project);

        CliRun run = CliRun.execute(realPath(), "doctor", "--root", home.toString(), "--slug", "doc-test");

        assumeTrue(run.out().contains("ok uv: "), "uv is not installed here: " + run.out());
        assertTrue(run.out().contains("ok installed extra: "), run.out());
        assertTrue(run.out().matches("(?s).*ok torch: torch 2\\.\\S+, device (cpu|cuda|mps).*"), run.out());
        assertEquals(0, run.exitCode(), run.out() + run.err());
    }

    @Test
    void rootWithoutSlugIsUsageError() {
        CliRun run = CliRun.execute(realPath(), "doctor", "--root", home.toString());

        assertEquals(2, run.exitCode(), run.out() + run.err());
        assertTrue(run.err().contains("--root needs --slug"), run.err());
    }

    @Test
    void oldJavaFails() {
        assertTrue(io.autoresearch.probe.doctor.DoctorTestAccess.java(11).startsWith("fail java: Java 11"));
    }
}
