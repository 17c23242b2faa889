package io.autoresearch.probe.report;

import com.github.mustachejava.DefaultMustacheFactory;
import com.github.mustachejava.Mustache;
import com.github.mustachejava.MustacheException;
import com.github.mustachejava.reflect.Guard;
import com.github.mustachejava.reflect.MissingWrapper;
import com.github.mustachejava.reflect.ReflectionObjectHandler;
import io.autoresearch.probe.render.TemplateRenderer;
import io.autoresearch.probe.support.ExitCode;
import io.autoresearch.probe.support.ProbeException;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.util.List;

/**
 * Renders HTML templates from {@code templates/} on the classpath with Mustache's HTML
 * escaping on: every {@code {{value}}} has {@code & < > " ' ` =} replaced by character
 * references, so text from a results file can neither add markup nor leave an attribute.
 * Like {@link TemplateRenderer}, a variable that no scope defines is a template error, and any
 * failure is a {@link ProbeException} with exit code TEMPLATE.
 */
final class HtmlRenderer {
    private final DefaultMustacheFactory factory;

    HtmlRenderer() {
        factory = new DefaultMustacheFactory(TemplateRenderer.TEMPLATE_ROOT);
        factory.setObjectHandler(new StrictObjectHandler());
    }

    String render(String templateName, Object scope) {
        Mustache mustache;
        try {
            mustache = factory.compile(templateName);
        } catch (MustacheException e) {
            throw new ProbeException(ExitCode.TEMPLATE, "could not load template '" + templateName
                    + "' from the classpath: " + e.getMessage() + "; rebuild the jar with mvn package", e);
        }
        StringWriter output = new StringWriter();
        try {
            mustache.execute(output, scope).flush();
        } catch (MustacheException | UncheckedIOException | IOException e) {
            throw new ProbeException(ExitCode.TEMPLATE, "could not render template '" + templateName + "': "
                    + e.getMessage(), e);
        }
        return output.toString();
    }

    /** An object handler that fails on a variable no scope defines. */
    private static final class StrictObjectHandler extends ReflectionObjectHandler {
        @Override
        protected MissingWrapper createMissingWrapper(String name, List<Guard> guards) {
            throw new MustacheException("the template uses '" + name + "', which the scope does not define");
        }
    }
}
