package io.autoresearch.probe.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.autoresearch.probe.cli.CliRun;
import io.autoresearch.probe.support.ExitCode;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Opens the page {@code probe report} writes, and the attention views it links, in headless
 * Chromium (Debian's {@code chromium} package; {@code bin/test} installs it). Each page must
 * load with no failed request, no request outside {@code file:}/{@code data:}, no console
 * error and no uncaught exception, and its screenshot must show content.
 */
@Tag("browser")
class ReportPageBrowserTest {
    private static final Pattern ATTENTION_PAGE = Pattern.compile("href=\"([^\"#]+\\.html)\"");

    @TempDir
    Path root;

    @TempDir
    Path browserDir;

    private HeadlessChromium chromium;

    @BeforeEach
    void startChromium() throws IOException, InterruptedException {
        assumeTrue(Files.isExecutable(HeadlessChromium.EXECUTABLE), HeadlessChromium.EXECUTABLE
                + " is missing: install Debian's chromium package (apt-get install -y chromium) to run the"
                + " browser test; bin/test tries that itself");
        chromium = HeadlessChromium.start(browserDir);
    }

    @AfterEach
    void stopChromium() throws InterruptedException {
        if (chromium != null) {
            chromium.close();
        }
    }

    @Test
    void pageAndAttentionViewsLoadOfflineWithoutErrors() throws IOException, InterruptedException {
        DemoWorkspace.create(root);
        CliRun run = CliRun.execute(root, "probe", "report", DemoWorkspace.SLUG, "--root", root.toString());
        assertEquals(ExitCode.SUCCESS.code(), run.exitCode(), run.err());
        Path page = DemoWorkspace.resultsDir(root).resolve("index.html");

        HeadlessChromium.PageLoad load = chromium.load(page.toUri().toString(), Duration.ofMillis(500));

        assertClean(page, load);
        for (String probe : DemoWorkspace.PROBES) {
            assertTrue(load.requests().stream().anyMatch(url -> url.endsWith("/" + probe + ".png")),
                    "the page did not load the plot of " + probe + ": " + load.requests());
        }
        assertShowsContent(load.screenshot(), browserDir.resolve("index.png"));

        String html = Files.readString(page, StandardCharsets.UTF_8);
        Matcher link = ATTENTION_PAGE.matcher(html);
        int views = 0;
        while (link.find()) {
            Path view = page.getParent().resolve(link.group(1)).normalize();
            HeadlessChromium.PageLoad viewLoad = chromium.load(view.toUri().toString(), Duration.ofMillis(1500));
            assertClean(view, viewLoad);
            assertShowsContent(viewLoad.screenshot(), browserDir.resolve("view" + views + ".png"));
            views++;
        }
        assertEquals(2, views, "the page should link the two attention views of the demo");
    }

    /** Shows that the checks see each kind of fault, so that a clean result above means something. */
    @Test
    void checksCatchEveryKindOfFault() throws IOException, InterruptedException {
        Path page = root.resolve("faulty.html");
        Files.writeString(page, String.join("\n", "<!DOCTYPE html><html><head><meta charset=\"utf-8\">",
                "<title>faulty</title></head><body><h1>A faulty page</h1>",
                "<img src=\"missing.png\" alt=\"missing\">",
                "<img src=\"https://example.invalid/remote.png\" alt=\"remote\">",
                "<script>console.error('an error line'); console.log('a plain line');",
                "throw new Error('an uncaught error');</script></body></html>"));

        HeadlessChromium.PageLoad load = chromium.load(page.toUri().toString(), Duration.ofMillis(500));

        assertTrue(load.failedRequests().stream().anyMatch(failure -> failure.contains("missing.png")),
                load.failedRequests().toString());
        assertTrue(load.failedRequests().stream().anyMatch(failure -> failure.contains("example.invalid")),
                load.failedRequests().toString());
        assertTrue(load.requests().stream().anyMatch(url -> url.startsWith("https:")), load.requests().toString());
        assertTrue(load.consoleErrors().stream().anyMatch(error -> error.contains("an error line")),
                load.consoleErrors().toString());
        assertTrue(load.consoleErrors().stream().anyMatch(error -> error.contains("an uncaught error")),
                load.consoleErrors().toString());
        assertTrue(load.consoleErrors().stream().noneMatch(error -> error.contains("a plain line")),
                load.consoleErrors().toString());
    }

    private static void assertClean(Path page, HeadlessChromium.PageLoad load) {
        assertEquals(List.of(), load.failedRequests(), "failed requests on " + page);
        assertEquals(List.of(), load.consoleErrors(), "console errors on " + page);
        List<String> outside = load.requests().stream()
                .filter(url -> !url.startsWith("file:") && !url.startsWith("data:")).toList();
        assertEquals(List.of(), outside, "requests outside the workspace from " + page);
        assertTrue(load.requests().contains(page.toUri().toString()),
                "the page itself was not requested: " + load.requests());
    }

    /**
     * Checks that a screenshot is not blank: at least 2% of its pixels differ from the colour of
     * its top-left pixel, and it has at least 16 distinct colours. Keeps the image next to the
     * browser's log for a person to look at when the check fails.
     */
    private static void assertShowsContent(byte[] png, Path keep) throws IOException {
        Files.write(keep, png);
        BufferedImage image = ImageIO.read(new ByteArrayInputStream(png));
        assertTrue(image != null, "the screenshot is not a readable PNG");
        assertTrue(image.getWidth() > 100, "screenshot width " + image.getWidth());
        assertTrue(image.getHeight() > 100, "screenshot height " + image.getHeight());
        int background = image.getRGB(0, 0);
        long differing = 0;
        Set<Integer> colours = new HashSet<>();
        for (int y = 0; y < image.getHeight(); y++) {
            for (int x = 0; x < image.getWidth(); x++) {
                int rgb = image.getRGB(x, y);
                if (rgb != background) {
                    differing++;
                }
                colours.add(rgb);
            }
        }
        double share = differing / (double) ((long) image.getWidth() * image.getHeight());
        assertTrue(share > 0.02, "screenshot " + keep + " is nearly blank: " + share + " of pixels differ");
        assertTrue(colours.size() >= 16, "screenshot " + keep + " has only " + colours.size() + " colours");
    }
}
