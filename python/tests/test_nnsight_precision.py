"""The float32 recheck of a reduced-precision nnsight run (setup --recheck-float32 N).

A bfloat16 run of the demo model reruns its first examples in float32; the results
file's precision_check must hold the differences this test recomputes on its own from
a bfloat16 and a float32 model.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from auto_research_probe.datasets import load_prompts_jsonl, sample_per_seed
from auto_research_probe.labels import load_labeled_texts
from auto_research_probe.logit_lens import LOG_PROB_TOLERANCE, LogitLensConfig, _lens_logits_in_batches, metrics_from_logits, prepare_example
from auto_research_probe.nnsight_backend import load_nnsight_lm, needs_precision_check
from auto_research_probe.probing import FEATURE_TOLERANCE, PRECISION_METRIC, hooked_inputs, nnsight_features
from nnsight_project import DEMO_DIR, DEMO_MODEL, import_script, make_demo_project, run_script

pytestmark = pytest.mark.torch

N_EXAMPLES = 12
RECHECK = 4
KEYS = {"dtype", "reference_dtype", "n_examples", "metric", "max_abs_diff", "mean_abs_diff", "within_tolerance", "tolerance"}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    code, _ = make_demo_project(tmp_path_factory.mktemp("precision"), n_examples=N_EXAMPLES, seeds=[0], dtype="bfloat16", recheck_float32=RECHECK)
    return code


@pytest.fixture(scope="module")
def models():
    return load_nnsight_lm(str(DEMO_MODEL), dtype="bfloat16", device="cpu"), load_nnsight_lm(str(DEMO_MODEL), device="cpu")


def check_record(record, metric, tolerance):
    assert set(record) == KEYS
    assert record["dtype"] == "bfloat16"
    assert record["reference_dtype"] == "float32"
    assert record["n_examples"] == RECHECK
    assert record["metric"] == metric
    assert record["tolerance"] == tolerance
    # bfloat16 rounding moves the values, within the tolerance on this small model.
    assert 0 < record["mean_abs_diff"] <= record["max_abs_diff"] <= tolerance
    assert record["within_tolerance"] is True


def test_logit_lens_precision_check(project, models):
    results = run_script(project, "logit_lens", "nnsight")
    record = results["precision_check"]
    print(f"logit lens bfloat16 against float32: {record}")
    check_record(record, "log_prob_of_correct_token", LOG_PROB_TOLERANCE)
    assert results["provenance"]["dtype"] == "bfloat16"

    # The same comparison, recomputed here. The run's bfloat16 values come from the first seed's batch
    # of all its examples (bfloat16 sums depend on the batch's padding), its float32 rerun from a batch
    # of the first RECHECK examples.
    draw = sample_per_seed(load_prompts_jsonl(DEMO_DIR / "prompts.jsonl"), N_EXAMPLES, [0])[0]
    lens_logits = import_script(project, "logit_lens", "nnsight").lens_logits
    values = []
    for lm, chosen in zip(models, (draw, draw[:RECHECK])):
        examples = [prepare_example(lm, example) for example in chosen]
        logits = _lens_logits_in_batches(lm, examples, [0, 1, 2], lens_logits, batch_size=32)
        metrics = metrics_from_logits(logits, torch.tensor([example.correct_token for example in examples]))
        values.append(np.stack([metrics["log_prob_of_correct_token"][layer][:RECHECK] for layer in (0, 1, 2)]))
    difference = np.abs(values[0] - values[1])
    assert record["max_abs_diff"] == pytest.approx(float(difference.max()), abs=1e-6)
    assert record["mean_abs_diff"] == pytest.approx(float(difference.mean()), abs=1e-6)


def test_probing_precision_check(project, models):
    results = run_script(project, "probing", "nnsight")
    record = results["precision_check"]
    print(f"probing bfloat16 against float32: {record}")
    check_record(record, PRECISION_METRIC, FEATURE_TOLERANCE)

    draw = sample_per_seed(load_labeled_texts(DEMO_DIR / "labels.jsonl", require_labels=True), N_EXAMPLES, [0])[0]
    probe_features = import_script(project, "probing", "nnsight").probe_features
    features = [
        nnsight_features(lm, hooked_inputs(lm, [example.text for example in chosen]), [0, 1], "resid_post", "last", probe_features)
        for lm, chosen in zip(models, (draw, draw[:RECHECK]))
    ]
    features[0] = {layer: values[:RECHECK] for layer, values in features[0].items()}
    errors = np.stack(
        [np.linalg.norm(features[0][layer] - features[1][layer], axis=1) / np.linalg.norm(features[1][layer], axis=1) for layer in (0, 1)]
    )
    assert record["max_abs_diff"] == pytest.approx(float(errors.max()), abs=1e-6)
    assert record["mean_abs_diff"] == pytest.approx(float(errors.mean()), abs=1e-6)


@pytest.mark.parametrize(
    "dtype, recheck, expected", [("bfloat16", 4, True), ("float16", 1, True), ("float32", 4, False), ("bfloat16", 0, False)]
)
def test_recheck_runs_only_for_reduced_precision(dtype, recheck, expected):
    config = LogitLensConfig("logit_lens_x", "m", "p", backend="nnsight", dtype=dtype, recheck_float32=recheck)
    assert needs_precision_check(config) is expected
