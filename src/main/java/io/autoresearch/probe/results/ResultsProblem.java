package io.autoresearch.probe.results;

/**
 * One reason a results file is invalid.
 *
 * @param path JSON path of the offending value, for example {@code $.ci_per_layer[2]}, or
 *     {@code $} for the whole document
 * @param rule identifier of the violated rule: {@code schema:<keyword>} for a JSON Schema
 *     keyword, or one of the {@code RULE_*} constants of {@link ResultsValidator}
 * @param message what is wrong, with the offending values
 */
public record ResultsProblem(String path, String rule, String message) {
    @Override
    public String toString() {
        return path + ": " + message + " [" + rule + "]";
    }
}
