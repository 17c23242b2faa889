package io.autoresearch.probe.cli;

import java.lang.reflect.Constructor;
import picocli.CommandLine;

/**
 * A picocli factory that passes the {@link ProbeContext} to every command class with a
 * constructor taking one, and creates all other classes with picocli's default factory.
 */
final class ContextFactory implements CommandLine.IFactory {
    private final ProbeContext context;
    private final CommandLine.IFactory fallback = CommandLine.defaultFactory();

    ContextFactory(ProbeContext context) {
        this.context = context;
    }

    @Override
    public <K> K create(Class<K> type) throws Exception {
        for (Constructor<?> constructor : type.getDeclaredConstructors()) {
            Class<?>[] parameters = constructor.getParameterTypes();
            if (parameters.length == 1 && parameters[0] == ProbeContext.class) {
                constructor.setAccessible(true);
                return type.cast(constructor.newInstance(context));
            }
        }
        return fallback.create(type);
    }
}
