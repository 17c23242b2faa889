package io.autoresearch.probe.setup;

import io.autoresearch.probe.workspace.Workspace;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Writes the files setup owns without losing a person's edits.
 *
 * <p>For each planned file: a missing file is written; an unedited file (its sha256 equals
 * the manifest's) is rewritten only when its new content differs; a file that
 * differs from the manifest, or exists without a manifest entry, counts as edited and is kept
 * unless {@code force} is set. A file whose content already equals the planned content is
 * kept in every case. Every write is atomic.
 */
public final class ManagedFiles {
    /** The action taken for one planned file. */
    public enum Action {
        WROTE("wrote"),
        KEPT("kept"),
        SKIPPED_EDITED("skipped (edited; use --force to overwrite)");

        private final String label;

        Action(String label) {
            this.label = label;
        }

        public String label() {
            return label;
        }
    }

    /** The outcome for one file: its path relative to code/ and the action taken. */
    public record Outcome(String path, Action action) {
        /** Formats the report line, such as {@code wrote analysis/demo.py}. */
        public String line() {
            return action.label() + " " + path;
        }
    }

    /** The result of applying a plan: per-file outcomes and the updated manifest. */
    public record Applied(List<Outcome> outcomes, Manifest manifest) {
    }

    private ManagedFiles() {
    }

    /**
     * Applies {@code plan} (path relative to code/ → content) to the workspace and returns the
     * outcomes together with the manifest updated for every file written or kept. Entries of
     * skipped files keep their old manifest sha256, so the file still counts as edited later.
     */
    public static Applied apply(Workspace workspace, Manifest manifest, Map<String, byte[]> plan,
            boolean force, String toolVersion) {
        List<Outcome> outcomes = new ArrayList<>();
        List<Manifest.FileEntry> entries = new ArrayList<>();
        for (Map.Entry<String, byte[]> file : plan.entrySet()) {
            String relative = file.getKey();
            byte[] content = file.getValue();
            Path target = workspace.resolveInCode(relative);
            Action action = decide(target, content, manifest.file(relative).map(Manifest.FileEntry::sha256)
                    .orElse(null), force);
            if (action == Action.WROTE) {
                AtomicFiles.write(target, content);
            }
            if (action != Action.SKIPPED_EDITED) {
                entries.add(new Manifest.FileEntry(relative, AtomicFiles.sha256(content)));
            }
            outcomes.add(new Outcome(relative, action));
        }
        return new Applied(outcomes, manifest.withFiles(entries, toolVersion));
    }

    /** Decides the action for one file without writing anything. */
    static Action decide(Path target, byte[] content, String manifestSha256, boolean force) {
        if (!Files.exists(target)) {
            return Action.WROTE;
        }
        byte[] current = readAll(target);
        if (Arrays.equals(current, content)) {
            return Action.KEPT;
        }
        boolean unedited = manifestSha256 != null && manifestSha256.equals(AtomicFiles.sha256(current));
        if (unedited || force) {
            return Action.WROTE;
        }
        return Action.SKIPPED_EDITED;
    }

    private static byte[] readAll(Path target) {
        try {
            return Files.readAllBytes(target);
        } catch (IOException e) {
            throw new UncheckedIOException("could not read " + target, e);
        }
    }
}
