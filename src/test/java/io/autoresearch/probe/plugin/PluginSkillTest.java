package io.autoresearch.probe.plugin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.autoresearch.probe.cli.CliRun;
import io.autoresearch.probe.cli.Main;
import io.autoresearch.probe.cli.ProbeContext;
import io.autoresearch.probe.setup.ToolVersion;
import io.autoresearch.probe.support.ExitCode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * Tests that keep the plugin's skill file in step with the command line. Every command it names
 * must exist, and every option must belong to the command it is written with (or to some command
 * when written alone). Its exit-code table must list every exit code.
 */
class PluginSkillTest {
    private static final Path PLUGIN = Path.of("plugin");
    private static final Path SKILL = PLUGIN.resolve("skills").resolve("research-attention-probe").resolve("SKILL.md");
    private static final Pattern OPTION = Pattern.compile("(?<![\\w-])--[a-z][a-z0-9-]*");
    private static final Pattern INLINE_CODE = Pattern.compile("`([^`\\n]+)`");
    /** The uv command lines the skill quotes. Their options belong to uv, so the checks skip them. */
    /** The command name as a word, not inside a path such as code/.auto-research/. */
    private static final Pattern COMMAND_NAME = Pattern.compile("(?<![\\w./-])auto-research(?![\\w/-])");
    private static final Pattern UV_COMMAND = Pattern.compile("\\buv (sync|run)\\b[^`\\n]*");

    private final CommandLine root = Main.commandLine(new ProbeContext(Map.of(), Path.of("").toAbsolutePath(),
            Path.of("").toAbsolutePath(), CliRun.FIXED_CLOCK));

    @Test
    void manifestHasNameVersionDescription() throws IOException {
        JsonNode manifest = new ObjectMapper().readTree(PLUGIN.resolve(".claude-plugin").resolve("plugin.json").toFile());

        assertEquals("auto-research-probe", manifest.path("name").asText());
        assertEquals(ToolVersion.current(), manifest.path("version").asText());
        assertFalse(manifest.path("description").asText().isBlank(), manifest.toString());
    }

    @Test
    void skillFrontMatterNamesTheSkill() throws IOException {
        List<String> lines = Files.readAllLines(SKILL, StandardCharsets.UTF_8);

        assertEquals("---", lines.get(0));
        int end = lines.subList(1, lines.size()).indexOf("---") + 1;
        assertTrue(end > 1, "front matter is not closed by ---");
        List<String> frontMatter = lines.subList(1, end);
        assertTrue(frontMatter.contains("name: research.attention.probe"), frontMatter.toString());
        assertTrue(frontMatter.stream().anyMatch(line -> line.matches("description: \\S.{20,}")), frontMatter.toString());
    }

    @Test
    void skillNamesOnlyRealCommandsAndOptions() throws IOException {
        String skill = Files.readString(SKILL, StandardCharsets.UTF_8);
        Set<String> commandsNamed = new LinkedHashSet<>();
        List<String> problems = new ArrayList<>();

        for (String span : codeSpans(skill)) {
            String text = UV_COMMAND.matcher(span).replaceAll("");
            Matcher name = COMMAND_NAME.matcher(text);
            List<String> words;
            if (name.find()) {
                words = Arrays.asList(text.substring(name.end()).trim().split("\\s+"));
            } else if (text.startsWith("probe ")) {
                words = Arrays.asList(text.trim().split("\\s+"));
            } else {
                continue;
            }
            CommandLine command = root;
            for (String word : words) {
                CommandLine subcommand = command.getSubcommands().get(word);
                if (subcommand == null) {
                    if (!command.getSubcommands().isEmpty() && word.matches("[a-z][a-z-]*")) {
                        problems.add("'" + word + "' is not a command of " + command.getCommandSpec().qualifiedName()
                                + " (in `" + span + "`)");
                    }
                    break;
                }
                command = subcommand;
            }
            commandsNamed.add(command.getCommandSpec().qualifiedName());
            Matcher option = OPTION.matcher(text);
            while (option.find()) {
                if (command.getCommandSpec().findOption(option.group()) == null) {
                    problems.add(option.group() + " is not an option of " + command.getCommandSpec().qualifiedName()
                            + " (in `" + span + "`)");
                }
            }
        }

        Matcher option = OPTION.matcher(UV_COMMAND.matcher(skill).replaceAll(""));
        while (option.find()) {
            if (!existsAnywhere(root, option.group())) {
                problems.add(option.group() + " is not an option of any command");
            }
        }

        assertEquals(List.of(), problems);
        for (String expected : List.of("auto-research probe setup", "auto-research probe run",
                "auto-research probe validate", "auto-research probe report", "auto-research doctor")) {
            assertTrue(commandsNamed.contains(expected), "the skill never names " + expected + ": " + commandsNamed);
        }
    }

    @Test
    void skillListsEveryExitCode() throws IOException {
        String skill = Files.readString(SKILL, StandardCharsets.UTF_8);

        for (ExitCode exitCode : ExitCode.values()) {
            assertTrue(skill.contains("\n| " + exitCode.code() + " | "), "no row for exit code " + exitCode.code());
        }
    }

    @Test
    void skillStatesTheStatisticsRule() throws IOException {
        String skill = Files.readString(SKILL, StandardCharsets.UTF_8);

        assertTrue(skill.contains("64 examples × 3"), "the skill does not state 64 examples × 3 seeds");
        assertTrue(skill.contains("06_RUNS/attention/<probe_id>.md"), "the skill does not name the report path");
    }

    /** Returns the fenced code lines and inline code spans of a Markdown text. */
    private static List<String> codeSpans(String markdown) {
        List<String> spans = new ArrayList<>();
        boolean fenced = false;
        for (String line : markdown.split("\n")) {
            if (line.startsWith("```")) {
                fenced = !fenced;
            } else if (fenced) {
                spans.add(line.trim());
            } else {
                Matcher inline = INLINE_CODE.matcher(line);
                while (inline.find()) {
                    spans.add(inline.group(1).trim());
                }
            }
        }
        assertFalse(fenced, "a code fence is not closed");
        return spans;
    }

    private static boolean existsAnywhere(CommandLine command, String option) {
        if (command.getCommandSpec().findOption(option) != null) {
            return true;
        }
        return command.getSubcommands().values().stream().anyMatch(subcommand -> existsAnywhere(subcommand, option));
    }
}
