package io.autoresearch.probe.setup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoresearch.probe.support.ExitCode;
import io.autoresearch.probe.support.ProbeException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ModelResolverTest {
    @TempDir
    Path home;

    private ModelResolver resolver(Map<String, String> environment) {
        return new ModelResolver(environment, home, home);
    }

    @Test
    void localFolderReadsLayerCount() throws IOException {
        Path folder = Fixtures.modelFolder(home.resolve("tiny"), 2);

        ResolvedModel model = resolver(Map.of()).resolve(folder.toString(), false);

        assertTrue(model.isLocal());
        assertEquals(folder, model.localFolder());
        assertEquals(2, model.nLayers());
    }

    @Test
    void relativeFolderResolvesAgainstWorkingDirectory() throws IOException {
        Fixtures.modelFolder(home.resolve("models/tiny"), 3);

        ResolvedModel model = resolver(Map.of()).resolve("models/tiny", false);

        assertEquals(home.resolve("models/tiny"), model.localFolder());
    }

    @Test
    void missingFolderIsRejected() {
        ProbeException error = assertThrows(ProbeException.class,
                () -> resolver(Map.of()).resolve("./models/none", false));

        assertEquals(ExitCode.USAGE, error.exitCode());
        assertTrue(error.getMessage().contains("model path './models/none' does not exist"), error.getMessage());
    }

    @Test
    void folderWithoutConfigIsRejected() throws IOException {
        Files.createDirectories(home.resolve("empty-model"));

        ProbeException error = assertThrows(ProbeException.class,
                () -> resolver(Map.of()).resolve(home.resolve("empty-model").toString(), false));

        assertTrue(error.getMessage().contains("has no config.json"), error.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"n_layer", "num_hidden_layers", "n_layers"})
    void layerCountKeyIsRead(String key) throws IOException {
        Path folder = Files.createDirectories(home.resolve("m"));
        Files.writeString(folder.resolve("config.json"), "{\"" + key + "\": 6}");

        assertEquals(6, resolver(Map.of()).resolve(folder.toString(), false).nLayers());
    }

    @Test
    void nestedTextConfigIsRead() throws IOException {
        Path folder = Files.createDirectories(home.resolve("m"));
        Files.writeString(folder.resolve("config.json"), "{\"text_config\": {\"num_hidden_layers\": 7}}");

        assertEquals(7, resolver(Map.of()).resolve(folder.toString(), false).nLayers());
    }

    @Test
    void configWithoutLayerCountIsRejected() throws IOException {
        Path folder = Files.createDirectories(home.resolve("m"));
        Files.writeString(folder.resolve("config.json"), "{\"hidden_size\": 8}");

        ProbeException error = assertThrows(ProbeException.class,
                () -> resolver(Map.of()).resolve(folder.toString(), false));

        assertTrue(error.getMessage().contains("n_layer, num_hidden_layers, n_layers"), error.getMessage());
    }

    @Test
    void hubIdFoundInHubCache() throws IOException {
        Path cache = home.resolve("hub-cache");
        Fixtures.modelFolder(cache.resolve("models--org--name/snapshots/rev1"), 12);

        ResolvedModel model = resolver(Map.of("HF_HUB_CACHE", cache.toString())).resolve("org/name", false);

        assertFalse(model.isLocal());
        assertEquals("org/name", model.hubId());
        assertEquals(12, model.nLayers());
    }

    @Test
    void hubIdFoundUnderHfHome() throws IOException {
        Path hfHome = home.resolve("hf-home");
        Fixtures.modelFolder(hfHome.resolve("hub/models--gpt2/snapshots/rev1"), 12);

        assertEquals(12, resolver(Map.of("HF_HOME", hfHome.toString())).resolve("gpt2", false).nLayers());
    }

    @Test
    void hubIdFoundInDefaultCache() throws IOException {
        Fixtures.modelFolder(home.resolve(".cache/huggingface/hub/models--org--name/snapshots/rev1"), 5);

        assertEquals(5, resolver(Map.of()).resolve("org/name", false).nLayers());
    }

    @Test
    void hubCachePrecedence() {
        assertEquals(Path.of("/a"), resolver(Map.of("HF_HUB_CACHE", "/a", "HF_HOME", "/b")).hubCache());
        assertEquals(Path.of("/b/hub"), resolver(Map.of("HF_HOME", "/b", "XDG_CACHE_HOME", "/c")).hubCache());
        assertEquals(Path.of("/c/huggingface/hub"), resolver(Map.of("XDG_CACHE_HOME", "/c")).hubCache());
        assertEquals(home.resolve(".cache/huggingface/hub"), resolver(Map.of()).hubCache());
    }

    @Test
    void uncachedHubIdIsRejectedWithSimilarNames() throws IOException {
        Path cache = home.resolve("hub-cache");
        Fixtures.modelFolder(cache.resolve("models--openai-community--gpt2/snapshots/rev1"), 12);

        ProbeException error = assertThrows(ProbeException.class,
                () -> resolver(Map.of("HF_HUB_CACHE", cache.toString())).resolve("gpt2", false));

        assertEquals(ExitCode.USAGE, error.exitCode());
        assertTrue(error.getMessage().contains("model 'gpt2' is not in the local Hugging Face cache"),
                error.getMessage());
        assertTrue(error.getMessage().contains("cached: openai-community/gpt2"), error.getMessage());
        assertTrue(error.getMessage().contains("--allow-download"), error.getMessage());
    }

    @Test
    void uncachedPathLikeIdNamesTheWorkingDirectory() {
        ProbeException error = assertThrows(ProbeException.class,
                () -> resolver(Map.of()).resolve("models/induction-demo-model", false));

        assertEquals(ExitCode.USAGE, error.exitCode());
        assertTrue(error.getMessage().contains("no folder 'models/induction-demo-model' exists under " + home),
                error.getMessage());
    }

    @Test
    void uncachedPlainIdDoesNotMentionFolders() {
        ProbeException error = assertThrows(ProbeException.class, () -> resolver(Map.of()).resolve("gpt2", false));

        assertFalse(error.getMessage().contains("no folder"), error.getMessage());
    }

    @Test
    void allowDownloadAcceptsUncachedHubId() {
        ResolvedModel model = resolver(Map.of()).resolve("org/remote", true);

        assertEquals("org/remote", model.hubId());
        assertNull(model.nLayers());
    }

    @Test
    void malformedHubIdIsRejected() {
        ProbeException error = assertThrows(ProbeException.class,
                () -> resolver(Map.of()).resolve("org/name/extra", true));

        assertTrue(error.getMessage().contains("invalid --model 'org/name/extra'"), error.getMessage());
    }
}
