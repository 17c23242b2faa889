package io.autoresearch.probe.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Drives Debian's {@code /usr/bin/chromium} in headless mode through the DevTools protocol
 * over {@code --remote-debugging-pipe} (file descriptors 3 and 4, connected to two named
 * pipes by a {@code bash} wrapper), so no network socket is opened. Host names resolve to
 * nothing ({@code --host-resolver-rules}), so a page that refers to another host fails
 * instead of reaching it.
 *
 * <p>{@link #load} opens a page and records every request, every failed load (a network error
 * or an HTTP status of 400 or more), every console message of level error, every uncaught
 * exception, and a PNG screenshot.
 */
final class HeadlessChromium implements AutoCloseable {
    static final Path EXECUTABLE = Path.of("/usr/bin/chromium");

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration START_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(60);

    /** Record of one page load: requests, failures, console errors and the screenshot. */
    record PageLoad(List<String> requests, List<String> failedRequests, List<String> consoleErrors,
            byte[] screenshot) {
    }

    private final Process process;
    private final OutputStream toBrowser;
    private final InputStream fromBrowser;
    private final AtomicInteger nextId = new AtomicInteger(1);
    private final Map<Integer, CompletableFuture<JsonNode>> pending = new ConcurrentHashMap<>();
    private final List<JsonNode> events = new CopyOnWriteArrayList<>();
    private final Thread reader;

    private HeadlessChromium(Process process, OutputStream toBrowser, InputStream fromBrowser) {
        this.process = process;
        this.toBrowser = toBrowser;
        this.fromBrowser = fromBrowser;
        this.reader = new Thread(this::readMessages, "chromium-devtools-reader");
        reader.setDaemon(true);
        reader.start();
    }

