package io.autoresearch.probe.cli;

import io.autoresearch.probe.cache.ByteSize;
import io.autoresearch.probe.cache.CacheEntry;
import io.autoresearch.probe.cache.CacheFile;
import io.autoresearch.probe.cache.CacheFolder;
import io.autoresearch.probe.cache.CacheInventory;
import io.autoresearch.probe.cache.CacheVerifier;
import io.autoresearch.probe.cache.Orphan;
import io.autoresearch.probe.support.Console;
import io.autoresearch.probe.support.ExitCode;
import io.autoresearch.probe.workspace.Slug;
import io.autoresearch.probe.workspace.Workspace;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/** {@code auto-research probe cache verify}: rechecks every entry's metadata and shard checksums. */
@Command(name = "verify",
        mixinStandardHelpOptions = true,
        versionProvider = VersionProvider.class,
        description = {
            "Recheck every entry of the activation cache code/cache/activations/ of the research"
                    + " workspace SLUG: the metadata parses and has every field, its key matches the file name, the shards cover each prompt"
                    + " once, and every listed shard exists as a regular file with the recorded size and sha256."
                    + " Symbolic links are reported, never followed.",
            "Prints one line per entry on stdout, '<key><TAB>ok', '<key><TAB>corrupt (N problems)' or"
                    + " '<key><TAB>format 1 (not read by this version)', then '<name><TAB>orphan (<reason>)' for"
                    + " each temporary file and each shard that no metadata lists. Each problem goes to stderr.",
            "With --json, one object with folder, entries (each {key, status, problems}, status ok, corrupt or"
                    + " format_1) and orphans (each {name, reason}).",
            "Exit code 6 when an entry is corrupt; orphans and format-1 entries are reported but are not"
                    + " corrupt entries, because no lookup reads them. 2 when the workspace or the cache folder is"
                    + " missing, else 0."
        })
final class CacheVerifyCommand implements Callable<Integer> {
    private final ProbeContext context;

    @Mixin
    private CommonOptions common;

    @Parameters(index = "0", paramLabel = "SLUG", description = "Research slug, the folder under .research/.")
    private String slug;

    CacheVerifyCommand(ProbeContext context) {
        this.context = context;
    }

    @Override
    public Integer call() {
        Console console = common.console();
        Workspace workspace = new Workspace(common.root(context), Slug.parse(slug));
        Path folder = CacheFolder.locate(workspace);
        CacheInventory inventory = CacheInventory.scan(folder);

        int corrupt = 0;
        int format1 = 0;
        List<JsonOutput.CacheEntryCheck> checks = new ArrayList<>();
        List<JsonOutput.CacheOrphan> orphans = new ArrayList<>();
        for (CacheEntry entry : inventory.entries()) {
            if (entry.format() == CacheEntry.Format.FORMAT_1) {
                format1++;
                checks.add(new JsonOutput.CacheEntryCheck(entry.key(), "format_1", List.of()));
                console.result(entry.key() + "\tformat 1 (not read by this version)");
                continue;
            }
            List<String> problems = CacheVerifier.check(folder, entry);
            checks.add(new JsonOutput.CacheEntryCheck(entry.key(), problems.isEmpty() ? "ok" : "corrupt", problems));
            if (problems.isEmpty()) {
                console.result(entry.key() + "\tok");
            } else {
                corrupt++;
                console.result(entry.key() + "\tcorrupt (" + problems.size()
                        + (problems.size() == 1 ? " problem)" : " problems)"));
                problems.forEach(problem -> console.error(entry.key() + ": " + problem));
            }
        }
        for (Orphan orphan : inventory.orphans()) {
            orphans.add(new JsonOutput.CacheOrphan(orphan.file().name(), orphan.kind().description()));
            console.result(orphan.file().name() + "\torphan (" + orphan.kind().description() + ")");
        }
        for (CacheFile other : inventory.otherFiles()) {
            console.warn(other.name() + " is " + describeOther(other) + ", not part of the cache format, so"
                    + " verify and clear leave it alone");
        }

        summarize(console, inventory, corrupt, format1);
        int exitCode = corrupt == 0 ? ExitCode.SUCCESS.code() : ExitCode.VALIDATION_FAILED.code();
        if (common.json()) {
            JsonOutput.print(console, new JsonOutput.CacheVerifyDocument("cache verify", exitCode,
                    inventory.folder().toString(), checks, orphans));
        }
        return exitCode;
    }

    private void summarize(Console console, CacheInventory inventory, int corrupt, int format1) {
        int checked = inventory.entries().size() - format1;
        console.info((checked - corrupt) + " of " + checked + " entries ok in " + inventory.folder());
        String clear = "`auto-research probe cache clear " + slug;
        if (corrupt > 0) {
            console.error(corrupt + " corrupt " + (corrupt == 1 ? "entry" : "entries") + ". A cache lookup"
                    + " rejects and recomputes a corrupt entry; to free its space now, run " + clear
                    + " --key-prefix KEY`");
        }
        if (format1 > 0) {
            console.warn(format1 + " format-1 " + (format1 == 1 ? "entry" : "entries")
                    + " that lookups no longer read. Remove them with " + clear + " --key-prefix KEY` or "
                    + clear + " --all`");
        }
        if (!inventory.orphans().isEmpty()) {
            long bytes = inventory.orphans().stream().mapToLong(orphan -> orphan.file().size()).sum();
            console.warn(inventory.orphans().size() + " orphan file(s), " + ByteSize.format(bytes)
                    + ", left by unfinished or replaced writes. Remove them with " + clear + " --orphans`");
        }
    }

    private static String describeOther(CacheFile file) {
        return switch (file.type()) {
            case FOLDER -> "a folder";
            case SYMBOLIC_LINK -> "a symbolic link";
            case REGULAR_FILE -> "a file";
            case OTHER -> "a special file (a pipe, socket or device)";
        };
    }
}
