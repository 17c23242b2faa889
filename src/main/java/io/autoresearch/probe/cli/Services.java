package io.autoresearch.probe.cli;

import io.autoresearch.probe.process.ProcessRunner;
import io.autoresearch.probe.render.TemplateRenderer;
import io.autoresearch.probe.setup.ModelResolver;
import io.autoresearch.probe.setup.SetupService;
import io.autoresearch.probe.setup.SetupValidator;
import io.autoresearch.probe.setup.ToolVersion;
import io.autoresearch.probe.setup.UvProjectTool;
import io.autoresearch.probe.support.Console;
import io.autoresearch.probe.uv.UvLocator;
import java.util.Map;

/** Wires the services that commands call, from the context and the parsed options. */
final class Services {
    private Services() {
    }

    /**
     * Creates the setup service.
     *
     * @param uvEnvironment variables added to uv init and uv add, such as {@code UV_OFFLINE=1}
     * @param allowUvInstall whether uv may be installed into the tool home when it is missing
     */
    static SetupService setup(ProbeContext context, Console console, Map<String, String> uvEnvironment,
            boolean allowUvInstall) {
        String version = ToolVersion.current();
        ModelResolver resolver = new ModelResolver(context.environment(), context.userHome(),
                context.workingDirectory());
        UvLocator locator = new UvLocator(UvLocator.defaultToolHome(context.environment()), context.environment());
        UvProjectTool projectTool = new UvProjectTool(locator, uvEnvironment, allowUvInstall,
                new ProcessRunner(context.environment()), console);
        return new SetupService(new SetupValidator(resolver, context.clock(), version), projectTool,
                new TemplateRenderer(), console, version);
    }
}
