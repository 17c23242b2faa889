package io.autoresearch.probe.process;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.commons.exec.ProcessDestroyer;

/**
 * The child processes this JVM has running, and what to do with them when the JVM shuts down
 * (Ctrl-C, SIGTERM). One shutdown hook, added with the first child, stops the whole tree of
 * every child: {@code uv run}, the Python process below it and anything that process started.
 * Each gets SIGTERM, and whatever is still alive after {@link #GRACE} gets SIGKILL. Then the
 * cleanup actions run, such as removing temporary files the stopped scripts left behind.
 *
 * <p>Commons Exec's own {@code ShutdownHookProcessDestroyer} stops only the direct child, so a
 * Python process under {@code uv run}, or a process it spawned, would outlive the JVM.
 */
public final class ChildProcesses implements ProcessDestroyer {
    /** How long a stopped tree may take to exit after SIGTERM before it gets SIGKILL. */
    public static final Duration GRACE = Duration.ofMillis(800);
    /** How long to wait for the processes to vanish after SIGKILL. */
    private static final Duration KILL_WAIT = Duration.ofMillis(500);

    private static final ChildProcesses INSTANCE = new ChildProcesses();

    private final Set<Process> running = ConcurrentHashMap.newKeySet();
    private final List<Runnable> cleanups = new CopyOnWriteArrayList<>();
    private volatile boolean shuttingDown;
    private boolean hookAdded;

    private ChildProcesses() {
    }

    /** Returns the destroyer that every {@link ProcessRunner} of this JVM registers its children with. */
    public static ChildProcesses instance() {
        return INSTANCE;
    }

    /** Returns whether the JVM is shutting down and has stopped (or is stopping) the child processes. */
    public static boolean shuttingDown() {
        return INSTANCE.shuttingDown;
    }

    /**
     * Registers {@code cleanup} to run at shutdown after every child tree has stopped, until the
     * returned handle is closed. A cleanup must be quick and must not throw.
     */
    public static Registration onShutdown(Runnable cleanup) {
        INSTANCE.ensureHook();
        INSTANCE.cleanups.add(cleanup);
        return () -> INSTANCE.cleanups.remove(cleanup);
    }

    /** A registered cleanup; closing it removes the cleanup. */
    @FunctionalInterface
    public interface Registration extends AutoCloseable {
        @Override
        void close();
    }

    @Override
    public boolean add(Process process) {
        ensureHook();
        running.add(process);
        if (shuttingDown) {
            // Started while the hook ran: it may have missed this one.
            stopTrees(List.of(process));
        }
        return true;
    }

    @Override
    public boolean remove(Process process) {
        return running.remove(process);
    }

    @Override
    public int size() {
        return running.size();
    }

    private synchronized void ensureHook() {
        if (hookAdded) {
            return;
        }
        try {
            Runtime.getRuntime().addShutdownHook(new Thread(this::shutDown, "auto-research-stop-children"));
            hookAdded = true;
        } catch (IllegalStateException e) {
            // The JVM is already shutting down; add() stops new children itself.
            shuttingDown = true;
        }
    }

    private void shutDown() {
        shuttingDown = true;
        List<Process> processes = new ArrayList<>(running);
        if (!processes.isEmpty()) {
            System.err.println("[auto-research] interrupted: stopping " + processes.size()
                    + " running process tree(s)");
            System.err.flush();
        }
        stopTrees(processes);
        for (Runnable cleanup : cleanups) {
            try {
                cleanup.run();
            } catch (RuntimeException e) {
                System.err.println("[auto-research] warning: cleanup after the interrupt failed: " + e.getMessage());
            }
        }
    }

    /**
     * Stops each process and all its descendants: SIGTERM to every one, then SIGKILL to those
     * still alive after {@link #GRACE}. Returns once all are gone or the kill wait has passed.
     */
    static void stopTrees(List<Process> processes) {
        List<ProcessHandle> members = new ArrayList<>();
        for (Process process : processes) {
            // Collect the descendants before anything dies, because orphans are re-parented.
            members.addAll(process.descendants().toList());
            members.add(process.toHandle());
        }
        members.forEach(ProcessHandle::destroy);
        if (!waitForExit(members, GRACE)) {
            members.stream().filter(ChildProcesses::isRunning).forEach(ProcessHandle::destroyForcibly);
            waitForExit(members, KILL_WAIT);
        }
    }

    /**
     * Returns whether a process is alive and not a zombie. {@link ProcessHandle#isAlive} counts a
     * process that has exited but was not reaped yet, which can no longer do anything.
     */
    public static boolean isRunning(ProcessHandle process) {
        if (!process.isAlive()) {
            return false;
        }
        Path stat = Path.of("/proc", Long.toString(process.pid()), "stat");
        try {
            String text = Files.readString(stat);
            // The state follows the command name, which is in parentheses and may contain spaces.
            int close = text.lastIndexOf(')');
            return close < 0 || close + 2 >= text.length() || text.charAt(close + 2) != 'Z';
        } catch (IOException | RuntimeException e) {
            // No /proc (not Linux), or the process vanished meanwhile.
            return process.isAlive();
        }
    }

    private static boolean waitForExit(List<ProcessHandle> members, Duration limit) {
        long deadline = System.nanoTime() + limit.toNanos();
        while (members.stream().anyMatch(ChildProcesses::isRunning)) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return true;
    }
}
