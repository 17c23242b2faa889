package io.autoresearch.probe.cli;

import io.autoresearch.probe.setup.ToolVersion;
import picocli.CommandLine;

/** Supplies {@code --version}: the project version that Maven wrote into version.properties. */
public final class VersionProvider implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
        return new String[] {"auto-research " + ToolVersion.current()};
    }
}
