package io.autoresearch.probe.cli;

import io.autoresearch.probe.cache.AgeLimit;
import io.autoresearch.probe.cache.ByteSize;
import io.autoresearch.probe.cache.CacheCleaner;
import io.autoresearch.probe.cache.CacheEntry;
import io.autoresearch.probe.cache.CacheFolder;
import io.autoresearch.probe.cache.CacheInventory;
import io.autoresearch.probe.cache.ClearPlan;
import io.autoresearch.probe.cache.ClearRequest;
import io.autoresearch.probe.cache.Orphan;
import io.autoresearch.probe.support.Console;
import io.autoresearch.probe.support.ExitCode;
import io.autoresearch.probe.support.ProbeException;
import io.autoresearch.probe.workspace.Slug;
import io.autoresearch.probe.workspace.Workspace;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.Charset;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code auto-research probe cache clear}: deletes selected entries and orphans after confirmation. */
@Command(name = "clear",
        mixinStandardHelpOptions = true,
        versionProvider = VersionProvider.class,
        description = {
            "Delete entries of the activation cache code/cache/activations/ of the research"
                    + " workspace SLUG. Give one of --all, --key-prefix and --older-than, or --orphans, or one of the three with --orphans.",
            "Lists what it will delete with the count and bytes, then asks for 'y' or 'yes' on stdin unless"
                    + " --yes is given. When stdin is not a terminal and --yes is missing, it deletes nothing and"
                    + " exits with 2.",
            "Each entry loses its metadata file <key>.json first, so it is no longer committed, and then its"
                    + " shards. Only files directly in the cache folder are deleted: a symbolic link is deleted"
                    + " itself, never its target, and folders are left alone. Lock files are never deleted.",
            "With --json, one object with folder, dry_run, selected (keys and orphan names), selected_bytes,"
                    + " deleted and failures.",
            "Prints '<key or name><TAB>deleted' on stdout for each deleted entry and orphan. Exit code 0, 2 for"
                    + " a usage error or a missing confirmation, 3 when a file could not be deleted."
        })
final class CacheClearCommand implements Callable<Integer> {
    private static final Pattern KEY_PREFIX = Pattern.compile("[0-9a-fA-F]{4,64}");
    private static final Duration DEFAULT_ORPHAN_MIN_AGE = Duration.ofHours(1);

    private final ProbeContext context;

    @Spec
    private CommandSpec spec;

    @Mixin
    private CommonOptions common;

    @Parameters(index = "0", paramLabel = "SLUG", description = "Research slug, the folder under .research/.")
    private String slug;

    @Option(names = "--all", description = "Delete every entry, including format-1 entries and entries whose"
            + " metadata cannot be read.")
    private boolean all;

    @Option(names = "--key-prefix", paramLabel = "HEX",
            description = "Delete the entries whose key starts with HEX, 4 to 64 hex digits. It is an error when"
                    + " no key matches.")
    private String keyPrefix;

    @Option(names = "--older-than", paramLabel = "AGE", converter = AgeConverter.class,
            description = "Delete the entries created more than AGE ago: a whole number and a unit s, m, h, d"
                    + " or w, such as 30m, 12h or 7d. The age is taken from created_at in the metadata, else"
                    + " from the metadata file's modification time.")
    private Duration olderThan;

    @Option(names = "--orphans", description = "Also delete orphans: temporary files of unfinished writes, shards"
            + " that no metadata lists, format-1 tensor files without metadata.")
    private boolean orphans;

    @Option(names = "--orphan-min-age", paramLabel = "AGE", converter = AgeConverter.class,
            description = "Keep the orphans of a key that has a lock file <key>.lock, or whose newest orphan"
                    + " changed less than AGE ago, because a write may still be adding shards. Default 1h. With"
                    + " 0s every orphan is deleted.")
    private Duration orphanMinAge;

    @Option(names = {"-y", "--yes"}, description = "Delete without asking for confirmation.")
    private boolean yes;

    @Option(names = "--dry-run", description = "List what would be deleted, and delete nothing.")
    private boolean dryRun;

    CacheClearCommand(ProbeContext context) {
        this.context = context;
    }

