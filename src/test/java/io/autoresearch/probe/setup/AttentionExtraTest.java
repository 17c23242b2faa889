package io.autoresearch.probe.setup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AttentionExtraTest {
    @TempDir
    Path folder;

    @Test
    void packagedPinsMatchRepositoryPyproject() {
        List<String> repositoryPins = AttentionExtra.projectPins(Path.of("pyproject.toml"));

        assertEquals(repositoryPins, AttentionExtra.packagedPins());
        assertTrue(AttentionExtra.packagedPins().stream().anyMatch(pin -> pin.startsWith("transformer-lens")));
    }

    @Test
    void sameRequirementsIgnoresOrderSpaceAndCase() {
        assertTrue(AttentionExtra.sameRequirements(List.of("torch==2.15.0", "einops>=0.8,<0.9"),
                List.of("einops >= 0.8, < 0.9", "Torch==2.15.0")));
    }

    @Test
    void differentRequirementsAreNotSame() {
        assertFalse(AttentionExtra.sameRequirements(List.of("torch==2.15.0"), List.of("torch==2.14.0")));
        assertFalse(AttentionExtra.sameRequirements(List.of("torch==2.15.0"), List.of("torch==2.15.0", "einops")));
        assertFalse(AttentionExtra.sameRequirements(List.of("torch==2.15.0"), null));
    }

    @Test
    void projectWithoutExtraReturnsNull() throws IOException {
        Path pyproject = Files.writeString(folder.resolve("pyproject.toml"), "[project]\nname = \"x\"\n");

        assertNull(AttentionExtra.projectPins(pyproject));
        assertNull(AttentionExtra.projectPins(folder.resolve("missing.toml")));
    }
}
