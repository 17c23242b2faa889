package io.autoresearch.probe.cli;

import io.autoresearch.probe.setup.ExperimentPlan;
import io.autoresearch.probe.support.Console;
import io.autoresearch.probe.support.ExitCode;
import io.autoresearch.probe.support.ProbeException;
import io.autoresearch.probe.workspace.Slug;
import io.autoresearch.probe.workspace.Workspace;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/** {@code auto-research probe plan}: lists the research questions and hypotheses of a workspace's plan. */
@Command(name = "plan",
        mixinStandardHelpOptions = true,
        versionProvider = VersionProvider.class,
        description = {
            "List the research questions and hypotheses of .research/<slug>/04_EXPERIMENT_PLAN.md: each item under"
                    + " '## Research Questions' and '## Hypotheses', one per line on stdout.",
            "A question's line ends with '<TAB>hypothesis: H<n>', the hypothesis that `probe setup --rq RQ<n>`"
                    + " selects: the first hypothesis tagged (RQ<n>), or H<n> when the plan tags none. A tagged"
                    + " hypothesis's line ends with '<TAB>answers: RQ<n>', and its tag is left out of the text.",
            "With --json, one object with plan (the file), research_questions (each {id, text, hypothesis}) and"
                    + " hypotheses (each {id, text, research_questions}).",
            "Exit code 0, or 2 when the workspace or the plan is missing."
        })
final class PlanCommand implements Callable<Integer> {
    private final ProbeContext context;

    @Mixin
    private CommonOptions common;

    @Parameters(index = "0", paramLabel = "SLUG", description = "Research slug, the folder under .research/.")
    private String slug;

    PlanCommand(ProbeContext context) {
        this.context = context;
    }

    @Override
    public Integer call() {
        Console console = common.console();
        Workspace workspace = new Workspace(common.root(context), Slug.parse(slug));
        ExperimentPlan.Plan plan = ExperimentPlan.read(workspace.experimentPlan());
        if (plan == null) {
            throw ProbeException.usage("experiment plan not found: " + workspace.experimentPlan() + " does not"
                    + " exist. Check the slug, and pass --root DIR when .research/ is not in the current folder");
        }
        if (plan.questions().isEmpty() && plan.hypotheses().isEmpty()) {
            console.warn(plan.file() + " has no items under '## Research Questions' or '## Hypotheses'");
        }

        List<JsonOutput.PlanQuestion> questions = new ArrayList<>();
        for (ExperimentPlan.Item question : plan.questions()) {
            ExperimentPlan.Item hypothesis = question.id() == null ? null : plan.findHypothesis(question.id());
            String hypothesisId = hypothesis == null ? null : hypothesis.id();
            questions.add(new JsonOutput.PlanQuestion(question.id(), question.text(), hypothesisId));
            console.result(question.text() + (hypothesisId == null ? "" : "\thypothesis: " + hypothesisId));
        }
        List<JsonOutput.PlanHypothesis> hypotheses = new ArrayList<>();
        for (ExperimentPlan.Item hypothesis : plan.hypotheses()) {
            hypotheses.add(new JsonOutput.PlanHypothesis(hypothesis.id(), hypothesis.text(), hypothesis.questions()));
            console.result(hypothesis.text() + (hypothesis.questions().isEmpty() ? ""
                    : "\tanswers: " + String.join(", ", hypothesis.questions())));
        }
        if (common.json()) {
            JsonOutput.print(console, new JsonOutput.PlanDocument("plan", ExitCode.SUCCESS.code(),
                    plan.file().toString(), questions, hypotheses));
        }
        return ExitCode.SUCCESS.code();
    }
}
