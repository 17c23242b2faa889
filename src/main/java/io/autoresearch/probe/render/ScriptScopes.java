package io.autoresearch.probe.render;

import java.util.List;

/**
 * The typed scopes of the script templates. Field names are the template variable
 * names, so they use snake_case. Every {@code *_literal} field contains a Python literal from
 * {@link PythonLiteral}. The other fields contain values validated by a pattern (slug, package,
 * dates, versions, integers).
 */
public final class ScriptScopes {
    private ScriptScopes() {
    }

    /** Scope of {@code probe.py.mustache}, the thin wrapper module {@code src/<pkg>/probe.py}. */
    public record ProbeModule(String slug, String _package, String tool_version, String generated_on) {
        /** Returns the template variable {@code package}, renamed because it is a Java keyword. */
        public String getPackage() {
            return _package;
        }
    }

    /**
     * Scope of the intervention templates, {@code <intervention>.py.mustache}. Each template uses
     * the variables it needs. The logit lens reads the prompts path and the patching templates the
     * pairs path. Path patching reads the receiver, the attention pattern the span length and
     * activation patching the method. Probing and SAE feature lookup read the labels path and the
     * hook; probing also reads the position and folds, SAE feature lookup the SAE, its width, the
     * targets and top_k. A variable an intervention does not read is {@code None}, 0 or its default. The section
     * {@code trust_remote_code} renders {@code trust_remote_code=True} only when it is true. Only the
     * nnsight templates read {@code remote_literal} ({@code True} or {@code False}),
     * {@code device_map_literal} ({@code None} or a string literal such as {@code 'auto'}) and
     * {@code recheck_float32} (an example count, 0 for no float32 re-check).
     */
    public record InterventionScript(
            String slug,
            String _package,
            String tool_version,
            String generated_on,
            String probe_id_literal,
            String model_id_literal,
            String prompts_path_literal,
            String pairs_path_literal,
            String layers_literal,
            int n_examples,
            String seeds_literal,
            String dtype_literal,
            String hypothesis_literal,
            int seq_len,
            String receiver_literal,
            String method_literal,
            String labels_path_literal,
            String hook_literal,
            String position_literal,
            int folds,
            String sae_path_literal,
            String sae_width_literal,
            String target_label_literal,
            String target_token_literal,
            int top_k,
            boolean trust_remote_code,
            boolean has_research_question,
            String research_question_literal,
            String remote_literal,
            String device_map_literal,
            int recheck_float32) {
        public String getPackage() {
            return _package;
        }
    }

    /** Scope of {@code main.py.mustache}, the hypothesis script {@code analysis/<slug>.py}. */
    public record MainScript(
            String slug,
            String _package,
            String tool_version,
            String generated_on,
            String hypothesis_literal,
            List<ProbeEntry> probes) {
        public String getPackage() {
            return _package;
        }
    }

    /** One probe listed in the hypothesis script. */
    public record ProbeEntry(String script_literal, String probe_id_literal) {
    }
}
