package io.autoresearch.probe.report;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/** Relative links between files of a workspace, percent-encoded so Markdown and HTML read them the same way. */
final class Links {
    private Links() {
    }

    /**
     * Returns the link from a file in {@code fromFolder} to {@code target}: the relative path
     * with {@code /} separators, each segment percent-encoded except for the unreserved
     * characters of RFC 3986 ({@code A-Z a-z 0-9 - . _ ~}).
     */
    static String relative(Path fromFolder, Path target) {
        Path relative = fromFolder.toAbsolutePath().normalize().relativize(target.toAbsolutePath().normalize());
        StringBuilder link = new StringBuilder();
        for (Path segment : relative) {
            if (link.length() > 0) {
                link.append('/');
            }
            link.append(encodeSegment(segment.toString()));
        }
        return link.toString();
    }

    static String encodeSegment(String segment) {
        StringBuilder encoded = new StringBuilder();
        for (byte b : segment.getBytes(StandardCharsets.UTF_8)) {
            char c = (char) (b & 0xff);
            if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'
                    || c == '_' || c == '~') {
                encoded.append(c);
            } else {
                encoded.append('%').append(String.format("%02X", b & 0xff));
            }
        }
        return encoded.toString();
    }
}
