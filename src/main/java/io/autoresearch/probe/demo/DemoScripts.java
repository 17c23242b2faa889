package io.autoresearch.probe.demo;

import io.autoresearch.probe.render.TemplateRenderer;
import io.autoresearch.probe.setup.AtomicFiles;
import io.autoresearch.probe.setup.Intervention;
import io.autoresearch.probe.setup.Manifest;
import io.autoresearch.probe.setup.ProbeScripts;
import io.autoresearch.probe.setup.ProbeSettings;
import io.autoresearch.probe.setup.SetupOptions;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Renders the demo's analysis scripts exactly as {@code probe demo} writes them, for the
 * committed golden files in the repository's top-level {@code analysis/} folder.
 */
public final class DemoScripts {
    private final ProbeScripts scripts;

    public DemoScripts(TemplateRenderer renderer) {
        this.scripts = new ProbeScripts(renderer);
    }

    /**
     * Renders {@code induction-demo.py} and one {@code <intervention>_<yyyymmdd>.py} per demo
     * probe for a setup on {@code date}, keyed by file name.
     */
    public Map<String, String> render(LocalDate date, String toolVersion) {
        String created = date.atStartOfDay().toInstant(ZoneOffset.UTC).toString();
        List<Manifest.ProbeEntry> probes = new ArrayList<>();
        Map<String, String> interventionScripts = new LinkedHashMap<>();
        for (Intervention intervention : DemoInputs.INTERVENTIONS) {
            String script = ProbeScripts.scriptPath(intervention, date);
            boolean lens = intervention == Intervention.LOGIT_LENS;
            boolean sae = intervention == Intervention.SAE_FEATURE_LOOKUP;
            List<Integer> layers = lens ? List.of(0, 1, 2) : sae ? List.of(DemoInputs.SAE_LAYER) : List.of(0, 1);
            probes.add(new Manifest.ProbeEntry(DemoInputs.probeId(intervention), intervention.id(), script,
                    DemoInputs.MODEL_PATH, layers, created, "transformer_lens"));
            String dataPath = switch (intervention.input()) {
                case PROMPTS -> DemoInputs.PROMPTS_PATH;
                case PAIRS -> DemoInputs.PAIRS_PATH;
                case LABELS -> DemoInputs.LABELS_PATH;
                case NONE -> null;
            };
            interventionScripts.put(fileName(script), scripts.interventionScript(new ProbeScripts.ScriptInputs(
                    intervention, DemoInputs.SLUG, DemoInputs.PACKAGE, toolVersion, date,
                    DemoInputs.probeId(intervention), DemoInputs.MODEL_PATH, dataPath, sae ? layers : null,
                    SetupOptions.DEFAULT_N_EXAMPLES, DemoInputs.seeds(), SetupOptions.DEFAULT_DTYPE,
                    DemoInputs.hypothesis(intervention), ProbeSettings.defaults())));
        }
        Map<String, String> files = new LinkedHashMap<>();
        files.put(fileName(ProbeScripts.mainScriptPath(DemoInputs.SLUG)), scripts.mainScript(
                DemoInputs.SLUG, DemoInputs.PACKAGE, toolVersion, date, DemoInputs.HYPOTHESIS, probes));
        files.putAll(interventionScripts);
        return files;
    }

    /** Writes the rendered scripts into {@code folder} and returns their paths. */
    public List<Path> writeTo(Path folder, LocalDate date, String toolVersion) {
        try {
            Files.createDirectories(folder);
            List<Path> written = new ArrayList<>();
            for (Map.Entry<String, String> file : render(date, toolVersion).entrySet()) {
                Path target = folder.resolve(file.getKey());
                AtomicFiles.write(target, file.getValue().getBytes(StandardCharsets.UTF_8));
                written.add(target);
            }
            return written;
        } catch (IOException e) {
            throw new UncheckedIOException("could not write the demo scripts to " + folder, e);
        }
    }

    private static String fileName(String relativePath) {
        return relativePath.substring(relativePath.lastIndexOf('/') + 1);
    }

    /**
     * Writes the demo scripts for today, or for the date given as {@code yyyy-mm-dd}, into the
     * folder given as the first argument: {@code java -cp target/auto-research.jar
     * io.autoresearch.probe.demo.DemoScripts analysis [2026-12-04]}.
     */
    public static void main(String[] args) {
        if (args.length < 1 || args.length > 2) {
            System.err.println("usage: DemoScripts OUTPUT_FOLDER [YYYY-MM-DD]");
            System.exit(2);
        }
        LocalDate date = args.length == 2 ? LocalDate.parse(args[1]) : LocalDate.now();
        String version = io.autoresearch.probe.setup.ToolVersion.current();
        for (Path written : new DemoScripts(new TemplateRenderer()).writeTo(Path.of(args[0]), date, version)) {
            System.out.println(written);
        }
    }
}
