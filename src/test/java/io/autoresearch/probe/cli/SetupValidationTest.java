package io.autoresearch.probe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoresearch.probe.setup.Fixtures;
import io.autoresearch.probe.support.ExitCode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
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
 * Each bad input: exit code USAGE, a message naming the value, and a workspace left exactly as
 * it was (the tree under the root is compared before and after).
 */
class SetupValidationTest {
    @TempDir
    Path root;

    private Path model;
    private Path prompts;

    @BeforeEach
    void createInputs() throws IOException {
        Fixtures.project(root, "lens-study", "lens-study");
        model = Fixtures.modelFolder(root.resolve("models").resolve("tiny"), 2);
        prompts = Fixtures.promptsFile(root.resolve("inputs").resolve("prompts.jsonl"));
    }

    static Stream<Arguments> badInputs() {
        return Stream.of(
                Arguments.of("slug with parent path", List.of("../x"), "'../x'"),
                Arguments.of("slug upper case", List.of("A"), "'A'"),
                Arguments.of("slug of 60 characters", List.of("a".repeat(60)), "60 characters"),
                Arguments.of("unknown intervention", List.of("lens-study", "--intervention", "lens"),
                        "unknown intervention 'lens'"),
                Arguments.of("probing without labels", List.of("lens-study", "--intervention", "probing"),
                        "missing --labels"),
                Arguments.of("missing workspace without init", List.of("other-study"), "pass --init"),
                Arguments.of("slug ending in hyphen with init", List.of("new-study-", "--init"),
                        "slug 'new-study-' cannot name a new uv project"),
                Arguments.of("model path missing", List.of("lens-study", "--model", "./no/such/model"),
                        "model path './no/such/model' does not exist"),
                Arguments.of("hub id not cached", List.of("lens-study", "--model", "org/not-cached"),
                        "model 'org/not-cached' is not in the local Hugging Face cache"),
                Arguments.of("layer above final stream", List.of("lens-study", "--layers", "0,3"),
                        "layer 3 is out of range"),
                Arguments.of("layer spec malformed", List.of("lens-study", "--layers", "0-x"),
                        "invalid --layers '0-x'"),
                Arguments.of("layer range backwards", List.of("lens-study", "--layers", "2-0"),
                        "range '2-0' runs backwards"),
                Arguments.of("prompts invalid JSON", List.of("lens-study", "--prompts", "BAD_JSON"), "line 2"),
                Arguments.of("prompts missing prompt key", List.of("lens-study", "--prompts", "NO_PROMPT"),
                        "line 1: missing key \"prompt\""),
                Arguments.of("prompts file missing", List.of("lens-study", "--prompts", "/no/such/prompts.jsonl"),
                        "'/no/such/prompts.jsonl' does not exist"),
                Arguments.of("probe id index", List.of("lens-study", "--probe-id", "index"),
                        "invalid --probe-id 'index'"),
                Arguments.of("probe id with upper case", List.of("lens-study", "--probe-id", "Lens"),
                        "invalid --probe-id 'Lens'"),
                Arguments.of("zero examples", List.of("lens-study", "--n-examples", "0"), "invalid --n-examples 0"),
                Arguments.of("seeds not integers", List.of("lens-study", "--seeds", "0,one"), "'one'"),
                Arguments.of("seeds repeated", List.of("lens-study", "--seeds", "1,1"), "seed 1 appears twice"),
                Arguments.of("dtype unknown", List.of("lens-study", "--dtype", "float8"), "invalid --dtype 'float8'"),
                Arguments.of("hypothesis blank", List.of("lens-study", "--hypothesis", " "), "empty --hypothesis"),
                Arguments.of("prompts given to patching", List.of("lens-study", "--intervention", "activation_patching",
                        "--prompts", "PROMPTS"), "--prompts does not apply to activation_patching"),
                Arguments.of("pairs given to the lens", List.of("lens-study", "--pairs", "PAIRS_OK"),
                        "--pairs applies to activation_patching and path_patching only"),
                Arguments.of("receiver given to the lens", List.of("lens-study", "--receiver", "L1H0"),
                        "--receiver applies to path_patching only"),
                Arguments.of("seq-len given to patching", List.of("lens-study", "--intervention", "activation_patching",
                        "--pairs", "PAIRS_OK", "--seq-len", "5"), "--seq-len applies to attention_pattern only"),
                Arguments.of("pairs missing", List.of("lens-study", "--intervention", "path_patching"),
                        "missing --pairs"),
                Arguments.of("pairs key missing", List.of("lens-study", "--intervention", "activation_patching",
                        "--pairs", "PAIRS_NO_WRONG"), "line 1: missing key \"wrong_answer\""),
                Arguments.of("pairs with equal answers", List.of("lens-study", "--intervention", "activation_patching",
                        "--pairs", "PAIRS_SAME"), "line 4: \"answer\" and \"wrong_answer\" are both \" c\""),
                Arguments.of("block layer out of range", List.of("lens-study", "--intervention", "activation_patching",
                        "--pairs", "PAIRS_OK", "--layers", "2"), "valid blocks are 0-1"),
                Arguments.of("receiver malformed", List.of("lens-study", "--intervention", "path_patching",
                        "--pairs", "PAIRS_OK", "--receiver", "head3"), "invalid --receiver 'head3'"),
                Arguments.of("receiver in layer 0", List.of("lens-study", "--intervention", "path_patching",
                        "--pairs", "PAIRS_OK", "--receiver", "L0H1"), "has no sender heads"),
                Arguments.of("receiver layer too high", List.of("lens-study", "--intervention", "path_patching",
                        "--pairs", "PAIRS_OK", "--receiver", "L2H0"), "must be in 1-1"),
                Arguments.of("receiver head too high", List.of("lens-study", "--intervention", "path_patching",
                        "--pairs", "PAIRS_OK", "--receiver", "L1H4"), "the head must be in 0-3"),
                Arguments.of("path layers without a sender", List.of("lens-study", "--intervention", "path_patching",
                        "--pairs", "PAIRS_OK", "--receiver", "L1H0", "--layers", "1"), "none is below layer 1"),
                Arguments.of("path auto with one layer", List.of("lens-study", "--intervention", "path_patching",
                        "--pairs", "PAIRS_OK", "--layers", "1"), "choose at least two layers"),
                Arguments.of("seq-len too short", List.of("lens-study", "--intervention", "attention_pattern",
                        "--seq-len", "1"), "invalid --seq-len 1"),
                Arguments.of("seq-len beyond context", List.of("lens-study", "--intervention", "attention_pattern",
                        "--seq-len", "32"), "use at most 31"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badInputs")
    void badInputExitsUsageAndWritesNothing(String label, List<String> arguments, String expectedMessage)
            throws IOException {
        Path badJson = root.resolve("inputs").resolve("bad.jsonl");
        Files.writeString(badJson, "{\"prompt\": \"ok\"}\n{\"prompt\": \n", StandardCharsets.UTF_8);
        Path noPrompt = root.resolve("inputs").resolve("no-prompt.jsonl");
        Files.writeString(noPrompt, "{\"text\": \"ok\"}\n", StandardCharsets.UTF_8);

        Path pairsOk = Fixtures.pairsFile(root.resolve("inputs").resolve("pairs.jsonl"));
        Path pairsNoWrong = root.resolve("inputs").resolve("pairs-no-wrong.jsonl");
        Files.writeString(pairsNoWrong, "{\"clean\": \"a b\", \"corrupted\": \"a c\", \"answer\": \" b\"}\n",
                StandardCharsets.UTF_8);
        Path pairsSame = root.resolve("inputs").resolve("pairs-same.jsonl");
        Files.writeString(pairsSame, Files.readString(pairsOk) + "{\"clean\": \"a b\", \"corrupted\": \"a c\","
                + " \"answer\": \" c\", \"wrong_answer\": \" c\"}\n", StandardCharsets.UTF_8);

        List<String> args = new ArrayList<>(List.of("probe", "setup"));
        for (String argument : arguments) {
            args.add(argument.replace("BAD_JSON", badJson.toString()).replace("NO_PROMPT", noPrompt.toString())
                    .replace("PAIRS_OK", pairsOk.toString()).replace("PAIRS_NO_WRONG", pairsNoWrong.toString())
                    .replace("PAIRS_SAME", pairsSame.toString()).replace("PROMPTS", prompts.toString()));
        }
        boolean lens = !arguments.contains("--intervention") || arguments.contains("logit_lens");
        if (!arguments.contains("--intervention")) {
            args.addAll(List.of("--intervention", "logit_lens"));
        }
        if (!arguments.contains("--model")) {
            args.addAll(List.of("--model", model.toString()));
        }
        if (lens && !arguments.contains("--prompts")) {
            args.addAll(List.of("--prompts", prompts.toString()));
        }
        args.addAll(List.of("--root", root.toString()));
        Map<String, String> before = Fixtures.tree(root);

        CliRun run = CliRun.execute(root, args.toArray(String[]::new));

        assertEquals(ExitCode.USAGE.code(), run.exitCode(), run.err());
        assertTrue(run.err().contains(expectedMessage), "expected '" + expectedMessage + "' in: " + run.err());
        assertEquals(1, run.err().strip().lines().count(), run.err());
        assertEquals("", run.out());
        assertEquals(before, Fixtures.tree(root));
    }

    @Test
    void unknownInterventionListsAllSix() {
        CliRun run = CliRun.execute(root, "probe", "setup", "lens-study", "--intervention", "lens",
                "--model", model.toString(), "--prompts", prompts.toString(), "--root", root.toString());

        for (String name : List.of("logit_lens", "attention_pattern", "activation_patching", "path_patching",
                "probing", "sae_feature_lookup")) {
            assertTrue(run.err().contains(name), name + " missing from: " + run.err());
        }
    }

    @Test
    void missingCodeFolderIsNotCreated() {
        CliRun run = CliRun.execute(root, "probe", "setup", "new-study", "--intervention", "logit_lens",
                "--model", model.toString(), "--prompts", prompts.toString(), "--root", root.toString());

        assertEquals(ExitCode.USAGE.code(), run.exitCode());
        assertTrue(Files.notExists(root.resolve(".research").resolve("new-study")));
    }

    @Test
    void symlinkOutOfWorkspaceIsRejected() throws IOException {
        Path outside = Files.createDirectories(root.resolve("outside"));
        Path code = root.resolve(".research").resolve("lens-study").resolve("code");
        Files.createSymbolicLink(code.resolve("analysis"), outside);
        Map<String, String> before = Fixtures.tree(root);

        CliRun run = CliRun.execute(root, "probe", "setup", "lens-study", "--intervention", "logit_lens",
                "--model", model.toString(), "--prompts", prompts.toString(), "--root", root.toString());

        assertEquals(ExitCode.USAGE.code(), run.exitCode(), run.err());
        assertTrue(run.err().contains("outside the workspace"), run.err());
        assertEquals(before, Fixtures.tree(root));
        try (Stream<Path> files = Files.list(outside)) {
            assertEquals(0, files.count());
        }
    }
}
