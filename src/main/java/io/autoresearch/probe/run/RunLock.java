package io.autoresearch.probe.run;

import io.autoresearch.probe.support.Console;
import io.autoresearch.probe.support.ExitCode;
import io.autoresearch.probe.support.ProbeException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;

/**
 * The lock that lets one {@code probe run} at a time work in a research project: an exclusive
 * {@link FileLock} on {@code code/.auto-research/run.lock}. A second run waits until the first
 * one releases it, and prints once which run it waits for. The operating system releases
 * the lock when the holding process exits, however it exits, so a crashed or killed run never
 * leaves a stale lock behind.
 *
 * <p>While held, the file names the holder ({@code pid}, run id, start time) for the message of
 * a waiting run. The file itself stays in place: deleting a lock file lets two processes lock
 * two different files of one name.
 */
final class RunLock implements AutoCloseable {
    /** The lock file, relative to code/. */
    static final String FILE = ".auto-research/run.lock";
    /** How often a waiting run tries the lock again. */
    static final Duration POLL = Duration.ofMillis(200);

    private final FileChannel channel;
    private final FileLock lock;

    private RunLock(FileChannel channel, FileLock lock) {
        this.channel = channel;
        this.lock = lock;
    }

    /**
     * Takes the lock of the project in {@code codeDir}, waiting as long as another run holds it.
     *
     * @throws ProbeException with {@link ExitCode#ENVIRONMENT} when the lock file cannot be
     *     created or locked, or is a symbolic link
     */
    static RunLock acquire(Path codeDir, String runId, Console console, Clock clock) {
        Path file = codeDir.resolve(FILE);
        FileChannel channel = open(file);
        boolean announced = false;
        try {
            while (true) {
                FileLock lock = tryLock(channel);
                if (lock != null) {
                    writeHolder(channel, runId, clock);
                    if (announced) {
                        console.info("the other run has finished; run " + runId + " goes on");
                    }
                    return new RunLock(channel, lock);
                }
                if (!announced) {
                    console.warn("another probe run is working in " + codeDir + " (" + holder(file)
                            + "); waiting for it to finish. Lock file: " + file);
                    announced = true;
                }
                Thread.sleep(POLL.toMillis());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            closeQuietly(channel);
            throw new ProbeException(ExitCode.INTERRUPTED, "interrupted while waiting for the lock " + file);
        } catch (IOException | RuntimeException e) {
            closeQuietly(channel);
            if (e instanceof ProbeException probe) {
                throw probe;
            }
            throw new ProbeException(ExitCode.ENVIRONMENT, "could not lock " + file + ": " + e.getMessage()
                    + "; check that the folder is writable", e);
        }
    }

    private static FileChannel open(Path file) {
        try {
            Files.createDirectories(file.getParent());
            if (Files.isSymbolicLink(file)) {
                throw new ProbeException(ExitCode.ENVIRONMENT, "the lock file " + file
                        + " is a symbolic link; remove it and run again");
            }
            return FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                    StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS);
        } catch (IOException e) {
            throw new ProbeException(ExitCode.ENVIRONMENT, "could not create the lock file " + file + ": "
                    + e.getMessage() + "; check that the folder is writable", e);
        }
    }

    /** Returns the lock, or null when another process (or another run in this JVM) holds it. */
    private static FileLock tryLock(FileChannel channel) throws IOException {
        try {
            return channel.tryLock();
        } catch (OverlappingFileLockException e) {
            return null;
        }
    }

    private static void writeHolder(FileChannel channel, String runId, Clock clock) throws IOException {
        String holder = "pid " + ProcessHandle.current().pid() + ", run " + runId + ", since "
                + Instant.now(clock).truncatedTo(ChronoUnit.SECONDS) + "\n";
        channel.truncate(0);
        channel.write(ByteBuffer.wrap(holder.getBytes(StandardCharsets.UTF_8)), 0);
        channel.force(false);
    }

    /** Returns the holder that the lock file names, or a placeholder when the file is empty or unreadable. */
    private static String holder(Path file) {
        try {
            String text = Files.readString(file, StandardCharsets.UTF_8).strip();
            return text.isEmpty() || text.length() > 200 ? "holder unknown" : text;
        } catch (IOException | RuntimeException e) {
            return "holder unknown";
        }
    }

    @Override
    public void close() {
        try {
            if (lock.isValid()) {
                lock.release();
            }
        } catch (IOException e) {
            // Closing the channel below releases the lock as well.
        } finally {
            closeQuietly(channel);
        }
    }

    private static void closeQuietly(FileChannel channel) {
        try {
            channel.close();
        } catch (IOException e) {
            // Nothing to do: the lock is released with the process at the latest.
        }
    }
}
