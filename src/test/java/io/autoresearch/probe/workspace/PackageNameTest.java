package io.autoresearch.probe.workspace;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoresearch.probe.support.ExitCode;
import io.autoresearch.probe.support.ProbeException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PackageNameTest {
    @TempDir
    Path folder;

    @ParameterizedTest
    @CsvSource({
        "induction-demo, induction_demo",
        "My.Project, my_project",
        "a--b__c..d, a_b_c_d",
        "Lens-Study, lens_study",
        "plain, plain"})
    void normaliseLowersAndJoinsSeparators(String projectName, String expected) {
        assertEquals(expected, PackageName.normalise(projectName));
    }

    @Test
    void keywordIsNotImportName() {
        assertFalse(PackageName.isValidImportName("import"));
        assertFalse(PackageName.isValidImportName("3d_probe"));
        assertTrue(PackageName.isValidImportName("probe_3d"));
    }

    @Test
    void resolveReadsProjectName() throws IOException {
        Path pyproject = folder.resolve("pyproject.toml");
        Files.writeString(pyproject, "# comment\n[project]\nname = \"Lens.Study-Two\"\nversion = \"0.1.0\"\n");

        assertEquals("lens_study_two", PackageName.resolve(pyproject, Slug.parse("other-slug")));
    }

    @Test
    void resolveFallsBackToSlug() throws IOException {
        assertEquals("my_slug", PackageName.resolve(folder.resolve("missing.toml"), Slug.parse("my-slug")));
        Path noName = folder.resolve("pyproject.toml");
        Files.writeString(noName, "[tool.uv]\npackage = true\n");
        assertEquals("my_slug", PackageName.resolve(noName, Slug.parse("my-slug")));
    }

    @Test
    void projectNameStartingWithDigitIsRejected() throws IOException {
        Path pyproject = folder.resolve("pyproject.toml");
        Files.writeString(pyproject, "[project]\nname = \"3d-probe\"\n");

        ProbeException error = assertThrows(ProbeException.class,
                () -> PackageName.resolve(pyproject, Slug.parse("my-slug")));

        assertEquals(ExitCode.USAGE, error.exitCode());
        assertTrue(error.getMessage().contains("'3d-probe'"), error.getMessage());
    }

    @Test
    void invalidTomlIsUsageError() throws IOException {
        Path pyproject = folder.resolve("pyproject.toml");
        Files.writeString(pyproject, "[project\nname = \n");

        ProbeException error = assertThrows(ProbeException.class,
                () -> PackageName.resolve(pyproject, Slug.parse("my-slug")));

        assertEquals(ExitCode.USAGE, error.exitCode());
        assertTrue(error.getMessage().contains(pyproject.toString()), error.getMessage());
    }
}
