package io.autoresearch.probe.setup;

import java.nio.file.Path;
import java.util.List;

/** The project operations setup delegates to uv; tests substitute a fake that runs nothing. */
public interface ProjectTool {
    /** Creates a src-layout uv project named {@code projectName} in {@code codeDir}. */
    void init(Path codeDir, String projectName);

    /** Declares {@code requirements} as the optional dependency group {@code extra}, without installing. */
    void addOptional(Path codeDir, String extra, List<String> requirements);
}
