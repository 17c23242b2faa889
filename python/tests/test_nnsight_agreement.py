"""Agreement of the two backends on the demo model, and the transformers-5 block output trap.

Every metric both backends compute must agree within 1e-4. Both scripts of each
intervention are rendered from the real templates, run on the same inputs (the demo's
prompts and labels files, as `probe demo` uses them) and every number both results
files hold is compared. The probing features, the vectors the probes are fitted on,
are also compared directly for every hook and position, because accuracies would hide
small differences.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from auto_research_probe.labels import load_labeled_texts
from auto_research_probe.models import load_hooked_model, tokenize_prompt
from auto_research_probe.nnsight_backend import load_nnsight_lm, pad_batch
from auto_research_probe.probing import HOOKS, POSITIONS, hooked_features, hooked_inputs, nnsight_features
from nnsight_project import DEMO_DIR, DEMO_MODEL, import_script, make_demo_project, run_script

pytestmark = pytest.mark.torch

TOLERANCE = 1e-4
# Fields that describe the run rather than measure anything.
SKIPPED = {"provenance", "artifacts", "probe_id", "backend", "labels_path", "prompts_path"}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    # recheck_float32 is set so the float32 runs show the precision check is left out at float32.
    code, _ = make_demo_project(tmp_path_factory.mktemp("agreement"), n_examples=24, seeds=[0, 1], recheck_float32=4)
    return code


@pytest.fixture(scope="module")
def results(project):
    return {
        (intervention, backend): run_script(project, intervention, backend)
        for intervention in ("logit_lens", "probing")
        for backend in ("transformer_lens", "nnsight")
    }


def numeric_differences(first, second, path="") -> list[tuple[str, float]]:
    """Walk two results files and return (path, |difference|) for every number both hold at the same place."""
    if isinstance(first, dict) and isinstance(second, dict):
        found = []
        for key in sorted(set(first) & set(second) - SKIPPED):
            found += numeric_differences(first[key], second[key], f"{path}.{key}")
        return found
    if isinstance(first, list) and isinstance(second, list):
        assert len(first) == len(second), f"{path}: lengths {len(first)} and {len(second)}"
        found = []
        for index, (left, right) in enumerate(zip(first, second)):
            found += numeric_differences(left, right, f"{path}[{index}]")
        return found
    if isinstance(first, (int, float)) and isinstance(second, (int, float)) and not isinstance(first, bool):
        if math.isnan(first) and math.isnan(second):
            return [(path, 0.0)]
        return [(path, abs(float(first) - float(second)))]
    return []


@pytest.mark.parametrize("intervention", ["logit_lens", "probing"])
def test_backends_agree_on_every_number(results, intervention):
    transformer_lens = results[(intervention, "transformer_lens")]
    nnsight = results[(intervention, "nnsight")]
    assert transformer_lens["backend"] == "transformer_lens"
    assert nnsight["backend"] == "nnsight"
    differences = numeric_differences(transformer_lens, nnsight)
    assert len(differences) > 30, differences  # the walk reached the per-layer values, intervals and controls
    worst = max(differences, key=lambda item: item[1])
    print(f"{intervention}: {len(differences)} numbers, max abs difference {worst[1]:.3g} at {worst[0]}")
    assert worst[1] <= TOLERANCE, worst
    # Both results files have the same keys.
    assert set(transformer_lens) == set(nnsight)
    assert "There is no activation cache on this backend" in nnsight["layer_semantics"]


def test_logit_lens_results_are_informative(results):
    """Agreement is only worth something when the values vary: the demo model predicts the repeat at the last layer."""
    lens = results[("logit_lens", "nnsight")]
    log_probs = lens["secondary_metrics"]["log_prob_of_correct_token"]["values_per_layer"]
    assert lens["values_per_layer"][-1] < lens["values_per_layer"][0]
    assert log_probs[-1] > log_probs[0] + 1.0
    assert lens["shuffled_control_mean"] > lens["mean"]


def test_float32_runs_have_no_precision_check(results):
    for key, document in results.items():
        assert "precision_check" not in document, key
        assert document["provenance"]["remote"] is False
        assert document["provenance"]["device_map"] is None


# ---------------------------------------------------------------------------------------
# Features of every hook and position


@pytest.fixture(scope="module")
def models():
    return load_hooked_model(str(DEMO_MODEL), device="cpu"), load_nnsight_lm(str(DEMO_MODEL), device="cpu")


@pytest.fixture(scope="module")
def probing_script(project):
    return import_script(project, "probing", "nnsight")


@pytest.fixture(scope="module")
def label_texts():
    return [record.text for record in load_labeled_texts(DEMO_DIR / "labels.jsonl", require_labels=True)[:12]]


@pytest.mark.parametrize("hook", HOOKS)
@pytest.mark.parametrize("position", POSITIONS)
def test_probe_features_agree_at_every_hook_and_position(models, probing_script, label_texts, hook, position):
    hooked, lm = models
    layers = [0, 1, 2] if hook == "resid_pre" else [0, 1]
    reference = hooked_features(hooked, hooked_inputs(hooked, label_texts), layers, hook, position, batch_size=5)
    features = nnsight_features(lm, hooked_inputs(lm, label_texts), layers, hook, position, probing_script.probe_features, batch_size=5)
    for layer in layers:
        assert np.abs(reference[layer]).max() > 1e-2, (hook, layer)  # not a vector of zeros
        difference = np.abs(features[layer] - reference[layer]).max()
        print(f"features {hook} {position} layer {layer}: max abs difference {difference:.3g}")
        assert difference <= TOLERANCE, (hook, position, layer, difference)


# ---------------------------------------------------------------------------------------
# The transformers-5 trap: a block's output is a tensor, and [0] would take the first row


TWO_PROMPTS = ["defi kego fulo kavu puvu vesa sune defi", "suva gimu feki kuba varo pado mava suva"]


def run_rows(lm, function, prompts, *arguments):
    """Return the trace function's values for the prompts as one batch and one at a time."""
    rows = [tokenize_prompt(lm, prompt) for prompt in prompts]
    together = function(lm, pad_batch(lm, rows), *arguments)
    alone = [function(lm, pad_batch(lm, [ids]), *arguments) for ids in rows]
    return together, alone


