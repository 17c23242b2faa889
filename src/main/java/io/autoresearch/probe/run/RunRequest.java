package io.autoresearch.probe.run;

import io.autoresearch.probe.setup.Backend;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * The parameters of one {@code probe run}.
 *
 * @param codeDir the research project {@code <root>/.research/<slug>/code}
 * @param allowUvInstall whether uv may be installed into the tool home when it is missing
 * @param online whether scripts may reach the model hub; when false they run with
 *     {@code HF_HUB_OFFLINE=1} and {@code TRANSFORMERS_OFFLINE=1}
 * @param scriptTimeout the limit for each script, or {@code null} for none; {@code uv sync} has no limit
 * @param backend run only the probes set up for this backend, or {@code null} for every probe
 */
public record RunRequest(Path codeDir, boolean allowUvInstall, boolean online, Duration scriptTimeout,
        Backend backend) {
    /** Creates a request that runs every probe, whatever its backend. */
    public RunRequest(Path codeDir, boolean allowUvInstall, boolean online, Duration scriptTimeout) {
        this(codeDir, allowUvInstall, online, scriptTimeout, null);
    }

    public RunRequest {
        Objects.requireNonNull(codeDir, "codeDir");
        codeDir = codeDir.toAbsolutePath().normalize();
        if (scriptTimeout != null && (scriptTimeout.isNegative() || scriptTimeout.isZero())) {
            throw new IllegalArgumentException("scriptTimeout must be positive, got " + scriptTimeout);
        }
    }
}
