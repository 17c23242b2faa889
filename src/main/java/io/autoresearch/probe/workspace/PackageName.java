package io.autoresearch.probe.workspace;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import io.autoresearch.probe.support.ProbeException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The import name of the research project's Python package ({@code code/src/<pkg>}).
 *
 * <p>It is the {@code [project].name} of {@code code/pyproject.toml} normalised the way uv
 * names the package folder (lower case, runs of {@code -}, {@code _} and {@code .} become one
 * {@code _}), or the slug with {@code -} replaced by {@code _} when there is no project name.
 */
public final class PackageName {
    private static final Pattern SEPARATOR_RUN = Pattern.compile("[-_.]+");
    private static final Pattern IDENTIFIER = Pattern.compile("^[a-z_][a-z0-9_]*$");
    private static final Set<String> PYTHON_KEYWORDS = Set.of(
            "false", "none", "true", "and", "as", "assert", "async", "await", "break", "class",
            "continue", "def", "del", "elif", "else", "except", "finally", "for", "from", "global",
            "if", "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise",
            "return", "try", "while", "with", "yield");

    private PackageName() {
    }

    /** Normalises a distribution name to an import name: lower case, separator runs to {@code _}. */
    public static String normalise(String projectName) {
        return SEPARATOR_RUN.matcher(projectName.trim().toLowerCase(Locale.ROOT)).replaceAll("_");
    }

    /** Returns whether {@code name} is a lower-case Python identifier that is not a keyword. */
    public static boolean isValidImportName(String name) {
        return IDENTIFIER.matcher(name).matches() && !PYTHON_KEYWORDS.contains(name);
    }

    /**
     * Reads {@code [project].name} from a pyproject.toml, or returns null when the file or the
     * key is absent. A file that is not valid TOML is a usage error naming the file.
     */
    public static String readProjectName(Path pyproject) {
        if (!Files.isRegularFile(pyproject)) {
            return null;
        }
        JsonNode root;
        try {
            root = new TomlMapper().readTree(pyproject.toFile());
        } catch (IOException e) {
            throw ProbeException.usage("invalid TOML in " + pyproject + ": " + firstLine(e.getMessage())
                    + "; fix the file or move it away");
        }
        JsonNode name = root.path("project").path("name");
        return name.isTextual() && !name.asText().isBlank() ? name.asText() : null;
    }

    /**
     * Resolves the package name of a project: the normalised {@code [project].name}, else the
     * slug-derived name. Throws a usage error when the project name cannot be an import name.
     */
    public static String resolve(Path pyproject, Slug slug) {
        String projectName = readProjectName(pyproject);
        if (projectName == null) {
            return slug.toPackageName();
        }
        String normalised = normalise(projectName);
        if (!isValidImportName(normalised)) {
            throw ProbeException.usage("project name '" + projectName + "' in " + pyproject
                    + " normalises to '" + normalised + "', which is not a Python import name;"
                    + " rename [project].name so it starts with a letter");
        }
        return normalised;
    }

    private static String firstLine(String message) {
        if (message == null) {
            return "unreadable";
        }
        int newline = message.indexOf('\n');
        return newline < 0 ? message : message.substring(0, newline);
    }
}
