package io.autoresearch.probe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.autoresearch.probe.setup.Fixtures;
import io.autoresearch.probe.support.ExitCode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@code probe setup --backend}, {@code --remote}, {@code --device-map} and
 * {@code --recheck-float32}: how auto chooses, what the manifest, the --json document and the
 * script record, and one clear usage error that writes nothing for each bad combination.
 */
class BackendSetupTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String SLUG = "scale-study";
    private static final String HUB_MODEL = "example-org/tiny-model";

    @TempDir
    Path root;

    private Path code;
    private Path smallModel;
    private Path largeModel;
    private Path encoder;
    private Path noWeights;
    private Path prompts;
    private Path pairs;
    private Path labels;

    @BeforeEach
    void createInputs() throws IOException {
        code = Fixtures.project(root, SLUG, SLUG);
        smallModel = Fixtures.modelFolder(root.resolve("models").resolve("tiny"), 2);
        // 2 tensors of 8 x 10^9 and 10^8 elements: 8.1 billion parameters, read from the header alone.
        largeModel = Fixtures.modelFolder(root.resolve("models").resolve("large"), 2);
        writeSafetensorsHeader(largeModel.resolve("model.safetensors"), List.of(List.of(80_000L, 100_000L),
                List.of(100_000_000L)));
        encoder = Files.createDirectories(root.resolve("models").resolve("encoder"));
        Files.write(encoder.resolve("pytorch_model.bin"), new byte[0]);
        Files.writeString(encoder.resolve("config.json"), "{\"model_type\": \"bert\", \"num_hidden_layers\": 2,"
                + " \"hidden_size\": 64, \"num_attention_heads\": 4, \"max_position_embeddings\": 64,"
                + " \"architectures\": [\"BertModel\"]}\n");
        noWeights = Fixtures.modelFolder(root.resolve("models").resolve("config-only"), 2);
        Files.delete(noWeights.resolve("pytorch_model.bin"));
        prompts = Fixtures.promptsFile(root.resolve("inputs").resolve("prompts.jsonl"));
        pairs = Fixtures.pairsFile(root.resolve("inputs").resolve("pairs.jsonl"));
        labels = Fixtures.labelsFile(root.resolve("inputs").resolve("labels.jsonl"), 5);
    }

    /** Writes a safetensors file that has only its header: an 8-byte little-endian length and the JSON. */
    static void writeSafetensorsHeader(Path file, List<List<Long>> shapes) throws IOException {
        StringBuilder header = new StringBuilder("{\"__metadata__\": {\"format\": \"pt\"}");
        for (int i = 0; i < shapes.size(); i++) {
            header.append(", \"t").append(i).append("\": {\"dtype\": \"BF16\", \"shape\": ")
                    .append(shapes.get(i)).append(", \"data_offsets\": [0, 0]}");
        }
        byte[] json = header.append('}').toString().getBytes(StandardCharsets.UTF_8);
        ByteBuffer bytes = ByteBuffer.allocate(Long.BYTES + json.length).order(ByteOrder.LITTLE_ENDIAN);
        bytes.putLong(json.length).put(json);
        Files.write(file, bytes.array());
    }

    private CliRun setup(Map<String, String> environment, String... options) {
        List<String> args = new ArrayList<>(List.of("probe", "setup", SLUG));
        List<String> optionList = List.of(options);
        args.addAll(optionList);
        if (!optionList.contains("--intervention")) {
            args.addAll(List.of("--intervention", "logit_lens"));
        }
        String intervention = "logit_lens";
        if (optionList.contains("--intervention")) {
            intervention = optionList.get(optionList.indexOf("--intervention") + 1);
        }
        switch (intervention) {
            case "logit_lens" -> args.addAll(List.of("--prompts", prompts.toString()));
            case "activation_patching", "path_patching" -> args.addAll(List.of("--pairs", pairs.toString()));
            case "probing", "sae_feature_lookup" -> args.addAll(List.of("--labels", labels.toString()));
            default -> {
            }
        }
        if (!optionList.contains("--model")) {
            args.addAll(List.of("--model", smallModel.toString()));
        }
        args.addAll(List.of("--root", root.toString()));
        Map<String, String> variables = new HashMap<>(environment);
        variables.put("PATH", System.getenv().getOrDefault("PATH", ""));
        return CliRun.execute(new ProbeContext(variables, root, root, CliRun.FIXED_CLOCK), args.toArray(String[]::new));
    }

    private CliRun setup(String... options) {
        return setup(Map.of(), options);
    }

    private JsonNode manifestProbe(String probeId) throws IOException {
        JsonNode manifest = JSON.readTree(code.resolve(".auto-research/manifest.json").toFile());
        for (JsonNode probe : manifest.path("probes")) {
            if (probe.path("probe_id").asText().equals(probeId)) {
                return probe;
            }
        }
        throw new AssertionError("probe " + probeId + " not in the manifest: " + manifest);
    }

    private String script(CliRun run) throws IOException {
        return Files.readString(Path.of(run.out().lines().findFirst().orElseThrow()));
    }

    @Test
    void autoChoosesNnsightAboveThreshold() throws IOException {
        CliRun run = setup("--model", largeModel.toString());

        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.err().contains("backend: nnsight (auto: about 8.1 billion parameters from the safetensors"
                + " headers, above the 7 billion threshold)"), run.err());
        assertEquals("nnsight", manifestProbe("logit_lens_layers_0_to_2").path("backend").asText());
        String script = script(run);
        assertTrue(script.contains("REMOTE = False\n"), script);
        assertTrue(script.contains("DEVICE_MAP = None\n"), script);
        assertTrue(script.contains("RECHECK_FLOAT32 = 0\n"), script);
        assertTrue(script.contains("backend=\"nnsight\""), script);
    }

    @Test
    void autoKeepsTransformerLensForUnknownSize() throws IOException {
        CliRun run = setup();

        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.err().contains("backend: transformer_lens (auto: the parameter count of"), run.err());
        assertTrue(run.err().contains("pass --backend nnsight for a model above 7 billion parameters"), run.err());
        assertEquals("transformer_lens", manifestProbe("logit_lens_layers_0_to_2").path("backend").asText());
        String script = script(run);
        assertFalse(script.contains("REMOTE"), script);
        assertFalse(script.contains("nnsight"), script);
    }

    @Test
    void autoEstimatesFromConfig() throws IOException {
        // Llama-2-70B's shape: the estimate must land near its 69 billion parameters.
        Path llama = Files.createDirectories(root.resolve("models").resolve("llama"));
        Files.write(llama.resolve("pytorch_model.bin"), new byte[0]);
        Files.writeString(llama.resolve("config.json"), "{\"model_type\": \"llama\", \"architectures\":"
                + " [\"LlamaForCausalLM\"], \"hidden_size\": 8192, \"num_hidden_layers\": 80, \"num_attention_heads\":"
                + " 64, \"num_key_value_heads\": 8, \"intermediate_size\": 28672, \"vocab_size\": 32000,"
                + " \"max_position_embeddings\": 4096, \"tie_word_embeddings\": false}\n");

        CliRun run = setup("--model", llama.toString(), "--layers", "0,40");

        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.err().contains("backend: nnsight (auto: about 69.0 billion parameters estimated from"
                + " config.json, above the 7 billion threshold)"), run.err());
    }

    @Test
    void autoReadsSizeFromName() throws IOException {
        Path named = Fixtures.modelFolder(root.resolve("models").resolve("Llama-2-70b-hf"), 2);

        CliRun run = setup("--model", named.toString());

        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.err().contains("about 70.0 billion parameters read from the model name"), run.err());
        assertTrue(run.err().contains("backend: nnsight"), run.err());
    }

    @Test
    void jsonDocumentCarriesBackendAndReason() throws IOException {
        CliRun run = setup("--model", largeModel.toString(), "--json");

        assertEquals(0, run.exitCode(), run.err());
        JsonNode document = JSON.readTree(run.out());
        assertEquals("nnsight", document.path("backend").asText());
        assertTrue(document.path("backend_reason").asText().startsWith("auto: about 8.1 billion parameters"),
                document.toString());
    }

    /** Puts a two-block model with hub id {@link #HUB_MODEL} into a hub cache and returns the cache's variables. */
    private Map<String, String> hubCache() throws IOException {
        Path cache = root.resolve("hub-cache");
        Fixtures.modelFolder(cache.resolve("models--example-org--tiny-model").resolve("snapshots")
                .resolve("0123abcd"), 2);
        return Map.of("HF_HUB_CACHE", cache.toString());
    }

    @Test
    void remoteWithoutKeyWarns() throws IOException {
        CliRun run = setup(hubCache(), "--remote", "--model", HUB_MODEL);

        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.err().contains("backend: nnsight (auto: --remote runs on nnsight)"), run.err());
        assertTrue(run.err().contains("NDIF_API_KEY is not set"), run.err());
        assertTrue(script(run).contains("REMOTE = True\n"), script(run));
    }

    @Test
    void remoteKeyIsNeverPrintedOrStored() throws IOException {
        String key = "ndif-test-secret-9876543210";

        Map<String, String> environment = new HashMap<>(hubCache());
        environment.put("NDIF_API_KEY", key);

        CliRun run = setup(environment, "--remote", "--model", HUB_MODEL, "--json");

        assertEquals(0, run.exitCode(), run.err());
        assertFalse(run.err().contains("NDIF_API_KEY is not set"), run.err());
        assertFalse(run.out().contains(key), "key in stdout");
        assertFalse(run.err().contains(key), "key in stderr");
        try (Stream<Path> files = Files.walk(root)) {
            for (Path file : files.filter(Files::isRegularFile).toList()) {
                String content = new String(Files.readAllBytes(file), StandardCharsets.ISO_8859_1);
                assertFalse(content.contains(key), "key in " + file);
            }
        }
    }

    @Test
    void nnsightSettingsReachTheScript() throws IOException {
        CliRun run = setup("--backend", "nnsight", "--device-map", "balanced_low_0", "--dtype", "bfloat16",
                "--recheck-float32", "8", "--intervention", "activation_patching");

        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.err().contains("backend: nnsight (--backend nnsight)"), run.err());
        String script = script(run);
        assertTrue(script.contains("DEVICE_MAP = 'balanced_low_0'\n"), script);
        assertTrue(script.contains("RECHECK_FLOAT32 = 8\n"), script);
        assertTrue(script.contains("DTYPE = 'bfloat16'\n"), script);
        assertTrue(script.contains("REMOTE = False\n"), script);
        assertEquals("nnsight", manifestProbe("activation_patching_layers_0_to_1").path("backend").asText());
    }

    @Test
    void unknownArchitectureOnlyWarns() throws IOException {
        Path custom = Files.createDirectories(root.resolve("models").resolve("custom"));
        Files.write(custom.resolve("pytorch_model.bin"), new byte[0]);
        Files.writeString(custom.resolve("config.json"), "{\"model_type\": \"custom\", \"n_layer\": 2,"
                + " \"architectures\": [\"CustomForCausalLM\"]}\n");

        CliRun run = setup("--model", custom.toString(), "--backend", "nnsight");

        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.err().contains("warning: the nnsight support does not list architecture"
                + " 'CustomForCausalLM'"), run.err());
    }

    @Test
    void knownArchitectureDoesNotWarn() {
        CliRun run = setup("--model", largeModel.toString());

        assertEquals(0, run.exitCode(), run.err());
        assertFalse(run.err().contains("does not list architecture"), run.err());
    }

    @Test
    void transformerLensOnlyInterventionStaysAndSaysSo() throws IOException {
        CliRun run = setup("--model", largeModel.toString(), "--intervention", "attention_pattern");

        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.err().contains("backend: transformer_lens (auto: attention_pattern runs on transformer_lens"
                + " only (about 8.1 billion parameters"), run.err());
        assertTrue(run.err().contains("warning: attention_pattern has no nnsight version"), run.err());
        assertEquals("transformer_lens", manifestProbe("attention_pattern_layers_0_to_1").path("backend").asText());
    }

    @Test
    void encoderStaysOnItsOwnPath() throws IOException {
        CliRun run = setup("--model", encoder.toString(), "--intervention", "probing");

        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.err().contains("encoder, which runs in Hugging Face directly"), run.err());
        assertEquals("transformer_lens", manifestProbe("probing_layers_0_to_1").path("backend").asText());
    }

    @Test
    void editedScriptKeepsItsBackend() throws IOException {
        CliRun first = setup();
        assertEquals(0, first.exitCode(), first.err());
        Path script = Path.of(first.out().lines().findFirst().orElseThrow());
        Files.writeString(script, Files.readString(script) + "# edited by a person\n");

        CliRun second = setup("--backend", "nnsight");

        assertEquals(0, second.exitCode(), second.err());
        assertTrue(second.err().contains("stays on transformer_lens instead of nnsight; pass --force"), second.err());
        assertEquals("transformer_lens", manifestProbe("logit_lens_layers_0_to_2").path("backend").asText());
        assertFalse(Files.readString(script).contains("REMOTE"), "the edited script was replaced");

        CliRun forced = setup("--backend", "nnsight", "--force");

        assertEquals(0, forced.exitCode(), forced.err());
        assertEquals("nnsight", manifestProbe("logit_lens_layers_0_to_2").path("backend").asText());
        assertTrue(Files.readString(script).contains("REMOTE = False\n"), Files.readString(script));
    }

    @Test
    void jsonReportsBackendOfKeptScript() throws IOException {
        CliRun first = setup("--backend", "nnsight");
        assertEquals(0, first.exitCode(), first.err());
        Path script = Path.of(first.out().lines().findFirst().orElseThrow());
        Files.writeString(script, Files.readString(script) + "# edited by a person\n");

        CliRun second = setup("--backend", "transformer_lens", "--json");

        assertEquals(0, second.exitCode(), second.err());
        assertEquals("nnsight", manifestProbe("logit_lens_layers_0_to_2").path("backend").asText());
        JsonNode document = JSON.readTree(second.out());
        assertEquals("nnsight", document.path("backend").asText());
        assertTrue(document.path("backend_reason").asText().contains("was kept, so the probe stays on nnsight"),
                document.toString());
    }

    @Test
    void autoKeepsAttributionOnTransformerLens() throws IOException {
        CliRun run = setup("--model", largeModel.toString(), "--intervention", "activation_patching", "--method",
                "attribution");

        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.err().contains("backend: transformer_lens (auto: activation_patching --method attribution"
                + " runs on transformer_lens only (about 8.1 billion parameters"), run.err());
        assertTrue(run.err().contains("warning: activation_patching --method attribution has no nnsight version"),
                run.err());
        assertEquals("transformer_lens", manifestProbe("activation_patching_attribution_layers_0_to_1")
                .path("backend").asText());
    }

    @Test
    void autoKeepsExactPatchingOnNnsight() throws IOException {
        CliRun run = setup("--model", largeModel.toString(), "--intervention", "activation_patching");

        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.err().contains("backend: nnsight (auto: about 8.1 billion"), run.err());
    }

    @Test
    void nominalSizeNearThresholdSuggestsNnsight() throws IOException {
        Path named = Fixtures.modelFolder(root.resolve("models").resolve("Mistral-7B-v0.1"), 2);

        CliRun run = setup("--model", named.toString());

        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.err().contains("backend: transformer_lens (auto: about 7.0 billion parameters read from the"
                + " model name"), run.err());
        assertTrue(run.err().contains("a name gives a nominal size"), run.err());
        assertTrue(run.err().contains("within 10% of the threshold, so pass --backend nnsight"), run.err());
    }

    @Test
    void smallNominalSizeDoesNotSuggestNnsight() throws IOException {
        Path named = Fixtures.modelFolder(root.resolve("models").resolve("Qwen2.5-1.5B"), 2);

        CliRun run = setup("--model", named.toString());

        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.err().contains("backend: transformer_lens (auto: about 1.5 billion"), run.err());
        assertFalse(run.err().contains("within 10%"), run.err());
    }

    @Test
    void expertsInNameAreMultiplied() throws IOException {
        Path named = Fixtures.modelFolder(root.resolve("models").resolve("Mixtral-8x7B-v0.1"), 2);

        CliRun run = setup("--model", named.toString());

        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.err().contains("backend: nnsight (auto: about 56.0 billion parameters estimated from the"
                + " mixture-of-experts size '8x7B'"), run.err());
        assertTrue(run.err().contains("(8 x 7.0 billion; the experts share their attention weights, so the real"
                + " count is lower)"), run.err());
    }

    static Stream<Arguments> badCombinations() {
        return Stream.of(
                Arguments.of("unknown backend", List.of("--backend", "pytorch"),
                        "invalid --backend 'pytorch'; use transformer_lens, nnsight or auto"),
                Arguments.of("remote with transformer_lens", List.of("--backend", "transformer_lens", "--remote"),
                        "--remote needs the nnsight backend and cannot be used with --backend transformer_lens"),
                Arguments.of("device map with transformer_lens", List.of("--backend", "transformer_lens",
                        "--device-map", "auto"), "--device-map needs the nnsight backend"),
                Arguments.of("unknown device map", List.of("--device-map", "gpu0"),
                        "invalid --device-map 'gpu0'; use one of auto, balanced, balanced_low_0, sequential"),
                Arguments.of("zero recheck", List.of("--backend", "nnsight", "--dtype", "bfloat16",
                        "--recheck-float32", "0"), "invalid --recheck-float32 0"),
                Arguments.of("recheck of float32", List.of("--backend", "nnsight", "--recheck-float32", "4"),
                        "--recheck-float32 4 re-checks a bfloat16 or float16 run in float32, but --dtype is"
                                + " 'float32'"),
                Arguments.of("recheck on transformer_lens", List.of("--dtype", "float16", "--recheck-float32", "4"),
                        "--recheck-float32 4 applies to nnsight probes only"),
                Arguments.of("nnsight attention pattern", List.of("--backend", "nnsight", "--intervention",
                        "attention_pattern"), "--backend nnsight does not implement attention_pattern: nnsight"
                                + " covers logit_lens, activation_patching, probing"),
                Arguments.of("nnsight path patching", List.of("--backend", "nnsight", "--intervention",
                        "path_patching"), "does not implement path_patching"),
                Arguments.of("nnsight sae lookup", List.of("--backend", "nnsight", "--intervention",
                        "sae_feature_lookup", "--layers", "1"), "does not implement sae_feature_lookup"),
                Arguments.of("remote path patching", List.of("--remote", "--intervention", "path_patching"),
                        "--remote needs the nnsight backend and cannot be used with path_patching"),
                Arguments.of("nnsight encoder", List.of("--backend", "nnsight", "--intervention", "probing",
                        "--model", "ENCODER"), "a bert encoder: encoders run in Hugging Face directly"),
                Arguments.of("remote encoder", List.of("--remote", "--intervention", "probing", "--model",
                        "ENCODER"), "--remote needs the nnsight backend and cannot be used with the bert encoder"),
                Arguments.of("nnsight attribution", List.of("--backend", "nnsight", "--intervention",
                        "activation_patching", "--method", "attribution"), "--backend nnsight does not implement"
                                + " --method attribution of activation_patching: attribution patching runs on"
                                + " transformer_lens only; pass --method exact"),
                Arguments.of("remote attribution", List.of("--remote", "--intervention", "activation_patching",
                        "--method", "attribution"), "--remote needs the nnsight backend and cannot be used with"
                                + " activation_patching --method attribution"),
                Arguments.of("remote local folder", List.of("--remote", "--model", "SMALL"), "--remote runs the"
                        + " model on NDIF, which serves the models it hosts by hub id, but --model is the local"
                        + " folder SMALL"),
                Arguments.of("remote local folder on nnsight", List.of("--backend", "nnsight", "--remote"),
                        "but --model is the local folder"),
                Arguments.of("remote with device map", List.of("--remote", "--device-map", "auto"),
                        "--device-map auto places a model loaded on this machine, but --remote runs the model on"
                                + " NDIF; remove --device-map or --remote"),
                Arguments.of("recheck on sae lookup", List.of("--dtype", "bfloat16", "--recheck-float32", "4",
                        "--intervention", "sae_feature_lookup", "--layers", "1"), "the check needs a probe on the"
                                + " nnsight backend, and nnsight implements only logit_lens, activation_patching,"
                                + " probing; remove --recheck-float32"),
                Arguments.of("recheck on attention pattern", List.of("--dtype", "float16", "--recheck-float32",
                        "4", "--intervention", "attention_pattern"), "nnsight implements only"),
                Arguments.of("recheck on attribution", List.of("--dtype", "float16", "--recheck-float32", "4",
                        "--intervention", "activation_patching", "--method", "attribution"),
                        "and activation_patching only with --method exact; remove --recheck-float32"),
                Arguments.of("folder without weights", List.of("--model", "NO_WEIGHTS"), "model folder"
                        + " NO_WEIGHTS has config.json but no weights (model.safetensors,"
                        + " model.safetensors.index.json, pytorch_model.bin, pytorch_model.bin.index.json, or another"
                        + " *.safetensors file)"),
                Arguments.of("recheck above n-examples", List.of("--backend", "nnsight", "--dtype", "bfloat16",
                        "--recheck-float32", "65"), "--recheck-float32 65 is larger than --n-examples 64"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badCombinations")
    void badCombinationExitsUsageAndWritesNothing(String label, List<String> options, String expected)
            throws IOException {
        String[] args = options.stream().map(option -> option.replace("ENCODER", encoder.toString())
                .replace("SMALL", smallModel.toString()).replace("NO_WEIGHTS", noWeights.toString()))
                .toArray(String[]::new);
        expected = expected.replace("SMALL", smallModel.toString()).replace("NO_WEIGHTS", noWeights.toString());
        Map<String, String> before = Fixtures.tree(root);

        CliRun run = setup(args);

        assertEquals(ExitCode.USAGE.code(), run.exitCode(), run.err());
        assertTrue(run.err().contains(expected), "expected '" + expected + "' in: " + run.err());
        assertEquals(1, run.err().strip().lines().count(), run.err());
        assertEquals("", run.out());
        assertEquals(before, Fixtures.tree(root));
    }
}
