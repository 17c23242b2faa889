"""Batches of prompts of different lengths on TransformerLens: left padding must match one-at-a-time runs.

A batch of free-form prompts of different lengths (in the activation cache, which the
logit lens reads, in probing and in the SAE feature lookup) runs left-padded with an
attention mask, from which TransformerLens 3.5 derives position ids. The comparisons run a batch
of prompts of 4, 10 and 18 tokens (3, 9 and 17 words after BOS) and compare it with
runs of one prompt at a time, without padding, in float32. The attention-pattern
intervention runs sequences of one length only, so it has no case here. The cache's
realignment of pattern and score hooks is still checked, because `cache_activations`
accepts those hooks for any prompts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from auto_research_probe.cache import align_left_padded, cache_activations, hook_name, left_padded_tokens
from auto_research_probe.datasets import left_pad, position_ids_from_mask
from auto_research_probe.logit_lens import LensExample, lens_metrics
from auto_research_probe.models import load_hooked_model, prepends_bos, tokenize_prompt
from auto_research_probe.probing import POSITIONS, hooked_features, hooked_inputs
from auto_research_probe.sae_feature_lookup import encode_in_chunks, load_sae, save_sae, spliced_losses, train_sae
from tiny_model import WORDS

pytestmark = pytest.mark.torch

DEMO_MODEL = Path(__file__).resolve().parents[2] / "python" / "demo" / "induction-demo-model"
WORD_COUNTS = (3, 9, 17)
TOLERANCE = 1e-5


def texts_of_lengths(words, counts=WORD_COUNTS):
    return [" ".join(words[(7 * index + count) % len(words)] for index in range(count)) for count in counts]


def vocabulary_words(model):
    """Return the tokenizer's words without special tokens, in id order (WORDS for the tiny model)."""
    vocab = model.tokenizer.get_vocab()
    special = set(model.tokenizer.all_special_tokens)
    return [word for word, _ in sorted(vocab.items(), key=lambda item: item[1]) if word not in special]


def prompt_ids(model, counts=WORD_COUNTS):
    ids = [tokenize_prompt(model, text) for text in texts_of_lengths(vocabulary_words(model), counts)]
    assert model.tokenizer.unk_token_id not in {token for row in ids for token in row}
    assert len({len(row) for row in ids}) == len(ids), "the prompts must have different lengths"
    return ids


def single_run(model, ids, names):
    """Return {hook name: activation [1, ...]} of one prompt run alone, with no padding and no mask."""
    with torch.no_grad():
        logits, cache = model.run_with_cache(torch.tensor([ids], device=model.cfg.device), names_filter=lambda name: name in names)
    return logits, {name: cache[name].cpu() for name in names}


@pytest.fixture(scope="module")
def demo_model():
    return load_hooked_model(str(DEMO_MODEL), device="cpu")


@pytest.fixture()
def model_by_name(request, hooked_model):
    """The tiny GPT-2 or the trained demo model, named by the test's parameter."""
    return hooked_model if request.param == "tiny" else request.getfixturevalue("demo_model")


def max_abs_diff(a, b):
    return float((torch.as_tensor(a, dtype=torch.float64) - torch.as_tensor(b, dtype=torch.float64)).abs().max())


# ---------------------------------------------------------------------------------------
# The padding helpers and what TransformerLens does with the mask


def test_left_pad_tokens_and_mask():
    tokens, mask = left_pad([[5, 6, 7], [8]], 4, pad_token_id=0)

    assert tokens.tolist() == [[0, 5, 6, 7], [0, 0, 0, 8]]
    assert mask.tolist() == [[0, 1, 1, 1], [0, 0, 0, 1]]
    assert position_ids_from_mask(mask).tolist() == [[0, 0, 1, 2], [0, 0, 0, 0]]


def test_left_pad_rejects_long_row():
    with pytest.raises(ValueError, match="width 3 is less than the longest row's 4 tokens"):
        left_pad([[1, 2, 3, 4]], 3, pad_token_id=0)


def test_position_ids_match_transformer_lens():
    from transformer_lens.utilities import get_offset_position_ids

    _, mask = left_pad([[1] * 3, [1] * 9, [1] * 17], 17, pad_token_id=0)

    assert torch.equal(position_ids_from_mask(mask), get_offset_position_ids(0, mask))


