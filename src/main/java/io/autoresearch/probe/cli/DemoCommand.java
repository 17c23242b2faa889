package io.autoresearch.probe.cli;

import io.autoresearch.probe.demo.DemoService;
import io.autoresearch.probe.run.RunOutcome;
import io.autoresearch.probe.setup.Backend;
import io.autoresearch.probe.support.Console;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code auto-research probe demo}: builds the induction demo workspace, sets up its probe and runs it. */
@Command(name = "demo",
        mixinStandardHelpOptions = true,
        versionProvider = VersionProvider.class,
        description = {
            "Create .research/induction-demo/ with an experiment plan and a uv project holding a trained 2-layer"
                    + " demo model, its prompts, clean/corrupted pairs and labelled texts, set up six probes (logit"
                    + " lens, attention pattern, activation patching, path patching, probing, SAE feature lookup),"
                    + " and run them.",
            "Re-running keeps files you edited unless --force is given. Prints each results file on stdout as"
                    + " '<path><TAB>valid' or '<path><TAB>invalid (N problems)'; with --json, one object with"
                    + " workspace, setups (as probe setup --json), run_id, results and failure."
        })
final class DemoCommand implements Callable<Integer> {
    private final ProbeContext context;

    @Mixin
    private CommonOptions common;

    @Option(names = "--online",
            description = "Let the script reach the Hugging Face hub (by default it runs offline; the demo model"
                    + " is local).")
    private boolean online;

    @Option(names = "--force",
            description = "Overwrite demo files and scripts you edited since the last demo or setup (by default"
                    + " they are kept and listed as skipped).")
    private boolean force;

    @Option(names = "--backend", paramLabel = "NAME", defaultValue = "transformer_lens",
            description = "transformer_lens or nnsight: with nnsight, the logit lens, activation patching and probing"
                    + " probes run on nnsight and the others on transformer_lens (default: ${DEFAULT-VALUE}).")
    private String backend;

    DemoCommand(ProbeContext context) {
        this.context = context;
    }

    @Override
    public Integer call() {
        Backend chosen = Backend.parseOrAuto("--backend", backend, false);
        Console console = common.console();
        // The run service prints each results file on stdout as it validates it.
        DemoService.DemoResult result = Services.demo(context, console, common.allowUvInstall())
                .run(common.root(context), common.allowUvInstall(), online, force, chosen);
        int exitCode = result.exitCode().code();
        if (common.json()) {
            RunOutcome run = result.run();
            JsonOutput.print(console, new JsonOutput.DemoDocument("demo", exitCode,
                    result.workspace().researchDir().toString(),
                    result.setups().stream().map(setup -> JsonOutput.SetupDocument.of(setup, exitCode)).toList(),
                    run == null ? null : run.runId(), JsonOutput.ResultsFile.of(run),
                    run == null ? null : run.failure()));
        }
        return exitCode;
    }
}
