package io.autoresearch.probe.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoresearch.probe.render.TemplateRenderer;
import io.autoresearch.probe.setup.ToolVersion;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Compares the demo scripts committed in the repository's {@code analysis/} folder with a fresh
 * render, byte for byte, taking the date from the committed file name. Regenerate them with
 * {@code java -cp target/auto-research.jar io.autoresearch.probe.demo.DemoScripts analysis YYYY-MM-DD}
 * after a template or version change.
 */
class GoldenDemoScriptsTest {
    private static final Path ANALYSIS = Path.of("analysis");
    private static final Pattern LENS_SCRIPT = Pattern.compile("^logit_lens_(\\d{8})\\.py$");

    @Test
    void committedDemoScriptsMatchRender() throws IOException {
        List<Path> lensScripts = lensScripts();
        assertFalse(lensScripts.isEmpty(), "analysis/ has no logit_lens_<yyyymmdd>.py;"
                + " generate the golden files with io.autoresearch.probe.demo.DemoScripts");
        assertEquals(1, lensScripts.size(), "expected one demo lens script in analysis/, found " + lensScripts);

        Matcher matcher = LENS_SCRIPT.matcher(lensScripts.get(0).getFileName().toString());
        assertTrue(matcher.matches());
        LocalDate date = LocalDate.parse(matcher.group(1), DateTimeFormatter.BASIC_ISO_DATE);
        Map<String, String> rendered = new DemoScripts(new TemplateRenderer()).render(date, ToolVersion.current());

        for (Map.Entry<String, String> file : rendered.entrySet()) {
            Path committed = ANALYSIS.resolve(file.getKey());
            assertTrue(Files.isRegularFile(committed), committed + " is missing");
            assertEquals(file.getValue(), Files.readString(committed),
                    committed + " differs from the render; regenerate it with DemoScripts");
        }
    }

    private static List<Path> lensScripts() throws IOException {
        if (!Files.isDirectory(ANALYSIS)) {
            return List.of();
        }
        try (Stream<Path> files = Files.list(ANALYSIS)) {
            return files.filter(path -> LENS_SCRIPT.matcher(path.getFileName().toString()).matches()).sorted().toList();
        }
    }
}