def check_rows_are_their_own(together, alone, layers):
    for layer in layers:
        # The two prompts differ, so a trace that read row 0 for both would fail below.
        assert (alone[0][layer] - alone[1][layer]).abs().max() > 1e-2
        for row, single in enumerate(alone):
            assert (together[layer][row] - single[layer][0]).abs().max() <= 1e-5, (layer, row)


def test_each_row_reads_its_own_block_output(models, project, probing_script):
    _, lm = models
    lens_script = import_script(project, "logit_lens", "nnsight")
    # Layer 2 of the lens and resid_post read a block's output.
    together, alone = run_rows(lm, lens_script.lens_logits, TWO_PROMPTS, [0, 2])
    check_rows_are_their_own(together, alone, [0, 2])
    together, alone = run_rows(lm, probing_script.probe_features, TWO_PROMPTS, [0, 1], "resid_post", "last", 1)
    check_rows_are_their_own(together, alone, [0, 1])


def test_row_check_catches_output_indexing(models, project):
    """The mistake itself: `output[0]` on a tensor broadcasts the first prompt's residual to every row."""
    _, lm = models
    script = project / "analysis" / "probing_nnsight.py"
    text = script.read_text(encoding="utf-8")
    correct = "value = output[0] if isinstance(output, tuple) else output"
    assert correct in text
    broken = project / "analysis" / "probing_broken.py"
    broken.write_text(text.replace(correct, "value = output[0]"), encoding="utf-8")
    module = import_script(project, "probing", "broken")
    together, alone = run_rows(lm, module.probe_features, TWO_PROMPTS, [1], "resid_post", "last", 1)
    with pytest.raises(AssertionError):
        check_rows_are_their_own(together, alone, [1])
    # Row 1 got row 0's vector.
    assert (together[1][1] - alone[0][1][0]).abs().max() <= 1e-5


# ---------------------------------------------------------------------------------------
# Remote execution, simulated: nnsight serialises the trace and runs it in this process


def test_trace_functions_survive_serialisation(models, project, probing_script):
    _, lm = models
    lens_script = import_script(project, "logit_lens", "nnsight")
    rows = [tokenize_prompt(lm, prompt) for prompt in ["defi kego fulo kavu puvu vesa sune defi", "suva gimu", "nero bele zoge fiba"]]
    batch = pad_batch(lm, rows)
    local_lens = lens_script.lens_logits(lm, batch, [0, 1, 2])
    local_features = {hook: probing_script.probe_features(lm, batch, [0, 1], hook, "mean", 1) for hook in HOOKS}
    lm.remote = "local"
    try:
        remote_lens = lens_script.lens_logits(lm, batch, [0, 1, 2])
        remote_features = {hook: probing_script.probe_features(lm, batch, [0, 1], hook, "mean", 1) for hook in HOOKS}
    finally:
        lm.remote = False
    differences = [float((remote_lens[layer] - local_lens[layer]).abs().max()) for layer in (0, 1, 2)]
    differences += [float((remote_features[hook][layer] - local_features[hook][layer]).abs().max()) for hook in HOOKS for layer in (0, 1)]
    print(f"remote='local' against local: max abs difference {max(differences):.3g}")
    assert max(differences) <= 1e-6
    assert isinstance(remote_lens[2], torch.Tensor) and remote_lens[2].shape == (3, lm.cfg.d_vocab)
