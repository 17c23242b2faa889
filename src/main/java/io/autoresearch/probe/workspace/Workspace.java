package io.autoresearch.probe.workspace;

import io.autoresearch.probe.support.ProbeException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

/**
 * The paths of one research workspace, {@code <root>/.research/<slug>/}, as the plugin lays
 * it out. Every path that setup writes is resolved through {@link #resolveInCode(String)} or
 * {@link #checkInside(Path)}, which reject paths and symbolic links that lead out of the
 * research folder.
 */
public final class Workspace {
    public static final String RESEARCH_FOLDER = ".research";

    private final Path root;
    private final Slug slug;
    private final Path researchDir;
    private final Path codeDir;

    public Workspace(Path root, Slug slug) {
        this.root = root.toAbsolutePath().normalize();
        this.slug = slug;
        this.researchDir = this.root.resolve(RESEARCH_FOLDER).resolve(slug.value());
        this.codeDir = researchDir.resolve("code");
    }

    public Path root() {
        return root;
    }

    public Slug slug() {
        return slug;
    }

    /** Returns the study folder {@code <root>/.research/<slug>/}. */
    public Path researchDir() {
        return researchDir;
    }

    /** Returns the uv project folder {@code .research/<slug>/code/}, the working directory of every script. */
    public Path codeDir() {
        return codeDir;
    }

    public Path experimentPlan() {
        return researchDir.resolve("04_EXPERIMENT_PLAN.md");
    }

    public Path pyproject() {
        return codeDir.resolve("pyproject.toml");
    }

    public Path manifest() {
        return codeDir.resolve(".auto-research").resolve("manifest.json");
    }

    public Path activationCacheDir() {
        return codeDir.resolve("cache").resolve("activations");
    }

    public Path eventsFile() {
        return codeDir.resolve("cache").resolve("events.jsonl");
    }

    public Path resultsDir() {
        return codeDir.resolve("results").resolve("probe");
    }

    /** Returns the results file {@code results/probe/<probe_id>.json} of one probe. */
    public Path resultsFile(String probeId) {
        return resultsDir().resolve(probeId + ".json");
    }

    /** Returns the package name: normalised {@code [project].name}, else the slug-derived one. */
    public String packageName() {
        return PackageName.resolve(pyproject(), slug);
    }

    /** Returns the path of a file relative to {@code code/}, with {@code /} separators. */
    public String relativeToCode(Path path) {
        Path relative = codeDir.relativize(path.toAbsolutePath().normalize());
        return relative.toString().replace('\\', '/');
    }

    /** Returns whether {@code path} lies inside {@code code/} (lexically, before links). */
    public boolean isInsideCode(Path path) {
        return path.toAbsolutePath().normalize().startsWith(codeDir);
    }

    /**
     * Resolves a {@code /}-separated path relative to {@code code/} and checks that it stays in
     * the research folder. Throws a usage error for absolute paths, {@code ..} escapes and
     * symbolic links that point outside.
     */
    public Path resolveInCode(String relative) {
        Path candidate = Path.of(relative);
        if (candidate.isAbsolute()) {
            throw ProbeException.usage("path '" + relative + "' must be relative to " + codeDir);
        }
        Path resolved = codeDir.resolve(candidate).normalize();
        if (!resolved.startsWith(codeDir)) {
            throw ProbeException.usage("path '" + relative + "' leaves " + codeDir
                    + "; use a path inside the project");
        }
        return checkInside(resolved);
    }

    /**
     * Checks that {@code path}, after following every symbolic link in the part that exists,
     * lies inside the research folder. Returns the lexically normalised path.
     */
    public Path checkInside(Path path) {
        return checkInside(researchDir, path);
    }

    /**
     * Checks that {@code path}, after following every symbolic link in the part that exists,
     * lies inside {@code researchDir}, the folder {@code .research/<slug>/}. Returns the
     * lexically normalised path. For callers that know the folder but not the slug, such as a
     * run given only its {@code code/} folder.
     */
    public static Path checkInside(Path researchDir, Path path) {
        researchDir = researchDir.toAbsolutePath().normalize();
        Path normalised = path.toAbsolutePath().normalize();
        if (!normalised.startsWith(researchDir)) {
            throw ProbeException.usage("path " + normalised + " is outside the workspace " + researchDir);
        }
        Path boundary = realPathOrSelf(researchDir);
        Path existing = normalised;
        while (existing != null && !Files.exists(existing, LinkOption.NOFOLLOW_LINKS)) {
            existing = existing.getParent();
        }
        if (existing == null || !existing.startsWith(researchDir)) {
            // Nothing inside the research folder exists yet, so no link there can lead out.
            return normalised;
        }
        if (Files.isSymbolicLink(existing) && !Files.exists(existing)) {
            throw ProbeException.usage("path " + existing + " is a dangling symbolic link; remove it");
        }
        Path real = realPathOrSelf(existing);
        if (!real.startsWith(boundary)) {
            throw ProbeException.usage("path " + existing + " resolves through a symbolic link to " + real
                    + ", outside the workspace " + boundary + "; remove the link or point it inside");
        }
        return normalised;
    }

    private static Path realPathOrSelf(Path path) {
        if (!Files.exists(path)) {
            // A dangling link or a folder not created yet: its parent decides.
            Path parent = path.getParent();
            return parent == null ? path : realPathOrSelf(parent).resolve(path.getFileName());
        }
        try {
            return path.toRealPath();
        } catch (IOException e) {
            throw new UncheckedIOException("could not resolve " + path, e);
        }
    }
}