def test_bidirectional_model_rejects_padding():
    from types import SimpleNamespace

    model = SimpleNamespace(cfg=SimpleNamespace(attention_dir="bidirectional", device="cpu"), tokenizer=None)

    tokens, mask = left_padded_tokens(model, [[4, 5], [6, 7]])
    assert mask.all()
    with pytest.raises(ValueError, match="prompts of 1 to 2 tokens cannot share a batch.*attention_dir='bidirectional'"):
        left_padded_tokens(model, [[4, 5], [6]])


def test_pos_embed_follows_mask(hooked_model):
    ids = prompt_ids(hooked_model)
    tokens, mask = left_padded_tokens(hooked_model, ids)
    with torch.no_grad():
        _, cache = hooked_model.run_with_cache(tokens, attention_mask=mask, names_filter="hook_pos_embed")
    expected = hooked_model.W_pos[position_ids_from_mask(mask)] * mask[..., None]

    assert torch.equal(cache["hook_pos_embed"], expected)


# ---------------------------------------------------------------------------------------
# The failure mode the padding avoids


@pytest.mark.parametrize("model_by_name", ["tiny", "demo"], indirect=True)
def test_left_padding_without_position_ids_differs(model_by_name):
    model = model_by_name
    ids = prompt_ids(model)
    tokens, mask = left_padded_tokens(model, ids)
    reference = torch.stack([single_run(model, row, set())[0][0, -1] for row in ids])
    width = tokens.shape[1]

    def unshifted_positions(pos_embed, hook):
        # What a forward pass with a mask but positions 0..width-1 in every row would use.
        return model.W_pos[:width].expand_as(pos_embed)

    with torch.no_grad():
        with_mask = model(tokens, attention_mask=mask)[:, -1]
        without_mask = model(tokens)[:, -1]
        mask_without_position_ids = model.run_with_hooks(tokens, attention_mask=mask, fwd_hooks=[("hook_pos_embed", unshifted_positions)])[:, -1]

    assert max_abs_diff(with_mask, reference) <= TOLERANCE
    for row in range(len(ids) - 1):  # the longest prompt has no padding
        assert max_abs_diff(without_mask[row], reference[row]) > 1e-2, f"prompt {row} without a mask"
        assert max_abs_diff(mask_without_position_ids[row], reference[row]) > 1e-2, f"prompt {row} without position ids"
    assert max_abs_diff(without_mask[-1], reference[-1]) <= TOLERANCE


# ---------------------------------------------------------------------------------------
# Activation cache and logit lens


def test_cache_rows_match_single_runs(hooked_model, tmp_path):
    assert hooked_model.cfg.dtype == torch.float32
    ids = prompt_ids(hooked_model)
    layers = list(range(hooked_model.cfg.n_layers + 1))
    resid = cache_activations(hooked_model, ids, layers, "resid_pre", tmp_path, batch_size=len(ids))
    names = {layer: hook_name("resid_pre", layer, hooked_model.cfg.n_layers) for layer in layers}

    for index, row in enumerate(ids):
        _, reference = single_run(hooked_model, row, set(names.values()))
        for layer, name in names.items():
            assert max_abs_diff(resid[layer][index, : len(row)], reference[name][0]) <= TOLERANCE, (index, layer)
            assert torch.all(resid[layer][index, len(row) :] == 0), (index, layer)


