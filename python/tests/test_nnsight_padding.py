"""Left padding on the nnsight backend: a batch of prompts of different lengths gives each prompt's own values.

A known failure of both libraries (nnsight #672, TransformerLens #1609): with left
padding and no position ids, Hugging Face GPT-2 numbers positions from the first
column, padding included, so a padded prompt gets shifted positional embeddings. The
runtime batches with `pad_batch`, which derives position ids from the attention mask.
These tests compare batched values with one-at-a-time values through the runtime's own
batching functions. They also show that the same batch without position ids fails.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from auto_research_probe.logit_lens import LensExample, _lens_logits_in_batches
from auto_research_probe.models import tokenize_prompt
from auto_research_probe.nnsight_backend import load_nnsight_lm, pad_batch
from auto_research_probe.probing import HOOKS, POSITIONS, hooked_inputs, nnsight_features
from nnsight_project import DEMO_MODEL, import_script, make_demo_project

pytestmark = pytest.mark.torch

TOLERANCE = 1e-5
# 3, 9 and 19 tokens with BOS: the short prompts get 16 and 10 columns of padding in one batch.
PROMPTS = [
    "suva gimu",
    "defi kego fulo kavu puvu vesa sune defi",
    "gufu gifa lale simi mafi mogo voma labi kuro tozo pefa gufu gifa lale simi mafi mogo voma",
]


@pytest.fixture(scope="module")
def lm():
    return load_nnsight_lm(str(DEMO_MODEL), device="cpu")


@pytest.fixture(scope="module")
def scripts(tmp_path_factory):
    code, _ = make_demo_project(tmp_path_factory.mktemp("padding"), n_examples=4, seeds=[0])
    return import_script(code, "logit_lens", "nnsight"), import_script(code, "probing", "nnsight")


def lens_examples(lm) -> list[LensExample]:
    return [LensExample(tokenize_prompt(lm, prompt), 3, index) for index, prompt in enumerate(PROMPTS)]


def test_prompt_lengths_differ(lm):
    assert [len(tokenize_prompt(lm, prompt)) for prompt in PROMPTS] == [3, 9, 19]


def test_logit_lens_batched_equals_one_at_a_time(lm, scripts):
    lens_logits = scripts[0].lens_logits
    examples = lens_examples(lm)
    batched = _lens_logits_in_batches(lm, examples, [0, 1, 2], lens_logits, batch_size=3)
    alone = _lens_logits_in_batches(lm, examples, [0, 1, 2], lens_logits, batch_size=1)
    worst = max(float((batched[layer] - alone[layer]).abs().max()) for layer in (0, 1, 2))
    print(f"logit lens, batched against one at a time: max abs difference {worst:.3g}")
    assert worst <= TOLERANCE
    # The last layer is the model's own next-token logits for each prompt on its own.
    for row, prompt in enumerate(PROMPTS):
        ids = torch.tensor([tokenize_prompt(lm, prompt)])
        logits = lm.hf_model(input_ids=ids).logits[0, -1]
        assert (batched[2][row] - logits).abs().max() <= TOLERANCE


@pytest.mark.parametrize("hook", HOOKS)
def test_probing_batched_equals_one_at_a_time(lm, scripts, hook):
    inputs = hooked_inputs(lm, PROMPTS)
    layers = [0, 1, 2] if hook == "resid_pre" else [0, 1]
    worst = 0.0
    for position in POSITIONS:
        batched = nnsight_features(lm, inputs, layers, hook, position, scripts[1].probe_features, batch_size=3)
        alone = nnsight_features(lm, inputs, layers, hook, position, scripts[1].probe_features, batch_size=1)
        worst = max([worst] + [float(np.abs(batched[layer] - alone[layer]).max()) for layer in layers])
    print(f"probing {hook}, batched against one at a time: max abs difference {worst:.3g}")
    assert worst <= TOLERANCE


def without_position_ids(batch):
    """The regression: the same left-padded batch with positions counted from the first column."""
    columns = torch.arange(batch.input_ids.shape[1]).expand_as(batch.input_ids)
    return dataclasses.replace(batch, position_ids=columns.clone())


def test_left_padding_without_position_ids_would_fail(lm, scripts):
    lens_logits, probe_features = scripts[0].lens_logits, scripts[1].probe_features
    rows = [tokenize_prompt(lm, prompt) for prompt in PROMPTS]
    batch = pad_batch(lm, rows)
    alone = [lens_logits(lm, pad_batch(lm, [ids]), [2])[2][0] for ids in rows]
    broken = lens_logits(lm, without_position_ids(batch), [2])[2]
    # The longest prompt has no padding, so only the padded ones move.
    assert (broken[2] - alone[2]).abs().max() <= TOLERANCE
    for row in (0, 1):
        assert (broken[row] - alone[row]).abs().max() > 1e-2, row

    features_alone = [probe_features(lm, pad_batch(lm, [ids]), [1], "resid_post", "mean", 1)[1][0] for ids in rows]
    features_broken = probe_features(lm, without_position_ids(batch), [1], "resid_post", "mean", 1)[1]
    for row in (0, 1):
        assert (features_broken[row] - features_alone[row]).abs().max() > 1e-2, row
