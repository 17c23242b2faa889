package io.autoresearch.probe.render;

import com.github.mustachejava.DefaultMustacheFactory;
import com.github.mustachejava.Mustache;
import com.github.mustachejava.MustacheException;
import com.github.mustachejava.reflect.Guard;
import com.github.mustachejava.reflect.MissingWrapper;
import com.github.mustachejava.reflect.ReflectionObjectHandler;
import io.autoresearch.probe.support.ExitCode;
import io.autoresearch.probe.support.ProbeException;
import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.util.List;

/**
 * Renders the Python script templates ({@code templates/*.mustache} on the classpath) with
 * typed records as scopes.
 *
 * <p>HTML escaping is off because the output is Python source: every value that comes from a
 * person is already a Python literal from {@link PythonLiteral}, and the raw values are
 * validated identifiers, dates and integers. A variable that the scope does not define is a
 * template error instead of an empty string, so a renamed record field cannot silently
 * produce a broken script. Any failure is a {@link ProbeException} with exit code TEMPLATE.
 */
public final class TemplateRenderer {
    public static final String TEMPLATE_ROOT = "templates";

    private final DefaultMustacheFactory factory;

    public TemplateRenderer() {
        this(TEMPLATE_ROOT);
    }

    /** Creates a renderer that loads templates from {@code resourceRoot} on the classpath. */
    public TemplateRenderer(String resourceRoot) {
        factory = new RawMustacheFactory(resourceRoot);
        factory.setObjectHandler(new StrictObjectHandler());
    }

    /** Renders the classpath template {@code <root>/<name>} with {@code scope}. */
    public String render(String templateName, Object scope) {
        Mustache mustache;
        try {
            mustache = factory.compile(templateName);
        } catch (MustacheException e) {
            throw new ProbeException(ExitCode.TEMPLATE, "could not load template '" + templateName
                    + "' from the classpath: " + e.getMessage() + "; rebuild the jar with mvn package", e);
        }
        return execute(mustache, templateName, scope);
    }

    /** Renders template text given inline; used by tests and for one-off checks. */
    public String renderText(String templateText, String name, Object scope) {
        Mustache mustache;
        try {
            mustache = factory.compile(new StringReader(templateText), name);
        } catch (MustacheException e) {
            throw new ProbeException(ExitCode.TEMPLATE, "invalid template '" + name + "': " + e.getMessage(), e);
        }
        return execute(mustache, name, scope);
    }

    private static String execute(Mustache mustache, String name, Object scope) {
        StringWriter output = new StringWriter();
        try {
            mustache.execute(output, scope).flush();
        } catch (MustacheException | UncheckedIOException e) {
            throw new ProbeException(ExitCode.TEMPLATE, "could not render template '" + name + "': "
                    + rootMessage(e), e);
        } catch (IOException e) {
            throw new ProbeException(ExitCode.TEMPLATE, "could not render template '" + name + "': "
                    + e.getMessage(), e);
        }
        return output.toString();
    }

    private static String rootMessage(Throwable error) {
        Throwable cause = error;
        while (cause.getCause() != null && cause.getCause() != cause) {
            cause = cause.getCause();
        }
        return cause.getMessage() != null ? cause.getMessage() : cause.toString();
    }

    /** A factory that writes values verbatim instead of HTML-escaping them. */
    private static final class RawMustacheFactory extends DefaultMustacheFactory {
        RawMustacheFactory(String resourceRoot) {
            super(resourceRoot);
        }

        @Override
        public void encode(String value, Writer writer) {
            try {
                writer.write(value);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    /** An object handler that fails on a variable no scope defines. */
    private static final class StrictObjectHandler extends ReflectionObjectHandler {
        @Override
        protected MissingWrapper createMissingWrapper(String name, List<Guard> guards) {
            throw new MustacheException("the template uses '" + name + "', which the scope does not define");
        }
    }
}
