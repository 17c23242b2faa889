package io.autoresearch.probe.cli;

import io.autoresearch.probe.demo.DemoService;
import io.autoresearch.probe.process.ProcessRunner;
import io.autoresearch.probe.render.TemplateRenderer;
import io.autoresearch.probe.results.ResultsValidator;
import io.autoresearch.probe.run.RunService;
import io.autoresearch.probe.setup.ModelResolver;
import io.autoresearch.probe.setup.SetupService;
import io.autoresearch.probe.setup.SetupValidator;
import io.autoresearch.probe.setup.ToolVersion;
import io.autoresearch.probe.setup.UvProjectTool;
import io.autoresearch.probe.support.Console;
import io.autoresearch.probe.uv.UvLocator;
import java.security.SecureRandom;
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
        UvLocator locator = locator(context);
        UvProjectTool projectTool = new UvProjectTool(locator, uvEnvironment, allowUvInstall,
                new ProcessRunner(context.environment()), console);
        return new SetupService(new SetupValidator(resolver, context.clock(), version), projectTool,
                new TemplateRenderer(), console, version, context.environment());
    }

    /** Creates the demo service: setup and run wired as for the setup and run commands. */
    static DemoService demo(ProbeContext context, Console console, boolean allowUvInstall) {
        UvLocator locator = locator(context);
        ProcessRunner runner = new ProcessRunner(context.environment());
        UvProjectTool projectTool = new UvProjectTool(locator, Map.of(), allowUvInstall, runner, console);
        RunService runService = new RunService(locator, runner, new ResultsValidator(), console, context.clock(),
                new SecureRandom());
        return new DemoService(setup(context, console, Map.of(), allowUvInstall), projectTool, runService, console,
                ToolVersion.current());
    }

    private static UvLocator locator(ProbeContext context) {
        return new UvLocator(UvLocator.defaultToolHome(context.environment(), context.userHome()),
                context.environment());
    }
}
