package io.autoresearch.probe.setup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Parameter counts from safetensors headers, config.json and model names. */
class ParameterCountTest {
    @TempDir
    Path folder;

    private static void writeHeader(Path file, String json) throws IOException {
        byte[] header = json.getBytes(StandardCharsets.UTF_8);
        ByteBuffer bytes = ByteBuffer.allocate(Long.BYTES + header.length).order(ByteOrder.LITTLE_ENDIAN);
        bytes.putLong(header.length).put(header);
        Files.write(file, bytes.array());
    }

    @Test
    void singleFileSumsEveryTensor() throws IOException {
        writeHeader(folder.resolve("model.safetensors"), "{\"__metadata__\": {\"format\": \"pt\"},"
                + " \"wte\": {\"dtype\": \"F32\", \"shape\": [204, 64], \"data_offsets\": [0, 0]},"
                + " \"ln.bias\": {\"dtype\": \"F32\", \"shape\": [64], \"data_offsets\": [0, 0]},"
                + " \"scalar\": {\"dtype\": \"F32\", \"shape\": [], \"data_offsets\": [0, 0]}}");

        assertEquals(204L * 64 + 64 + 1, ParameterCount.fromSafetensors(folder));
    }

    @Test
    void shardsListedInIndexAreSummedOnce() throws IOException {
        writeHeader(folder.resolve("model-00001-of-00002.safetensors"),
                "{\"a\": {\"dtype\": \"BF16\", \"shape\": [1000, 3000], \"data_offsets\": [0, 0]},"
                        + " \"b\": {\"dtype\": \"BF16\", \"shape\": [7], \"data_offsets\": [0, 0]}}");
        writeHeader(folder.resolve("model-00002-of-00002.safetensors"),
                "{\"c\": {\"dtype\": \"BF16\", \"shape\": [5, 5, 5], \"data_offsets\": [0, 0]}}");
        Files.writeString(folder.resolve("model.safetensors.index.json"), "{\"metadata\": {}, \"weight_map\": {"
                + "\"a\": \"model-00001-of-00002.safetensors\", \"b\": \"model-00001-of-00002.safetensors\","
                + " \"c\": \"model-00002-of-00002.safetensors\"}}");

        assertEquals(3_000_000L + 7 + 125, ParameterCount.fromSafetensors(folder));
    }

    @Test
    void missingShardGivesNoCount() throws IOException {
        Files.writeString(folder.resolve("model.safetensors.index.json"),
                "{\"weight_map\": {\"a\": \"model-00001-of-00002.safetensors\"}}");

        assertNull(ParameterCount.fromSafetensors(folder));
    }

    @Test
    void shardOutsideFolderIsIgnored() throws IOException {
        Path inner = Files.createDirectories(folder.resolve("model"));
        writeHeader(folder.resolve("outside.safetensors"),
                "{\"a\": {\"dtype\": \"F32\", \"shape\": [10], \"data_offsets\": [0, 0]}}");
        Files.writeString(inner.resolve("model.safetensors.index.json"),
                "{\"weight_map\": {\"a\": \"../outside.safetensors\"}}");

        assertNull(ParameterCount.fromSafetensors(inner));
    }

    @Test
    void headerLongerThanFileGivesNoCount() throws IOException {
        ByteBuffer bytes = ByteBuffer.allocate(Long.BYTES + 4).order(ByteOrder.LITTLE_ENDIAN);
        bytes.putLong(1_000_000L).put("{}  ".getBytes(StandardCharsets.UTF_8));
        Files.write(folder.resolve("model.safetensors"), bytes.array());

        assertNull(ParameterCount.fromSafetensors(folder));
    }

    @Test
    void headerThatIsNotJsonGivesNoCount() throws IOException {
        writeHeader(folder.resolve("model.safetensors"), "not json at all");

        assertNull(ParameterCount.fromSafetensors(folder));
    }

    @Test
    void gpt2ConfigEstimateIsNearItsSize() throws IOException {
        Path config = folder.resolve("config.json");
        Files.writeString(config, "{\"model_type\": \"gpt2\", \"n_embd\": 768, \"n_layer\": 12, \"n_head\": 12,"
                + " \"vocab_size\": 50257}");

        long estimate = ParameterCount.fromConfig(config);

        // GPT-2 small has 124,439,808 parameters; the estimate leaves out biases, norms and positions.
        assertTrue(Math.abs(estimate - 124_439_808L) < 0.02 * 124_439_808L, "estimate " + estimate);
    }

    @Test
    void configWithoutVocabularyGivesNoEstimate() throws IOException {
        Path config = folder.resolve("config.json");
        Files.writeString(config, "{\"n_embd\": 768, \"n_layer\": 12}");

        assertNull(ParameterCount.fromConfig(config));
    }

    @Test
    void sizesInNamesAreRead() {
        assertEquals(70_000_000_000L, ParameterCount.fromName("meta-llama/Llama-2-70b-hf"));
        assertEquals(7_000_000_000L, ParameterCount.fromName("mistralai/Mistral-7B-v0.1"));
        assertEquals(560_000_000L, ParameterCount.fromName("bigscience/bloom-560m"));
        assertEquals(500_000_000L, ParameterCount.fromName("Qwen/Qwen2.5-0.5B-Instruct"));
        for (String name : List.of("gpt2", "EleutherAI/pythia-deduped", "Mixtral-8x7B", "llama3b7", "bert-base")) {
            assertNull(ParameterCount.fromName(name), name);
        }
    }

    @Test
    void countsReadInWords() {
        assertEquals("8.0 billion", ParameterCount.inWords(8_030_261_248L));
        assertEquals("559 million", ParameterCount.inWords(559_214_592L));
        assertEquals("12,345", ParameterCount.inWords(12_345L));
    }
}
