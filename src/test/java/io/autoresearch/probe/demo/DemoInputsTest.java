package io.autoresearch.probe.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.autoresearch.probe.setup.Backend;
import io.autoresearch.probe.setup.Intervention;
import io.autoresearch.probe.setup.SetupOptions;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The backend and the backend reason that {@code probe demo --backend} gives each probe's setup. */
class DemoInputsTest {
    private static final Path ROOT = Path.of("/tmp/demo-root");
    private static final Path CODE = ROOT.resolve("code");

    private static SetupOptions options(Intervention intervention, Backend backend) {
        return DemoInputs.setupOptions(intervention, ROOT, CODE, true, false, backend);
    }

    @Test
    void nnsightProbeKeepsDefaultReason() {
        SetupOptions options = options(Intervention.LOGIT_LENS, Backend.NNSIGHT);

        assertEquals("nnsight", options.backend());
        assertNull(options.backendReason());
    }

    @Test
    void uncoveredProbeSaysNnsightLacksIt() {
        for (Intervention intervention : new Intervention[] {Intervention.ATTENTION_PATTERN,
            Intervention.PATH_PATCHING, Intervention.SAE_FEATURE_LOOKUP}) {
            SetupOptions options = options(intervention, Backend.NNSIGHT);

            assertEquals("transformer_lens", options.backend(), intervention.id());
            assertEquals("nnsight does not cover " + intervention.id() + ", so the demo runs it on transformer_lens",
                    options.backendReason(), intervention.id());
        }
    }

    @Test
    void transformerLensDemoKeepsDefaultReason() {
        SetupOptions options = options(Intervention.ATTENTION_PATTERN, Backend.TRANSFORMER_LENS);

        assertEquals("transformer_lens", options.backend());
        assertNull(options.backendReason());
    }
}
