package io.autoresearch.probe.setup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.json.JsonWriteFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.autoresearch.probe.cli.CliRun;
import io.autoresearch.probe.cli.ProbeContext;
import io.autoresearch.probe.render.HostileStrings;
import io.autoresearch.probe.render.PythonLiteral;
import io.autoresearch.probe.render.TemplateRenderer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile values (quotes, triple quotes, backslashes, line breaks including U+2028 and U+2029,
 * NUL, Mustache markers, HTML entities, very long strings) put through the real script rendering
 * and through the real {@code probe setup}. python3 byte-compiles every rendered script, finds
 * each assignment such as {@code HYPOTHESIS = ...} in its syntax tree and evaluates the literal,
 * which must equal the original value exactly. The expected values travel as ASCII-escaped
 * JSON, an encoding independent of the code under test.
 *
 * <p>The values reach the scripts as the hypothesis (of the probe and of the hypothesis
 * script), the model id (a hub id, or a model folder's path, whose name can hold any character
 * but {@code /} and NUL) and the prompts or pairs file (copied to {@code data/<its name>}).
 * The probe id, receiver and dtype are checked against fixed patterns before rendering.
 * Half the logit-lens, activation-patching and probing cases render the nnsight templates,
 * whose {@code REMOTE}, {@code DEVICE_MAP} (hostile in the rendered cases) and
 * {@code RECHECK_FLOAT32} must evaluate back as well.
 */
@Tag("python")
class HostileValuesPropertyTest {
    /** Cases rendered with the templates setup uses, each an intervention script plus the hypothesis script. */
    static final int RENDER_CASES = 4000;
    /** Cases that go through {@code probe setup} itself, in one workspace set up again and again. */
    static final int SETUP_CASES = 150;
    private static final long SEED = 20261205L;
    private static final LocalDate DATE = LocalDate.of(2026, 12, 5);
    private static final Pattern HTML_ENTITY = Pattern.compile("&(#\\d+|#x[0-9a-fA-F]+|amp|quot|lt|gt|apos);");
    private static final Intervention[] INTERVENTIONS = {Intervention.LOGIT_LENS, Intervention.ATTENTION_PATTERN,
        Intervention.ACTIVATION_PATCHING, Intervention.PATH_PATCHING, Intervention.PROBING,
        Intervention.SAE_FEATURE_LOOKUP};

    @TempDir
    Path folder;

    /** One rendered script and the values its assignments must evaluate to. */
    record Case(String file, Map<String, Object> expect) {
    }

    @Test
    void hostileValuesRoundTripInScripts() throws Exception {
        Path scripts = Files.createDirectories(folder.resolve("scripts"));
        List<Case> cases = new ArrayList<>();
        renderCases(new Random(SEED), scripts, cases);
        setupCases(new Random(SEED + 1), scripts, cases);
        assertEquals(2 * (RENDER_CASES + SETUP_CASES), cases.size());

        String output = checkInPython(cases);
        System.out.println("HostileValuesPropertyTest: " + RENDER_CASES + " rendered and " + SETUP_CASES
                + " set-up cases; python3: " + output.strip());

        assertTrue(output.contains("files " + cases.size() + " assignments "), output);
        assertTrue(output.contains(" mismatches 0"), output);
    }

