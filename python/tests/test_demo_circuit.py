"""Ground truth on the demo model: the three circuit interventions agree with each other.

The demo model was trained to copy repeated spans, so it should contain a previous-token
head in layer 0 and an induction head in layer 1 that reads it through its keys
(K-composition; Elhage et al. 2021, Olsson et al. 2022). Each test finds the heads from
one intervention's scores at test time and checks that another intervention singles out
the same heads; no head index is written down here.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from auto_research_probe.activation_patching import head_out_sweep  # noqa: E402
from auto_research_probe.attention_pattern import head_scores  # noqa: E402
from auto_research_probe.models import load_hooked_model  # noqa: E402
from auto_research_probe.pairs import load_pairs_jsonl, prepare_pairs  # noqa: E402
from auto_research_probe.path_patching import sender_sweep  # noqa: E402

DEMO_DIR = Path(__file__).resolve().parents[1] / "demo"
# The defaults of the generated scripts: spans of 20 tokens, 64 examples per seed.
SEQ_LEN = 20
N_EXAMPLES = 64


@pytest.fixture(scope="module")
def demo_model():
    return load_hooked_model(str(DEMO_DIR / "induction-demo-model"), device="cpu")


@pytest.fixture(scope="module")
def demo_pairs(demo_model):
    return prepare_pairs(demo_model, load_pairs_jsonl(DEMO_DIR / "pairs.jsonl")[:N_EXAMPLES])


@pytest.fixture(scope="module")
def scores(demo_model):
    return head_scores(demo_model, None, SEQ_LEN, N_EXAMPLES, seed=0)


def top_head(grid: np.ndarray) -> tuple[int, int]:
    layer, head = np.unravel_index(int(np.nanargmax(grid)), grid.shape)
    return int(layer), int(head)


def test_top_induction_head_is_top_patched_head_of_its_layer(demo_model, demo_pairs, scores):
    induction_layer, induction_head = top_head(scores["induction"])
    assert induction_layer >= 1, "the top induction head must sit above layer 0 to read a previous-token head"

    patched = head_out_sweep(demo_model, demo_pairs)

    # Every layer-1 head reads only what layer 0 wrote, so the previous-token head upstream
    # recovers nearly everything; the comparison is among the heads of the induction layer.
    row = patched[induction_layer]
    assert int(np.argmax(row)) == induction_head, (
        f"top induction head L{induction_layer}H{induction_head} (scores {scores['induction'][induction_layer]}) "
        f"is not the top patched head of its layer (effects {row})"
    )
    runner_up = np.sort(row)[-2]
    assert row[induction_head] - runner_up > 0.02, f"the top patched head does not stand out: {row}"


def test_top_previous_token_head_is_top_k_sender_into_induction_head(demo_model, demo_pairs, scores):
    receiver = top_head(scores["induction"])
    previous_layer0 = int(np.argmax(scores["previous_token"][0]))

    tops = {}
    for name in ("q", "k", "v"):
        swept = sender_sweep(demo_model, demo_pairs, receiver, name)
        tops[name] = (top_head(swept[: receiver[0]]), float(np.nanmax(swept[: receiver[0]])))

    k_sender, k_value = tops["k"]
    assert k_sender == (0, previous_layer0), (
        f"top K sender {k_sender} differs from the top previous-token head L0H{previous_layer0}; tops: {tops}"
    )
    # K-composition: the path through the receiver's keys carries far more than its queries or values.
    assert k_value > 0.1, tops
    assert k_value > 5 * max(tops["q"][1], tops["v"][1], 0.0), tops
