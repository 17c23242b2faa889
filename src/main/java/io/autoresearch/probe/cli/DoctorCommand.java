package io.autoresearch.probe.cli;

import io.autoresearch.probe.doctor.Check;
import io.autoresearch.probe.doctor.Doctor;
import io.autoresearch.probe.setup.ModelResolver;
import io.autoresearch.probe.support.ExitCode;
import io.autoresearch.probe.support.ProbeException;
import io.autoresearch.probe.uv.UvLocator;
import io.autoresearch.probe.workspace.Slug;
import io.autoresearch.probe.workspace.Workspace;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code auto-research doctor}: checks the machine and, optionally, one workspace and one model. */
@Command(name = "doctor",
        mixinStandardHelpOptions = true,
        versionProvider = VersionProvider.class,
        description = {
            "Check Java, uv, Python 3.11, the locked attention extra, torch and its device, and whether a model"
                    + " loads offline.",
            "Prints one line per check, 'ok|warn|fail <name>: <detail>'; a failed check says how to fix it.",
            "Without --slug it imports no torch and answers quickly; with --slug it runs one short Python script in"
                    + " the workspace's code/.venv (uv run --no-sync --offline: nothing is installed or downloaded).",
            "Exits with 0 when no check fails and with 3 when one does."
        })
final class DoctorCommand implements Callable<Integer> {
    private final ProbeContext context;

    @Spec
    private CommandSpec spec;

    @Option(names = "--root", paramLabel = "DIR",
            description = "Folder that contains .research/ (default: the current folder).")
    private Path root;

    @Option(names = "--slug", paramLabel = "SLUG",
            description = "Also check .research/<slug>/code/: its declared extra, the packages in its .venv, torch"
                    + " and its device.")
    private String slug;

    @Option(names = "--model", paramLabel = "ID_OR_PATH",
            description = "Check that this model folder or cached hub id has its config, weights and tokenizer on"
                    + " disk, so it loads without a download.")
    private String model;

    DoctorCommand(ProbeContext context) {
        this.context = context;
    }

    @Override
    public Integer call() {
        if (root != null && slug == null) {
            throw ProbeException.usage("--root needs --slug: pass the workspace to check, such as --slug induction-demo");
        }
        Workspace workspace = null;
        if (slug != null) {
            Path rootDir = root == null ? context.workingDirectory() : context.workingDirectory().resolve(root).normalize();
            workspace = new Workspace(rootDir, Slug.parse(slug));
        }
        UvLocator locator = new UvLocator(UvLocator.defaultToolHome(context.environment(), context.userHome()),
                context.environment());
        ModelResolver resolver = new ModelResolver(context.environment(), context.userHome(), context.workingDirectory());
        List<Check> checks = new Doctor(context.environment(), locator, resolver).run(workspace, model);
        PrintWriter out = spec.commandLine().getOut();
        for (Check check : checks) {
            out.println(check.line());
        }
        out.flush();
        return checks.stream().anyMatch(Check::failed) ? ExitCode.ENVIRONMENT.code() : ExitCode.SUCCESS.code();
    }
}