    /** Renders each case's intervention script and hypothesis script with {@link ProbeScripts}. */
    private void renderCases(Random random, Path scripts, List<Case> cases) throws IOException {
        ProbeScripts probeScripts = new ProbeScripts(new TemplateRenderer());
        for (int index = 0; index < RENDER_CASES; index++) {
            Intervention intervention = INTERVENTIONS[index % INTERVENTIONS.length];
            String hypothesis = index == 0 ? "x".repeat(100_000) + "'''\"\"\"\n{{slug}}\u2028\u0000" : HostileStrings.next(random);
            String modelId = index == 1 ? "m".repeat(20_000) + "\\" : HostileStrings.next(random);
            String dataPath = "data/" + HostileStrings.nextFileName(random, 200, false);
            boolean readsData = intervention.input() != Intervention.Input.NONE;
            String targetLabel = HostileStrings.next(random);
            String targetToken = HostileStrings.next(random);
            String saePath = HostileStrings.next(random);
            ProbeSettings settings = new ProbeSettings(Receiver.parse("auto"), 20, "resid_post", "last", 5, saePath,
                    null, targetLabel, targetToken, 10, "exact");
            // Every other case of an intervention nnsight implements renders its nnsight template. Setup
            // accepts only the four device_map names, but the renderer gets hostile ones too.
            boolean nnsight = Backend.NNSIGHT.supports(intervention) && (index / INTERVENTIONS.length) % 2 == 1;
            String deviceMap = nnsight && random.nextBoolean() ? HostileStrings.next(random) : null;
            BackendChoice backend = nnsight
                    ? new BackendChoice(Backend.NNSIGHT, "test", random.nextBoolean(), deviceMap, random.nextInt(1000),
                            List.of())
                    : BackendChoice.transformerLens("test");
            String script = probeScripts.interventionScript(new ProbeScripts.ScriptInputs(intervention, "hostile-study",
                    "hostile_study", "0.1.0", DATE, "probe_" + index, modelId, readsData ? dataPath : null,
                    List.of(0, 1), 64, List.of(0, 1, 2), "float32", hypothesis, settings, false, null, backend));
            Map<String, Object> expect = new LinkedHashMap<>();
            List<String> hostile = new ArrayList<>(List.of(hypothesis, modelId));
            if (nnsight) {
                expect.put("REMOTE", backend.remote());
                expect.put("DEVICE_MAP", deviceMap);
                expect.put("RECHECK_FLOAT32", backend.recheckFloat32());
                if (deviceMap != null) {
                    hostile.add(deviceMap);
                }
            }
            if (intervention == Intervention.SAE_FEATURE_LOOKUP) {
                expect.put("TARGET_LABEL", targetLabel);
                expect.put("TARGET_TOKEN", targetToken);
                expect.put("SAE_PATH", saePath);
                hostile.addAll(List.of(targetLabel, targetToken, saePath));
            }
            expect.put("HYPOTHESIS", hypothesis);
            expect.put("MODEL_ID", modelId);
            expect.put("PROBE_ID", "probe_" + index);
            if (intervention.input() == Intervention.Input.PROMPTS) {
                expect.put("PROMPTS_PATH", dataPath);
            } else if (intervention.input() == Intervention.Input.PAIRS) {
                expect.put("PAIRS_PATH", dataPath);
            } else if (intervention.input() == Intervention.Input.LABELS) {
                expect.put("LABELS_PATH", dataPath);
            }
            cases.add(write(scripts, "render_" + index + "_" + intervention.id() + ".py", script, expect, hostile));

            String mainHypothesis = HostileStrings.next(random);
            List<Manifest.ProbeEntry> probes = List.of(new Manifest.ProbeEntry("probe_" + index, intervention.id(),
                    ProbeScripts.scriptPath(intervention, DATE), "m", List.of(0), "2026-12-05T10:00:00Z",
                    "transformer_lens"));
            String main = probeScripts.mainScript("hostile-study", "hostile_study", "0.1.0", DATE, mainHypothesis,
                    probes);
            cases.add(write(scripts, "render_" + index + "_main.py", main, Map.of("HYPOTHESIS", mainHypothesis,
                    "PROBES", List.of(List.of("probe_" + index, ProbeScripts.scriptPath(intervention, DATE)))),
                    List.of(mainHypothesis)));
        }
    }

    /** Returns the --recheck-float32 count of setup case {@code index}: 1 to the default --n-examples. */
    private static int recheck(int index) {
        return 1 + index % SetupOptions.DEFAULT_N_EXAMPLES;
    }

    /**
     * Runs {@code probe setup} with a hostile {@code --hypothesis}, a model folder and an input
     * file with hostile names, and keeps a copy of the two scripts each run rendered.
     */
    private void setupCases(Random random, Path scripts, List<Case> cases) throws IOException {
        Path root = Files.createDirectories(folder.resolve("workspace"));
        Path code = Fixtures.project(root, "hostile-study", "hostile-study");
        boolean unicodeNames = "UTF-8".equalsIgnoreCase(System.getProperty("sun.jnu.encoding"));
        ProbeContext context = new ProbeContext(Map.of("PATH", ""), root, root, CliRun.FIXED_CLOCK);
        Intervention[] withData = {Intervention.LOGIT_LENS, Intervention.ACTIVATION_PATCHING,
            Intervention.ATTENTION_PATTERN};
        for (int index = 0; index < SETUP_CASES; index++) {
            Intervention intervention = withData[index % withData.length];
            String hypothesis = HostileStrings.nextNonBlank(random);
            Path model = Fixtures.modelFolder(root.resolve("models").resolve(
                    HostileStrings.nextFileName(random, 120, !unicodeNames) + "_" + index), 2);
            List<String> args = new ArrayList<>(List.of("probe", "setup", "hostile-study", "--intervention",
                    intervention.id(), "--model", model.toString(), "--hypothesis", hypothesis, "--root",
                    root.toString()));
            String dataName = HostileStrings.nextFileName(random, 120, !unicodeNames) + "_" + index + ".jsonl";
            // Every other logit-lens and patching setup renders the nnsight template with the nnsight options
            // that a local model folder accepts (--remote needs a hub id, and excludes --device-map).
            boolean nnsight = intervention != Intervention.ATTENTION_PATTERN && index % 2 == 1;
            if (nnsight) {
                args.addAll(List.of("--backend", "nnsight", "--device-map", "sequential", "--dtype",
                        "bfloat16", "--recheck-float32", Integer.toString(recheck(index))));
            }
            if (intervention == Intervention.LOGIT_LENS) {
                args.addAll(List.of("--prompts", Fixtures.promptsFile(root.resolve("inputs").resolve(dataName))
                        .toString()));
            } else if (intervention == Intervention.ACTIVATION_PATCHING) {
                args.addAll(List.of("--pairs", Fixtures.pairsFile(root.resolve("inputs").resolve(dataName))
                        .toString()));
            }

            CliRun run = CliRun.execute(context, args.toArray(String[]::new));

            assertEquals(0, run.exitCode(), "case " + index + ": " + run.err());
            List<String> written = run.out().lines().toList();
            Path script = Path.of(written.get(0));
            Path main = Path.of(written.get(1));
            assertTrue(script.startsWith(code), run.out());
            assertTrue(main.startsWith(code), run.out());
            Map<String, Object> expect = new LinkedHashMap<>();
            expect.put("HYPOTHESIS", hypothesis);
            expect.put("MODEL_ID", model.toAbsolutePath().normalize().toString());
            if (intervention == Intervention.LOGIT_LENS) {
                expect.put("PROMPTS_PATH", "data/" + dataName);
            } else if (intervention == Intervention.ACTIVATION_PATCHING) {
                expect.put("PAIRS_PATH", "data/" + dataName);
            }
            if (nnsight) {
                expect.put("REMOTE", false);
                expect.put("DEVICE_MAP", "sequential");
                expect.put("RECHECK_FLOAT32", recheck(index));
                expect.put("DTYPE", "bfloat16");
            }
            cases.add(write(scripts, "setup_" + index + "_" + intervention.id() + ".py", Files.readString(script),
                    expect, List.of(hypothesis)));
            // The hypothesis script states the hypothesis of the latest setup (the project has no plan).
            cases.add(write(scripts, "setup_" + index + "_main.py", Files.readString(main),
                    Map.of("HYPOTHESIS", hypothesis), List.of(hypothesis)));
            assertTrue(Files.isRegularFile(code.resolve("data").resolve(dataName))
                    || intervention == Intervention.ATTENTION_PATTERN, "data file " + dataName + " not copied");
        }
    }