    /** Converts an age option such as {@code 7d}. Picocli reports an invalid value as a usage error. */
    static final class AgeConverter implements CommandLine.ITypeConverter<Duration> {
        @Override
        public Duration convert(String value) {
            try {
                return AgeLimit.parse(value);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }

    @Override
    public Integer call() {
        ClearRequest request = request();
        Console console = common.console();
        Workspace workspace = new Workspace(common.root(context), Slug.parse(slug));
        Path folder = CacheFolder.locate(workspace);
        ClearPlan plan = CacheCleaner.plan(CacheInventory.scan(folder), request);

        list(console, plan, request.orphanMinAge());
        if (plan.isEmpty()) {
            console.info("nothing to delete in " + folder);
            return finish(console, plan, null);
        }
        if (dryRun) {
            console.info("dry run: would delete " + plan.summary() + " from " + folder);
            return finish(console, plan, null);
        }
        if (!yes && !confirm(plan)) {
            console.info("nothing deleted");
            return finish(console, plan, null);
        }

        CacheCleaner.ClearResult result = CacheCleaner.delete(plan);
        result.deleted().forEach(name -> console.result(name + "\tdeleted"));
        result.failures().forEach(console::error);
        console.info("deleted " + result.deletedFiles() + " file(s), " + ByteSize.format(result.deletedBytes())
                + ", from " + folder);
        return finish(console, plan, result);
    }

    /** Returns the exit code, after printing the JSON document with {@code --json}; {@code result} is null when nothing was deleted. */
    private int finish(Console console, ClearPlan plan, CacheCleaner.ClearResult result) {
        List<String> failures = result == null ? List.of() : result.failures();
        int exitCode = failures.isEmpty() ? ExitCode.SUCCESS.code() : ExitCode.ENVIRONMENT.code();
        if (common.json()) {
            List<String> selected = new ArrayList<>();
            plan.entries().forEach(entry -> selected.add(entry.key()));
            plan.orphans().forEach(orphan -> selected.add(orphan.file().name()));
            JsonOutput.print(console, new JsonOutput.CacheClearDocument("cache clear", exitCode,
                    plan.folder().toString(), dryRun, selected, plan.entryBytes() + plan.orphanBytes(),
                    result == null ? List.of() : result.deleted(), failures));
        }
        return exitCode;
    }

    /** Checks the options and builds the request, or throws a usage error for a missing or conflicting selection. */
    private ClearRequest request() {
        int selectors = (all ? 1 : 0) + (keyPrefix != null ? 1 : 0) + (olderThan != null ? 1 : 0);
        if (selectors > 1) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "--all, --key-prefix and --older-than exclude each other: give one of them");
        }
        if (selectors == 0 && !orphans) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "nothing selected: give --all, --key-prefix HEX, --older-than AGE or --orphans");
        }
        if (keyPrefix != null && !KEY_PREFIX.matcher(keyPrefix).matches()) {
            throw new CommandLine.ParameterException(spec.commandLine(), "invalid --key-prefix '" + keyPrefix
                    + "': expected 4 to 64 hex digits, the start of an entry's key");
        }
        if (orphanMinAge != null && !orphans) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "--orphan-min-age applies to --orphans only: add --orphans or leave it out");
        }
        ClearRequest.Selector selector = all ? ClearRequest.Selector.ALL
                : keyPrefix != null ? ClearRequest.Selector.KEY_PREFIX
                : olderThan != null ? ClearRequest.Selector.OLDER_THAN
                : ClearRequest.Selector.NONE;
        String prefix = keyPrefix == null ? null : keyPrefix.toLowerCase(Locale.ROOT);
        Duration minAge = orphanMinAge == null ? DEFAULT_ORPHAN_MIN_AGE : orphanMinAge;
        return new ClearRequest(selector, prefix, olderThan, orphans, minAge, context.clock().instant());
    }

    private static void list(Console console, ClearPlan plan, Duration orphanMinAge) {
        for (CacheEntry entry : plan.entries()) {
            console.info("delete entry " + entry.key() + ": " + describe(entry) + ", " + entry.fileCount()
                    + " file(s), " + ByteSize.format(entry.bytes()));
        }
        for (Orphan orphan : plan.orphans()) {
            console.info("delete orphan " + orphan.file().name() + ": " + orphan.kind().description() + ", "
                    + ByteSize.format(orphan.file().size()));
        }
        if (!plan.recentOrphans().isEmpty()) {
            console.info("keep " + plan.recentOrphans().size() + " orphan file(s) of keys with a lock file or"
                    + " written to less than " + describe(orphanMinAge) + " ago, since a write may still be in"
                    + " progress (see --orphan-min-age)");
        }
    }

    /** Returns a duration as people write it, such as {@code 1h} or {@code 90s}. */
    private static String describe(Duration duration) {
        return duration.toString().substring(2).toLowerCase(Locale.ROOT);
    }

    private static String describe(CacheEntry entry) {
        return switch (entry.format()) {
            case CURRENT -> entry.metadata().hookPoint() + " of " + entry.metadata().modelId() + ", created "
                    + entry.createdAt();
            case FORMAT_1 -> "format 1, modified " + entry.createdAt();
            case INVALID -> "unreadable metadata, modified " + entry.createdAt();
        };
    }

    /**
     * Prints the question on stderr and reads one line of stdin. Returns whether the reply is y or yes.
     *
     * @throws ProbeException (USAGE) when stdin is not a terminal, so no person can reply
     */
    private boolean confirm(ClearPlan plan) {
        ProbeContext.StandardInput input = context.standardInput();
        if (!input.terminal()) {
            throw ProbeException.usage("not deleting " + plan.summary() + " from " + plan.folder()
                    + " without confirmation: standard input is not a terminal. Pass --yes to delete without"
                    + " asking, or --dry-run to only list the files");
        }
        PrintWriter err = spec.commandLine().getErr();
        err.print("[auto-research] delete " + plan.summary() + " from " + plan.folder() + "? [y/N] ");
        err.flush();
        // The reader is not closed: closing it would close System.in.
        BufferedReader reader = new BufferedReader(new InputStreamReader(input.stream(), Charset.defaultCharset()));
        String reply;
        try {
            reply = reader.readLine();
        } catch (IOException e) {
            throw new UncheckedIOException("could not read the reply from standard input", e);
        }
        if (reply == null) {
            err.println();
            return false;
        }
        String normalised = reply.strip().toLowerCase(Locale.ROOT);
        return normalised.equals("y") || normalised.equals("yes");
    }
}