def test_cache_realigns_pattern_and_scores(hooked_model, tmp_path):
    ids = prompt_ids(hooked_model)
    pattern = cache_activations(hooked_model, ids, [0, 1], "pattern", tmp_path, batch_size=len(ids))
    scores = cache_activations(hooked_model, ids, [0, 1], "attn_scores", tmp_path, batch_size=len(ids))

    for index, row in enumerate(ids):
        length = len(row)
        names = {f"blocks.{layer}.attn.hook_pattern" for layer in (0, 1)} | {f"blocks.{layer}.attn.hook_attn_scores" for layer in (0, 1)}
        _, reference = single_run(hooked_model, row, names)
        for layer in (0, 1):
            stored = pattern[layer][index]
            assert max_abs_diff(stored[:, :length, :length], reference[f"blocks.{layer}.attn.hook_pattern"][0]) <= TOLERANCE
            assert torch.all(stored[:, length:] == 0)
            assert torch.all(stored[:, :, length:] == 0)
            stored_scores = scores[layer][index]
            expected = reference[f"blocks.{layer}.attn.hook_attn_scores"][0]
            finite = torch.isfinite(expected)
            assert torch.equal(torch.isfinite(stored_scores[:, :length, :length]), finite)
            assert max_abs_diff(stored_scores[:, :length, :length][finite], expected[finite]) <= TOLERANCE
            assert torch.all(stored_scores[:, :, length:] == float("-inf"))
            # A softmax over a whole stored row is the pattern, padding included.
            assert max_abs_diff(torch.softmax(stored_scores[:, :length], dim=-1), stored[:, :length]) <= TOLERANCE


def test_align_left_padded_moves_rows():
    activation = torch.arange(2 * 3, dtype=torch.float32).reshape(2, 3, 1) + 1

    aligned = align_left_padded(activation, [2, 3], 4, "blocks.0.hook_resid_post")

    assert aligned[..., 0].tolist() == [[2, 3, 0, 0], [4, 5, 6, 0]]


def lens_examples(model, ids):
    # The last word is the correct token, predicted from the tokens before it.
    return [LensExample(row[:-1], row[-1], index + 1) for index, row in enumerate(ids)]


@pytest.mark.parametrize("model_by_name", ["tiny", "demo"], indirect=True)
def test_logit_lens_batch_matches_single(model_by_name, tmp_path):
    model = model_by_name
    examples = lens_examples(model, prompt_ids(model, (4, 10, 18)))
    layers = list(range(model.cfg.n_layers + 1))
    inputs = [example.input_ids for example in examples]

    batched = lens_metrics(model, cache_activations(model, inputs, layers, "resid_pre", tmp_path / "batched", batch_size=3), examples)
    single = [
        lens_metrics(model, cache_activations(model, [row], layers, "resid_pre", tmp_path / f"single-{index}", batch_size=1), [example])
        for index, (row, example) in enumerate(zip(inputs, examples))
    ]

    for layer in layers:
        log_probs = np.concatenate([metrics["log_prob_of_correct_token"][layer] for metrics in single])
        ranks = np.concatenate([metrics["rank_of_correct_token"][layer] for metrics in single])
        assert np.abs(batched["log_prob_of_correct_token"][layer] - log_probs).max() <= TOLERANCE, layer
        assert np.array_equal(batched["rank_of_correct_token"][layer], ranks), layer


def test_pad_equal_to_bos_and_left_side(hooked_model, model_copy, tmp_path):
    # GPT-2's tokenizer uses one id for BOS, EOS and padding. With an explicit mask,
    # neither that nor the tokenizer's padding side changes what TransformerLens computes.
    tokenizer = model_copy.tokenizer
    tokenizer.pad_token = tokenizer.bos_token
    tokenizer.eos_token = tokenizer.bos_token
    tokenizer.padding_side = "left"
    assert tokenizer.pad_token_id == tokenizer.bos_token_id == tokenizer.eos_token_id
    ids = prompt_ids(hooked_model)
    layers = list(range(hooked_model.cfg.n_layers + 1))

    resid = cache_activations(model_copy, ids, layers, "resid_pre", tmp_path, batch_size=len(ids))

    for index, row in enumerate(ids):
        names = {layer: hook_name("resid_pre", layer, hooked_model.cfg.n_layers) for layer in layers}
        _, reference = single_run(hooked_model, row, set(names.values()))
        for layer, name in names.items():
            assert max_abs_diff(resid[layer][index, : len(row)], reference[name][0]) <= TOLERANCE, (index, layer)


# ---------------------------------------------------------------------------------------
# Probing


