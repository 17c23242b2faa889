package io.autoresearch.probe.cli;

import io.autoresearch.probe.process.ProcessRunner;
import io.autoresearch.probe.results.ResultsValidator;
import io.autoresearch.probe.run.RunOutcome;
import io.autoresearch.probe.run.RunRequest;
import io.autoresearch.probe.run.RunService;
import io.autoresearch.probe.setup.Backend;
import io.autoresearch.probe.support.Console;
import io.autoresearch.probe.uv.UvLocator;
import io.autoresearch.probe.workspace.Slug;
import io.autoresearch.probe.workspace.Workspace;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code auto-research probe run}: runs the scaffolded probes of a research project and checks their results. */
@Command(name = "run",
        mixinStandardHelpOptions = true,
        versionProvider = VersionProvider.class,
        description = {
            "Run `uv sync --extra attention` in .research/<slug>/code/, then each probe script listed in"
                    + " code/.auto-research/manifest.json with `uv run`, streaming their output to stderr.",
            "Every results file in code/results/probe/ that the scripts wrote or changed is validated against the"
                    + " results schema and its semantic rules.",
            "Prints each results file on stdout as '<path><TAB>valid' or '<path><TAB>invalid'. Full logs are"
                    + " written to code/.auto-research/logs/, with the values of NDIF_API_KEY, HF_TOKEN and other"
                    + " secret variables replaced by [redacted]. With --json, one object with run_id, results (each"
                    + " {file, status, problems}) and failure (the report of a failed script, or null).",
            "One run at a time works in a project: a second run waits for the lock"
                    + " code/.auto-research/run.lock. Ctrl-C stops uv, the script and everything it started."
        })
final class RunCommand implements Callable<Integer> {
    private final ProbeContext context;

    @Spec
    private CommandSpec spec;

    @Mixin
    private CommonOptions common;

    @Parameters(index = "0", paramLabel = "SLUG", description = "Research slug, the folder under .research/.")
    private String slug;

    @Option(names = "--online",
            description = "Let scripts reach the Hugging Face hub (by default they run with HF_HUB_OFFLINE=1"
                    + " and TRANSFORMERS_OFFLINE=1).")
    private boolean online;

    @Option(names = "--timeout", paramLabel = "SECONDS",
            description = "Kill a script that runs longer than this many seconds, and exit with 8 (default: no"
                    + " limit; uv sync is never limited).")
    private Long timeoutSeconds;

    @Option(names = "--backend", paramLabel = "NAME", defaultValue = Backend.AUTO,
            description = "Run only the probes set up for this backend: transformer_lens or nnsight; auto runs"
                    + " every probe (default: ${DEFAULT-VALUE}).")
    private String backend;

    RunCommand(ProbeContext context) {
        this.context = context;
    }

    @Override
    public Integer call() {
        if (timeoutSeconds != null && timeoutSeconds <= 0) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "invalid --timeout " + timeoutSeconds + ": give a positive number of seconds");
        }
        Backend selected = Backend.parseOrAuto("--backend", backend, true);
        Console console = common.console();
        Workspace workspace = new Workspace(common.root(context), Slug.parse(slug));
        Duration timeout = timeoutSeconds == null ? null : Duration.ofSeconds(timeoutSeconds);

        RunRequest request = new RunRequest(workspace.codeDir(), common.allowUvInstall(), online, timeout, selected);
        RunOutcome outcome = service(console).run(request);
        if (common.json()) {
            JsonOutput.print(console, JsonOutput.RunDocument.of(outcome));
        }
        return outcome.exitCode().code();
    }

    private RunService service(Console console) {
        UvLocator locator = new UvLocator(UvLocator.defaultToolHome(context.environment(), context.userHome()),
                context.environment());
        return new RunService(locator, new ProcessRunner(context.environment()), new ResultsValidator(), console,
                context.clock(), new SecureRandom());
    }
}
