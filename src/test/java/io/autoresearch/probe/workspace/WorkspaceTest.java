package io.autoresearch.probe.workspace;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoresearch.probe.support.ExitCode;
import io.autoresearch.probe.support.ProbeException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WorkspaceTest {
    @TempDir
    Path root;

    private Workspace workspace;

    @BeforeEach
    void createWorkspace() throws IOException {
        workspace = new Workspace(root, Slug.parse("lens-study"));
        Files.createDirectories(workspace.codeDir());
    }

    @Test
    void pathsFollowPluginLayout() {
        Path research = root.resolve(".research/lens-study");

        assertEquals(research.resolve("04_EXPERIMENT_PLAN.md"), workspace.experimentPlan());
        assertEquals(research.resolve("code/pyproject.toml"), workspace.pyproject());
        assertEquals(research.resolve("code/.auto-research/manifest.json"), workspace.manifest());
        assertEquals(research.resolve("code/cache/activations"), workspace.activationCacheDir());
        assertEquals(research.resolve("code/cache/events.jsonl"), workspace.eventsFile());
        assertEquals(research.resolve("code/results/probe/p1.json"), workspace.resultsFile("p1"));
    }

    @Test
    void relativePathInsideCodeResolves() {
        assertEquals(workspace.codeDir().resolve("analysis/x.py"), workspace.resolveInCode("analysis/x.py"));
        assertEquals("analysis/x.py", workspace.relativeToCode(workspace.codeDir().resolve("analysis/x.py")));
    }

    @Test
    void parentEscapeIsRejected() {
        ProbeException error = assertThrows(ProbeException.class, () -> workspace.resolveInCode("../../x.py"));

        assertEquals(ExitCode.USAGE, error.exitCode());
        assertTrue(error.getMessage().contains("'../../x.py'"), error.getMessage());
    }

    @Test
    void absolutePathIsRejected() {
        ProbeException error = assertThrows(ProbeException.class, () -> workspace.resolveInCode("/etc/passwd"));

        assertTrue(error.getMessage().contains("must be relative"), error.getMessage());
    }

    @Test
    void linkedFolderOutsideIsRejected() throws IOException {
        Path outside = Files.createDirectories(root.resolve("elsewhere"));
        Files.createSymbolicLink(workspace.codeDir().resolve("data"), outside);

        ProbeException error = assertThrows(ProbeException.class, () -> workspace.resolveInCode("data/p.jsonl"));

        assertTrue(error.getMessage().contains("outside the workspace"), error.getMessage());
    }

    @Test
    void linkedFileOutsideIsRejected() throws IOException {
        Path outside = Files.writeString(root.resolve("secret.txt"), "x");
        Files.createDirectories(workspace.codeDir().resolve("analysis"));
        Files.createSymbolicLink(workspace.codeDir().resolve("analysis/x.py"), outside);

        assertThrows(ProbeException.class, () -> workspace.resolveInCode("analysis/x.py"));
    }

    @Test
    void danglingLinkIsRejected() throws IOException {
        Files.createSymbolicLink(workspace.codeDir().resolve("results"), root.resolve("gone"));

        ProbeException error = assertThrows(ProbeException.class, () -> workspace.resolveInCode("results"));

        assertTrue(error.getMessage().contains("dangling"), error.getMessage());
    }

    @Test
    void linkInsideWorkspaceIsAccepted() throws IOException {
        Path target = Files.createDirectories(workspace.codeDir().resolve("real-data"));
        Files.createSymbolicLink(workspace.codeDir().resolve("data"), target);

        assertEquals(workspace.codeDir().resolve("data/p.jsonl"), workspace.resolveInCode("data/p.jsonl"));
    }

    @Test
    void packageNameFallsBackToSlug() {
        assertEquals("lens_study", workspace.packageName());
    }
}
