package io.autoresearch.probe.setup;

import io.autoresearch.probe.support.ProbeException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads the plugin's {@code 04_EXPERIMENT_PLAN.md}: the items under {@code ## Research Questions}
 * and {@code ## Hypotheses}.
 *
 * <p>An item is a list item or a paragraph, its continuation lines joined by spaces. Its id is
 * the {@code RQ<n>} or {@code H<n>} it starts with (bold allowed, as in {@code **H1**:}), or
 * null. A hypothesis can name the research questions it answers with a tag such as
 * {@code (RQ2)} or {@code (RQ1, RQ3)} anywhere in its text; the tag is removed from the text
 * that scripts and results get. A research question maps to the first hypothesis tagged with
 * it. When no hypothesis in the plan has a tag, {@code RQ<n>} maps to {@code H<n>} by number.
 */
public final class ExperimentPlan {
    /** The hypothesis used when neither {@code --hypothesis} nor the plan gives one. */
    public static final String NO_HYPOTHESIS = "No hypothesis was given: pass --hypothesis TEXT to setup,"
            + " or add one under '## Hypotheses' in 04_EXPERIMENT_PLAN.md and run setup again.";

    /** The form of a research question id given to {@code --rq}. */
    public static final Pattern QUESTION_ID = Pattern.compile("RQ\\d+");

    private static final Pattern LIST_MARKER = Pattern.compile("^\\s*(?:[-*+]|\\d+[.)])\\s+");
    private static final Pattern ITEM_ID = Pattern.compile("^\\**((?:RQ|H)\\d+)\\b\\**", Pattern.CASE_INSENSITIVE);
    private static final Pattern TAG = Pattern.compile("\\s*\\(\\s*(RQ\\d+(?:\\s*,\\s*RQ\\d+)*)\\s*\\)",
            Pattern.CASE_INSENSITIVE);
    private static final String QUESTIONS_HEADING = "##\\s+Research Questions\\s*";
    private static final String HYPOTHESES_HEADING = "##\\s+Hypotheses\\s*";

    /**
     * One research question or hypothesis.
     *
     * @param id {@code RQ<n>} or {@code H<n>}, upper-case, or null when the item starts with neither
     * @param text the item without its list marker and without its tags
     * @param questions the research question ids the item is tagged with (hypotheses only)
     */
    public record Item(String id, String text, List<String> questions) {
        public Item {
            questions = List.copyOf(questions);
        }
    }

    /** The research questions and hypotheses of one plan file, in the order they are written. */
    public record Plan(Path file, List<Item> questions, List<Item> hypotheses) {
        public Plan {
            questions = List.copyOf(questions);
            hypotheses = List.copyOf(hypotheses);
        }

        /**
         * Returns the hypothesis that answers {@code questionId}: the first one tagged with it,
         * or, when no hypothesis has a tag, {@code H<n>} for {@code RQ<n>}.
         *
         * @throws ProbeException (USAGE) when the plan has no such question or no matching hypothesis
         */
        public Item hypothesisFor(String questionId) {
            boolean listed = questions.stream().anyMatch(question -> questionId.equals(question.id()));
            if (!listed) {
                List<String> ids = questions.stream().map(Item::id).filter(id -> id != null).toList();
                throw ProbeException.usage("research question " + questionId + " not found under '## Research"
                        + " Questions' in " + file + (ids.isEmpty() ? ", which lists no RQ<n> ids"
                        : "; it lists " + String.join(", ", ids)) + ". Run `auto-research probe plan <slug>` to see"
                        + " the plan");
            }
            Item found = findHypothesis(questionId);
            if (found != null) {
                return found;
            }
            boolean tagged = tagged();
            String numbered = "H" + questionId.substring(2);
            throw ProbeException.usage("no hypothesis for " + questionId + " under '## Hypotheses' in " + file
                    + (tagged ? ": no hypothesis is tagged (" + questionId + "). Add the tag to the hypothesis"
                            + " that answers it"
                            : ": the plan tags no hypothesis with a research question, so " + questionId + " needs "
                            + numbered + ". Add " + numbered + ", or tag a hypothesis with (" + questionId + ")")
                    + ", or pass --hypothesis TEXT instead of --rq");
        }

        /**
         * Returns the first hypothesis tagged with {@code questionId}, or, when no hypothesis has a
         * tag, {@code H<n>} for {@code RQ<n>}; null when there is none.
         */
        public Item findHypothesis(String questionId) {
            boolean tagged = tagged();
            String numbered = "H" + questionId.substring(2);
            for (Item hypothesis : hypotheses) {
                if (tagged ? hypothesis.questions().contains(questionId) : numbered.equals(hypothesis.id())) {
                    return hypothesis;
                }
            }
            return null;
        }

        /** Returns whether any hypothesis names its research questions with a tag. */
        public boolean tagged() {
            return hypotheses.stream().anyMatch(hypothesis -> !hypothesis.questions().isEmpty());
        }
    }

    private ExperimentPlan() {
    }

    /** Reads the plan, or returns null when the file is missing. */
    public static Plan read(Path planFile) {
        if (!Files.isRegularFile(planFile)) {
            return null;
        }
        List<String> lines;
        try {
            lines = Files.readAllLines(planFile, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + planFile, e);
        }
        return new Plan(planFile, section(lines, QUESTIONS_HEADING).stream().map(ExperimentPlan::item).toList(),
                section(lines, HYPOTHESES_HEADING).stream().map(ExperimentPlan::item).toList());
    }

    /**
     * Returns the first hypothesis under the {@code ## Hypotheses} heading: the first list item
     * or paragraph, with its list marker and tags removed and its continuation lines joined by
     * spaces. Returns null when the file, the section or any text in it is missing.
     */
    public static String firstHypothesis(Path planFile) {
        Plan plan = read(planFile);
        return plan == null || plan.hypotheses().isEmpty() ? null : plan.hypotheses().get(0).text();
    }

    /** Returns the items of the section under {@code heading}, up to the next heading. */
    private static List<String> section(List<String> lines, String heading) {
        int index = 0;
        while (index < lines.size() && !lines.get(index).trim().matches(heading)) {
            index++;
        }
        List<String> items = new ArrayList<>();
        StringBuilder current = null;
        for (index++; index < lines.size(); index++) {
            String line = lines.get(index);
            if (line.trim().startsWith("#")) {
                break;
            }
            if (line.isBlank() || LIST_MARKER.matcher(line).find()) {
                if (current != null) {
                    items.add(current.toString());
                    current = null;
                }
                if (!line.isBlank()) {
                    current = new StringBuilder(LIST_MARKER.matcher(line).replaceFirst("").trim());
                }
            } else if (current == null) {
                current = new StringBuilder(line.trim());
            } else {
                current.append(' ').append(line.trim());
            }
        }
        if (current != null) {
            items.add(current.toString());
        }
        return items;
    }

    private static Item item(String raw) {
        List<String> questions = new ArrayList<>();
        Matcher tag = TAG.matcher(raw);
        while (tag.find()) {
            for (String id : tag.group(1).split(",")) {
                questions.add(id.trim().toUpperCase(Locale.ROOT));
            }
        }
        String text = TAG.matcher(raw).replaceAll("").trim();
        Matcher id = ITEM_ID.matcher(text);
        return new Item(id.find() ? id.group(1).toUpperCase(Locale.ROOT) : null, text, questions);
    }
}