    /**
     * Writes a rendered script for python3 and checks on the Java side that each value appears
     * as its Python literal and that no HTML entity was added.
     */
    private static Case write(Path scripts, String name, String source, Map<String, Object> expect,
            List<String> values) throws IOException {
        for (String value : values) {
            assertTrue(source.contains(" = " + PythonLiteral.of(value) + "\n"), name + ": literal missing");
        }
        // With every value's literal taken out, what is left is template text, which has no
        // HTML entity; an escaping renderer would have added some around '&', '<', '>' or quotes.
        // Long literals go first, because a short literal such as '' can also occur inside a longer one.
        String templateText = source;
        List<String> literals = new ArrayList<>();
        for (Object value : expect.values()) {
            if (value instanceof String text) {
                literals.add(PythonLiteral.of(text));
            }
        }
        literals.sort((a, b) -> Integer.compare(b.length(), a.length()));
        for (String literal : literals) {
            templateText = templateText.replace(literal, "");
        }
        Matcher entity = HTML_ENTITY.matcher(templateText);
        assertFalse(entity.find(), () -> name + ": HTML entity " + entity.group() + " outside the values");
        assertFalse(source.contains("\u0000"), name + ": raw NUL");
        Path file = scripts.resolve(name);
        Files.writeString(file, source, StandardCharsets.UTF_8);
        return new Case(file.toString(), expect);
    }

    /** Has python3 compile every script and evaluate each expected assignment; returns its output. */
    private String checkInPython(List<Case> cases) throws Exception {
        JsonMapper json = JsonMapper.builder().enable(JsonWriteFeature.ESCAPE_NON_ASCII).build();
        Path expected = folder.resolve("expected.json");
        Files.writeString(expected, json.writeValueAsString(cases), StandardCharsets.US_ASCII);
        Process python = new ProcessBuilder("python3", "-c", String.join("\n",
                "import ast, json, sys",
                "cases = json.load(open(sys.argv[1], encoding='ascii'))",
                "def plain(value):",
                "    return [plain(item) for item in value] if isinstance(value, (list, tuple)) else value",
                "checked = 0",
                "bad = []",
                "for case in cases:",
                "    source = open(case['file'], 'rb').read()",
                // Parsed from the file's bytes (decoded as an import decodes them), then byte-compiled.
                "    tree = ast.parse(source, case['file'])",
                "    compile(tree, case['file'], 'exec', dont_inherit=True)",
                "    found = {}",
                "    for node in tree.body:",
                "        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):",
                "            found.setdefault(node.targets[0].id, []).append(node.value)",
                "    for name, value in case['expect'].items():",
                "        nodes = found.get(name, [])",
                "        checked += 1",
                "        if len(nodes) != 1 or plain(ast.literal_eval(nodes[0])) != value:",
                "            bad.append((case['file'], name))",
                "print('files', len(cases), 'assignments', checked, 'mismatches', len(bad), bad[:5])",
                "sys.exit(1 if bad else 0)"),
                expected.toString()).redirectErrorStream(true).start();
        String output = new String(python.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, python.waitFor(), output);
        return output;
    }
}
