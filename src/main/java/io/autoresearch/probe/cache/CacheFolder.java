package io.autoresearch.probe.cache;

import io.autoresearch.probe.support.ProbeException;
import io.autoresearch.probe.workspace.Workspace;
import java.nio.file.Files;
import java.nio.file.Path;

/** Finds the activation cache folder of a research workspace, or raises a usage error that names the missing path and the fix. */
public final class CacheFolder {
    private CacheFolder() {
    }

    /**
     * Returns {@code .research/<slug>/code/cache/activations/}.
     *
     * @throws ProbeException (USAGE) when the workspace or the folder does not exist, when the
     *     folder is not a folder, or when a symbolic link on its path leads out of the workspace
     */
    public static Path locate(Workspace workspace) {
        if (!Files.isDirectory(workspace.researchDir())) {
            throw ProbeException.usage("research workspace not found: " + workspace.researchDir()
                    + " does not exist. Check the slug, and pass --root DIR when .research/ is not in the"
                    + " current folder");
        }
        Path folder = workspace.activationCacheDir();
        workspace.checkInside(folder);
        if (!Files.exists(folder)) {
            throw ProbeException.usage("activation cache folder not found: " + folder + " does not exist."
                    + " `auto-research probe setup " + workspace.slug().value() + "` creates it, and the probe"
                    + " scripts fill it when they run");
        }
        if (!Files.isDirectory(folder)) {
            throw ProbeException.usage("the activation cache path " + folder + " is not a folder. Move the file"
                    + " away and rerun `auto-research probe setup " + workspace.slug().value() + "`");
        }
        return folder;
    }
}