@pytest.mark.parametrize("hook", ["resid_post", "attn_out"])
def test_probing_features_batch_matches_single(hooked_model, hook):
    inputs = hooked_inputs(hooked_model, texts_of_lengths(WORDS))
    layers = list(range(hooked_model.cfg.n_layers))
    names = {layer: hook_name(hook, layer, hooked_model.cfg.n_layers) for layer in layers}
    references = [single_run(hooked_model, row, set(names.values()))[1] for row in inputs.token_ids]

    for position in POSITIONS:
        batched = hooked_features(hooked_model, inputs, layers, hook, position, batch_size=3)
        expected = {
            layer: np.stack(
                [references[index][names[layer]][0, rows].double().mean(dim=0).numpy() for index, rows in enumerate(inputs.positions(position))]
            )
            for layer in layers
        }
        for layer in layers:
            assert np.abs(batched[layer] - expected[layer]).max() <= TOLERANCE, (position, layer)


def test_probing_features_cache_matches_direct(hooked_model, tmp_path):
    from auto_research_probe.cache import CacheSettings

    inputs = hooked_inputs(hooked_model, texts_of_lengths(WORDS))
    settings = CacheSettings(tmp_path)

    for position in POSITIONS:
        direct = hooked_features(hooked_model, inputs, [0, 1], "resid_post", position, batch_size=3)
        cached = hooked_features(hooked_model, inputs, [0, 1], "resid_post", position, cache=settings, batch_size=3)
        for layer in (0, 1):
            assert np.abs(direct[layer] - cached[layer]).max() <= TOLERANCE, (position, layer)


# ---------------------------------------------------------------------------------------
# SAE feature lookup


def small_sae(model, tmp_path, ids):
    """Train a small SAE on resid_post of layer 1, save it and read it back through sae-lens, as the probe does."""
    resid = cache_activations(model, ids, [1], "resid_post", tmp_path / "train", batch_size=len(ids))[1]
    tokens = torch.cat([resid[index, : len(row)] for index, row in enumerate(ids)])
    trained = train_sae(tokens, 64, steps=20, batch_size=16, seed=0)
    folder = tmp_path / "sae"
    save_sae(
        trained,
        folder,
        hook_name=hook_name("resid_post", 1, model.cfg.n_layers),
        model_name="tiny",
        prepend_bos=prepends_bos(model),
        context_size=model.cfg.n_ctx,
    )
    return load_sae(folder)


def test_sae_features_batch_matches_single(hooked_model, tmp_path):
    ids = prompt_ids(hooked_model)
    sae = small_sae(hooked_model, tmp_path, ids)
    name = hook_name("resid_post", 1, hooked_model.cfg.n_layers)

    resid = cache_activations(hooked_model, ids, [1], "resid_post", tmp_path / "batched", batch_size=len(ids))[1]
    batched = encode_in_chunks(sae, torch.cat([resid[index, : len(row)] for index, row in enumerate(ids)]))
    single = encode_in_chunks(sae, torch.cat([single_run(hooked_model, row, {name})[1][name][0] for row in ids]))

    assert batched.shape == single.shape
    assert max_abs_diff(batched, single) <= TOLERANCE


def test_spliced_loss_batch_matches_single(hooked_model, tmp_path):
    ids = prompt_ids(hooked_model)
    sae = small_sae(hooked_model, tmp_path, ids)
    name = hook_name("resid_post", 1, hooked_model.cfg.n_layers)
    start = 1 if prepends_bos(hooked_model) else 0

    def replace(activation):
        return sae.decode(sae.encode(activation))

    batched = spliced_losses(hooked_model, ids, name, replace, start, batch_size=len(ids))
    singles = [spliced_losses(hooked_model, [row], name, replace, start, batch_size=1) for row in ids]
    n_predictions = sum(single["n_predictions"] for single in singles)

    assert batched["n_predictions"] == n_predictions == sum(len(row) - 1 - start for row in ids)
    for metric in ("clean", "sae", "zero_ablation"):
        pooled = sum(single[metric] * single["n_predictions"] for single in singles) / n_predictions
        assert abs(batched[metric] - pooled) <= TOLERANCE, metric

    # The clean loss also matches TransformerLens's own per-token loss of each prompt alone.
    clean_sum = 0.0
    with torch.no_grad():
        for row in ids:
            per_token = hooked_model(torch.tensor([row]), return_type="loss", loss_per_token=True)[0]
            clean_sum += float(per_token[start:].double().sum())
    assert abs(batched["clean"] - clean_sum / n_predictions) <= TOLERANCE
    assert batched["sae"] != batched["clean"]
