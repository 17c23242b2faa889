package io.autoresearch.probe.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Map;
import picocli.CommandLine;

/** The exit code and captured output of one command-line run in a test. */
public record CliRun(int exitCode, String out, String err) {
    /** The clock of every test run: 2026-12-04 10:00 UTC. */
    public static final Clock FIXED_CLOCK = Clock.fixed(Instant.parse("2026-12-04T10:00:00Z"), ZoneOffset.UTC);

    /** Runs {@code args} with an empty HF cache under {@code home} and the fixed clock. */
    public static CliRun execute(Path home, String... args) {
        return execute(new ProbeContext(Map.of("PATH", System.getenv().getOrDefault("PATH", "")), home, home,
                FIXED_CLOCK), args);
    }

    /** Runs {@code args} in {@code context}, capturing stdout and stderr. */
    public static CliRun execute(ProbeContext context, String... args) {
        CommandLine commandLine = Main.commandLine(context);
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        commandLine.setOut(new PrintWriter(out, true));
        commandLine.setErr(new PrintWriter(err, true));
        int exitCode = commandLine.execute(args);
        return new CliRun(exitCode, out.toString(), err.toString());
    }
}