    /** Starts chromium with its profile, pipes and log in {@code workDir}. */
    static HeadlessChromium start(Path workDir) throws IOException, InterruptedException {
        Path toPipe = workDir.resolve("devtools-in");
        Path fromPipe = workDir.resolve("devtools-out");
        Process mkfifo = new ProcessBuilder("mkfifo", toPipe.toString(), fromPipe.toString())
                .redirectErrorStream(true).start();
        String mkfifoOutput = new String(mkfifo.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (mkfifo.waitFor() != 0) {
            throw new IOException("mkfifo failed: " + mkfifoOutput);
        }

        List<String> command = new ArrayList<>(List.of("bash", "-c",
                "exec \"$0\" \"$@\" 3<\"$DEVTOOLS_IN\" 4>\"$DEVTOOLS_OUT\"",
                EXECUTABLE.toString(),
                "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", "--no-default-browser-check",
                "--disable-extensions", "--disable-sync", "--disable-background-networking",
                "--disable-component-update", "--mute-audio", "--hide-scrollbars",
                "--host-resolver-rules=MAP * ~NOTFOUND",
                "--user-data-dir=" + workDir.resolve("profile"),
                "--window-size=1280,1600",
                "--remote-debugging-pipe"));
        ProcessBuilder builder = new ProcessBuilder(command)
                .redirectOutput(workDir.resolve("chromium.log").toFile())
                .redirectErrorStream(true);
        builder.environment().put("DEVTOOLS_IN", toPipe.toString());
        builder.environment().put("DEVTOOLS_OUT", fromPipe.toString());
        Process process = builder.start();

        // Opening a named pipe blocks until the other end opens it; chromium's wrapper opens
        // fd 3 (our writer) first, then fd 4 (our reader).
        CompletableFuture<Object[]> opened = CompletableFuture.supplyAsync(() -> {
            try {
                OutputStream out = Files.newOutputStream(toPipe);
                InputStream in = Files.newInputStream(fromPipe);
                return new Object[] {out, in};
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }, runnable -> {
            Thread thread = new Thread(runnable, "chromium-pipe-opener");
            thread.setDaemon(true);
            thread.start();
        });

        try {
            Object[] streams = opened.get(START_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            return new HeadlessChromium(process, (OutputStream) streams[0], (InputStream) streams[1]);
        } catch (ExecutionException | TimeoutException e) {
            process.destroyForcibly();
            throw new IOException("chromium did not open its DevTools pipes within " + START_TIMEOUT.toSeconds()
                    + " s; its log: " + log(workDir), e);
        }
    }

    static String log(Path workDir) {
        try {
            Path file = workDir.resolve("chromium.log");
            return Files.exists(file) ? Files.readString(file, StandardCharsets.UTF_8) : "(no log)";
        } catch (IOException e) {
            return "(log unreadable: " + e.getMessage() + ")";
        }
    }

    /**
     * Opens {@code url} in a new tab, waits for its load event and then {@code settle} for late
     * scripts, and returns what happened, with a screenshot of the viewport.
     */
    PageLoad load(String url, Duration settle) throws IOException, InterruptedException {
        String targetId = send(null, "Target.createTarget", Map.of("url", "about:blank")).path("targetId").asText();
        String session = send(null, "Target.attachToTarget", Map.of("targetId", targetId, "flatten", true))
                .path("sessionId").asText();
        for (String domain : List.of("Page", "Runtime", "Log", "Network")) {
            send(session, domain + ".enable", Map.of());
        }
        int firstEvent = events.size();
        JsonNode navigation = send(session, "Page.navigate", Map.of("url", url));
        List<String> failed = new ArrayList<>();
        if (navigation.hasNonNull("errorText")) {
            failed.add(url + ": " + navigation.path("errorText").asText());
        }
        long deadline = System.nanoTime() + COMMAND_TIMEOUT.toNanos();
        while (!hasEvent(session, "Page.loadEventFired", firstEvent)) {
            if (System.nanoTime() > deadline) {
                throw new IOException("no load event for " + url + " within " + COMMAND_TIMEOUT.toSeconds() + " s");
            }
            Thread.sleep(50);
        }
        Thread.sleep(settle.toMillis());
        String screenshot = send(session, "Page.captureScreenshot", Map.of("format", "png")).path("data").asText();

        List<String> requests = new ArrayList<>();
        List<String> consoleErrors = new ArrayList<>();
        Map<String, String> urls = new HashMap<>();
        List<JsonNode> received = new ArrayList<>(events);
        for (JsonNode event : received.subList(firstEvent, received.size())) {
            if (!session.equals(event.path("sessionId").asText())) {
                continue;
            }
            JsonNode params = event.path("params");
            switch (event.path("method").asText()) {
                case "Network.requestWillBeSent" -> {
                    String requestUrl = params.path("request").path("url").asText();
                    urls.put(params.path("requestId").asText(), requestUrl);
                    requests.add(requestUrl);
                }
                case "Network.loadingFailed" -> {
                    JsonNode blocked = params.path("blockedReason");
                    failed.add(urls.getOrDefault(params.path("requestId").asText(), "?") + ": "
                            + params.path("errorText").asText()
                            + (blocked.isMissingNode() ? "" : " (blocked: " + blocked.asText() + ")"));
                }
                case "Network.responseReceived" -> {
                    int status = params.path("response").path("status").asInt(0);
                    if (status >= 400) {
                        failed.add(params.path("response").path("url").asText() + ": HTTP " + status);
                    }
                }
                case "Runtime.consoleAPICalled" -> {
                    String type = params.path("type").asText();
                    if (type.equals("error") || type.equals("assert")) {
                        List<String> args = new ArrayList<>();
                        params.path("args").forEach(arg -> args.add(arg.has("value") ? arg.path("value").asText()
                                : arg.path("description").asText(arg.path("type").asText())));
                        consoleErrors.add("console." + type + ": " + String.join(" ", args));
                    }
                }
                case "Runtime.exceptionThrown" -> {
                    JsonNode details = params.path("exceptionDetails");
                    consoleErrors.add("uncaught exception: " + details.path("text").asText() + " "
                            + details.path("exception").path("description").asText(""));
                }
                case "Log.entryAdded" -> {
                    JsonNode entry = params.path("entry");
                    if (entry.path("level").asText().equals("error")) {
                        consoleErrors.add("log error: " + entry.path("text").asText() + " "
                                + entry.path("url").asText(""));
                    }
                }
                default -> {
                }
            }
        }
        send(null, "Target.closeTarget", Map.of("targetId", targetId));
        return new PageLoad(requests, failed, consoleErrors, Base64.getDecoder().decode(screenshot));
    }

    private boolean hasEvent(String session, String method, int from) {
        // A copy: events keep arriving on the reader thread.
        List<JsonNode> received = new ArrayList<>(events);
        for (JsonNode event : received.subList(from, received.size())) {
            if (method.equals(event.path("method").asText()) && session.equals(event.path("sessionId").asText())) {
                return true;
            }
        }
        return false;
    }

    private JsonNode send(String session, String method, Map<String, Object> params)
            throws IOException, InterruptedException {
        int id = nextId.getAndIncrement();
        ObjectNode message = JSON.createObjectNode();
        message.put("id", id);
        message.put("method", method);
        message.set("params", JSON.valueToTree(params));
        if (session != null) {
            message.put("sessionId", session);
        }
        CompletableFuture<JsonNode> reply = new CompletableFuture<>();
        pending.put(id, reply);
        write(message);
        JsonNode response;
        try {
            response = reply.get(COMMAND_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            throw new IOException("no reply to " + method + " within " + COMMAND_TIMEOUT.toSeconds() + " s", e);
        }
        if (response.has("error")) {
            throw new IOException(method + " failed: " + response.path("error"));
        }
        return response.path("result");
    }

    private void write(ObjectNode message) throws IOException {
        synchronized (toBrowser) {
            toBrowser.write(JSON.writeValueAsBytes(message));
            toBrowser.write(0);
            toBrowser.flush();
        }
    }

    /** Reads NUL-terminated JSON messages until the pipe closes. */
    private void readMessages() {
        ByteArrayOutputStream buffer = new ByteArrayOutputStream();
        byte[] chunk = new byte[65536];
        try {
            int count;
            while ((count = fromBrowser.read(chunk)) >= 0) {
                for (int i = 0; i < count; i++) {
                    if (chunk[i] != 0) {
                        buffer.write(chunk[i]);
                        continue;
                    }
                    JsonNode message = JSON.readTree(buffer.toByteArray());
                    buffer.reset();
                    if (message.has("id")) {
                        CompletableFuture<JsonNode> reply = pending.remove(message.path("id").asInt());
                        if (reply != null) {
                            reply.complete(message);
                        }
                    } else {
                        events.add(message);
                    }
                }
            }
        } catch (IOException e) {
            pending.values().forEach(reply -> reply.completeExceptionally(e));
        }
    }

    @Override
    public void close() throws InterruptedException {
        try {
            // No reply is awaited: the browser may exit before it sends one.
            ObjectNode message = JSON.createObjectNode();
            message.put("id", nextId.getAndIncrement());
            message.put("method", "Browser.close");
            write(message);
        } catch (IOException e) {
            // The browser is gone already, or is stopped below.
        }
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
        try {
            toBrowser.close();
            fromBrowser.close();
        } catch (IOException e) {
            // Closing pipes of a stopped process cannot lose anything.
        }
    }
}
