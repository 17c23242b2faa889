package io.autoresearch.probe.render;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoresearch.probe.support.ExitCode;
import io.autoresearch.probe.support.ProbeException;
import java.util.List;
import org.junit.jupiter.api.Test;

class TemplateRendererTest {
    private final TemplateRenderer renderer = new TemplateRenderer();

    public record Value(String value) {
    }

    @Test
    void valuesAreNotHtmlEscaped() {
        String rendered = renderer.renderText("{{value}}", "raw", new Value("<a href=\"x\">'&'</a>"));

        assertEquals("<a href=\"x\">'&'</a>", rendered);
    }

    @Test
    void valueMarkersAreNotRenderedAgain() {
        String rendered = renderer.renderText("X = {{value}}", "markers", new Value("'{{value}}'"));

        assertEquals("X = '{{value}}'", rendered);
    }

    @Test
    void recordScopeProvidesPackage() {
        String rendered = renderer.renderText("from {{package}}.probe import x; {{slug}} {{generated_on}}", "probe",
                new ScriptScopes.ProbeModule("demo-slug", "demo_slug", "0.1.0", "2026-12-04"));

        assertEquals("from demo_slug.probe import x; demo-slug 2026-12-04", rendered);
    }

    @Test
    void listSectionRepeatsPerItem() {
        ScriptScopes.MainScript scope = new ScriptScopes.MainScript("s-s", "s_s", "0.1.0", "2026-12-04", "'h'",
                List.of(new ScriptScopes.ProbeEntry("'a.py'", "'a'"), new ScriptScopes.ProbeEntry("'b.py'", "'b'")));

        String rendered = renderer.renderText("{{#probes}}({{probe_id_literal}}, {{script_literal}})\n{{/probes}}",
                "main", scope);

        assertEquals("('a', 'a.py')\n('b', 'b.py')\n", rendered);
    }

    @Test
    void undefinedVariableIsTemplateError() {
        ProbeException error = assertThrows(ProbeException.class,
                () -> renderer.renderText("{{missing_literal}}", "broken", new Value("x")));

        assertEquals(ExitCode.TEMPLATE, error.exitCode());
        assertTrue(error.getMessage().contains("missing_literal"), error.getMessage());
    }

    @Test
    void missingTemplateIsTemplateError() {
        ProbeException error = assertThrows(ProbeException.class,
                () -> renderer.render("no_such.py.mustache", new Value("x")));

        assertEquals(ExitCode.TEMPLATE, error.exitCode());
        assertTrue(error.getMessage().contains("no_such.py.mustache"), error.getMessage());
    }

    @Test
    void unclosedSectionIsTemplateError() {
        ProbeException error = assertThrows(ProbeException.class,
                () -> renderer.renderText("{{#probes}} never closed", "unclosed", new Value("x")));

        assertEquals(ExitCode.TEMPLATE, error.exitCode());
    }

    @Test
    void packagedTemplatesRender() {
        String probe = renderer.render("probe.py.mustache",
                new ScriptScopes.ProbeModule("demo-slug", "demo_slug", "0.1.0", "2026-12-04"));

        assertTrue(probe.contains("2026-12-04"), probe);
        assertTrue(!probe.contains("{{"), probe);
    }
}
