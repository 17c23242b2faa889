package io.autoresearch.probe.run;

import io.autoresearch.probe.support.Console;
import io.autoresearch.probe.uv.UvLocator;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A research project whose probe scripts are tiny plain-Python files and whose
 * {@code pyproject.toml} has no dependencies and no build system, so {@code uv sync} needs
 * neither the package index nor a build backend.
 */
public final class FakeProject {
    /** Shared by the tests that need uv when it is not on PATH, so it is installed at most once. */
    public static final Path TEST_TOOL_HOME = Path.of("target", "test-tool-home").toAbsolutePath();

    static final String PYPROJECT = """
            [project]
            name = "fake-study"
            version = "0.1.0"
            requires-python = ">=3.11"
            dependencies = []

            [project.optional-dependencies]
            attention = []

            [tool.uv]
            package = false
            """;

    private FakeProject() {
    }

    /** Creates {@code code/} under {@code root} with a manifest listing one probe per script name. */
    public static Path create(Path root, List<String> probeIds) throws IOException {
        Path codeDir = Files.createDirectories(root.resolve(".research/fake-study/code"));
        Files.writeString(codeDir.resolve("pyproject.toml"), PYPROJECT);
        Files.createDirectories(codeDir.resolve("analysis"));
        Files.createDirectories(codeDir.resolve("results/probe"));
        StringBuilder probes = new StringBuilder();
        for (String probeId : probeIds) {
            if (probes.length() > 0) {
                probes.append(",\n");
            }
            probes.append("    {\"probe_id\": \"").append(probeId).append("\", \"intervention\": \"logit_lens\",")
                    .append(" \"script\": \"analysis/").append(probeId).append(".py\", \"model_id\": \"models/tiny\",")
                    .append(" \"layers\": [0, 1], \"created\": \"2026-12-04T10:00:00Z\"}");
        }
        Path manifest = codeDir.resolve(".auto-research/manifest.json");
        Files.createDirectories(manifest.getParent());
        Files.writeString(manifest, "{\n  \"tool_version\": \"0.1.0\",\n  \"files\": [],\n  \"probes\": [\n"
                + probes + "\n  ]\n}\n");
        return codeDir;
    }

    /** Records {@code backend} as the backend of probe {@code probeId} in the manifest. */
    public static void setBackend(Path codeDir, String probeId, String backend) throws IOException {
        Path manifest = codeDir.resolve(".auto-research/manifest.json");
        String entry = "{\"probe_id\": \"" + probeId + "\", ";
        String content = Files.readString(manifest);
        if (!content.contains(entry)) {
            throw new IllegalArgumentException("no probe " + probeId + " in " + manifest);
        }
        Files.writeString(manifest, content.replace(entry, entry + "\"backend\": \"" + backend + "\", "));
    }

    public static void writeScript(Path codeDir, String probeId, String body) throws IOException {
        Files.writeString(codeDir.resolve("analysis").resolve(probeId + ".py"), body, StandardCharsets.UTF_8);
    }

    /**
     * Returns a script that prints its environment's offline switches and writes a results file
     * for {@code probeId}; {@code mutation} is Python that may edit the dict {@code doc} first.
     */
    public static String resultsScript(String probeId, String mutation) {
        return """
                import json, os, sys
                from pathlib import Path

                print("probe %1$s starting")
                print("HF_HUB_OFFLINE=" + os.environ.get("HF_HUB_OFFLINE", "unset"))
                print("TRANSFORMERS_OFFLINE=" + os.environ.get("TRANSFORMERS_OFFLINE", "unset"))
                print("PYTHONUNBUFFERED=" + os.environ.get("PYTHONUNBUFFERED", "unset"))
                print("progress on stderr", file=sys.stderr)
                doc = {
                    "schema_version": "1", "probe_id": "%1$s", "intervention": "logit_lens",
                    "model_id": "models/tiny", "status": "exploratory", "n_examples": 8, "seeds": [0],
                    "layers": [0, 1], "metric": "rank_of_correct_token",
                    "values_per_layer": [5.0, 1.0], "ci_per_layer": [[4.0, 6.0], [1.0, 1.5]],
                    "alternative_explanations_not_ruled_out": ["bigram statistics", "position bias"],
                    "provenance": {
                        "created_at": "2026-12-04T10:00:00Z", "run_id": os.environ["AUTO_RESEARCH_RUN_ID"],
                        "script": "analysis/%1$s.py", "script_sha256": "a" * 64, "package_versions": {},
                        "model_id": "models/tiny", "weights_sha256": "b" * 64, "dtype": "float32",
                        "device": "cpu", "duration_s": 0.1,
                    },
                }
                %2$s
                target = Path("results/probe/%1$s.json")
                tmp = target.with_name("." + target.name + ".tmp")
                tmp.write_text(json.dumps(doc, indent=2))
                os.replace(tmp, target)
                print("probe %1$s wrote " + str(target))
                """.formatted(probeId, mutation);
    }

    /** Returns a locator that finds uv on PATH, else installs it once into {@link #TEST_TOOL_HOME}. */
    static UvLocator locator() {
        return new UvLocator(TEST_TOOL_HOME, System.getenv());
    }

    /** A console whose stdout and stderr are captured. */
    static final class CapturedConsole {
        final StringWriter out = new StringWriter();
        final StringWriter err = new StringWriter();
        final Console console = new Console(new PrintWriter(out, true), new PrintWriter(err, true), false, true);
    }
}
