"""Every intervention reads its clean (and corrupted) activations through the activation cache.

A second run of a probe does no forward pass for what is cached, and the numbers are
the same as without the cache, bit for bit.
"""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from auto_research_probe import cache as cache_module
from auto_research_probe import path_patching as pp
from auto_research_probe.activation_patching import SITES, ActivationPatchingConfig, patched_logit_diffs, run_activation_patching
from auto_research_probe.attention_pattern import AttentionPatternConfig, make_sequences, pattern_scores, run_attention_pattern
from auto_research_probe.cache import CacheSettings
from auto_research_probe.pairs import load_pairs_jsonl, prepare_pairs
from auto_research_probe.path_patching import PathPatchingConfig, run_path_patching

pytestmark = pytest.mark.torch

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_MODEL = REPO_ROOT / "python" / "demo" / "induction-demo-model"
DEMO_PAIRS = REPO_ROOT / "python" / "demo" / "pairs.jsonl"


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # The tests run many tiny forward passes, and on shared cores extra threads only wait.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def demo_model():
    from auto_research_probe.models import load_hooked_model

    return load_hooked_model(str(DEMO_MODEL), device="cpu")


@pytest.fixture(scope="module")
def demo_pairs(demo_model):
    return prepare_pairs(demo_model, load_pairs_jsonl(DEMO_PAIRS)[:10])


class ForwardCounter:
    """Counts HookedTransformer forward passes, and those the cache runs to fill entries."""

    def __init__(self, monkeypatch):
        from transformer_lens import HookedTransformer

        self.total = 0
        self.in_cache = 0
        self._inside = False
        original_forward = HookedTransformer.forward
        original_batches = cache_module._forward_batches

        def forward(model, *args, **kwargs):
            self.total += 1
            self.in_cache += int(self._inside)
            return original_forward(model, *args, **kwargs)

        def forward_batches(*args, **kwargs):
            self._inside = True
            try:
                yield from original_batches(*args, **kwargs)
            finally:
                self._inside = False

        monkeypatch.setattr(HookedTransformer, "forward", forward)
        monkeypatch.setattr(cache_module, "_forward_batches", forward_batches)

    def take(self):
        counts = (self.total, self.in_cache)
        self.total = self.in_cache = 0
        return counts


def cache_events(root):
    lines = [json.loads(line) for line in (root / "cache" / "events.jsonl").read_text(encoding="utf-8").splitlines()]
    return [line for line in lines if line["event"].startswith("cache.")]


def numbers(results):
    keys = ("values_per_layer", "ci_per_layer", "mean", "ci_95", "values_per_seed", "shuffled_control_mean", "effect_size", "sweeps", "head_scores")
    return {key: results[key] for key in keys if key in results}


def run_twice(run, config, root, monkeypatch):
    counter = ForwardCounter(monkeypatch)
    first = json.loads(run(config, root).read_text(encoding="utf-8"))
    first_counts = counter.take()
    n_first_events = len(cache_events(root))
    second = json.loads(run(config, root).read_text(encoding="utf-8"))
    second_counts = counter.take()
    return first, second, first_counts, second_counts, cache_events(root)[n_first_events:]


def check_second_run(first, second, first_counts, second_counts, second_events):
    (total_first, cached_first), (total_second, cached_second) = first_counts, second_counts
    assert cached_first > 0
    assert cached_second == 0
    assert total_second == total_first - cached_first
    assert second_events and {line["event"] for line in second_events} == {"cache.hit"}
    assert numbers(second) == numbers(first)


def pairs_project(root):
    (root / "data").mkdir(parents=True)
    (root / "data" / "pairs.jsonl").write_text("\n".join(DEMO_PAIRS.read_text().splitlines()[:30]) + "\n", encoding="utf-8")


def test_attention_pattern_rerun_no_forward(tmp_path, monkeypatch):
    config = AttentionPatternConfig(
        probe_id="attention_rerun", model_id=str(DEMO_MODEL), seq_len=6, n_examples=5, seeds=(0, 1), n_bootstrap=50, batch_size=4, device="cpu"
    )
    first, second, first_counts, second_counts, events = run_twice(run_attention_pattern, config, tmp_path, monkeypatch)
    check_second_run(first, second, first_counts, second_counts, events)
    # The patterns (repeated and control sequences) and the page: nothing else runs the model.
    assert second_counts == (0, 0)
    assert first_counts == (2 * 2 * 2, 2 * 2 * 2)


def test_activation_patching_rerun_patched_only(tmp_path, monkeypatch):
    pairs_project(tmp_path)
    config = ActivationPatchingConfig(
        probe_id="patching_rerun", model_id=str(DEMO_MODEL), pairs_path="data/pairs.jsonl", n_examples=4, seeds=(0, 1), n_bootstrap=50, batch_size=3, device="cpu"
    )
    first, second, first_counts, second_counts, events = run_twice(run_activation_patching, config, tmp_path, monkeypatch)
    check_second_run(first, second, first_counts, second_counts, events)
    # One pass per batch fills resid_pre, attn_out, mlp_out and z at once (8 pairs, batches of 3).
    assert first_counts[1] == 3
    assert {line["hook_point"] for line in events} == {"resid_pre", "attn_out", "mlp_out", "z"}


@pytest.mark.parametrize("freeze_mlps", [False, True])
def test_path_patching_rerun_patched_only(tmp_path, monkeypatch, freeze_mlps):
    pairs_project(tmp_path)
    config = PathPatchingConfig(
        probe_id="path_rerun",
        model_id=str(DEMO_MODEL),
        pairs_path="data/pairs.jsonl",
        n_examples=4,
        seeds=(0, 1),
        n_bootstrap=50,
        batch_size=3,
        device="cpu",
        freeze_mlps=freeze_mlps,
    )
    first, second, first_counts, second_counts, events = run_twice(run_path_patching, config, tmp_path, monkeypatch)
    check_second_run(first, second, first_counts, second_counts, events)
    # Clean and corrupted head outputs, one pass per batch each (8 pairs, batches of 3).
    assert first_counts[1] == 2 * 3
    expected = {("z", 8)} | ({("mlp_out", 8)} if freeze_mlps else set())
    assert {(line["hook_point"], line["n_prompts"]) for line in events} == expected | {("z", 8)}


def settings(folder, events=None):
    from auto_research_probe.events import EventLog

    return CacheSettings(folder, EventLog(events), "demo", None)


def test_pattern_scores_cached_equal_uncached(demo_model, tmp_path, monkeypatch):
    sequences = make_sequences(demo_model, 5, 7, seed=2)
    uncached = pattern_scores(demo_model, sequences.repeated, [0, 1], 5, batch_size=3)
    counter = ForwardCounter(monkeypatch)
    first = pattern_scores(demo_model, sequences.repeated, [0, 1], 5, batch_size=3, cache=settings(tmp_path))
    assert counter.take() == (3, 3)
    second = pattern_scores(demo_model, sequences.repeated, [0, 1], 5, batch_size=3, cache=settings(tmp_path))
    assert counter.take() == (0, 0)
    for name, values in uncached.items():
        assert np.array_equal(first[name], values), name
        assert np.array_equal(second[name], values), name


def test_patched_logit_diffs_cached_equal_uncached(demo_model, demo_pairs, tmp_path, monkeypatch):
    sources = [1, 2, 0, 4, 5, 3, 7, 8, 9, 6]
    counter = ForwardCounter(monkeypatch)
    # The reference loop runs one forward pass per site, so the counts below show what the cache saves.
    # The fast engine, checked at the end, reads the same cache.
    uncached = patched_logit_diffs(demo_model, demo_pairs, SITES, batch_size=4, engine="reference")
    shuffled = patched_logit_diffs(demo_model, demo_pairs, ["head_out"], batch_size=4, sources=sources, engine="reference")["head_out"]
    counter.take()

    n_layers, n_heads, n_positions = 2, 4, len(demo_pairs[0].clean_ids)
    cells = n_layers * (3 * n_positions + 2 + n_heads)
    batches = 3
    for run in range(2):
        cached = patched_logit_diffs(demo_model, demo_pairs, SITES, batch_size=4, cache=settings(tmp_path), engine="reference")
        # The cache's passes fill every hook point at once on the first run, none on the second.
        assert counter.take() == (batches * cells + (batches if run == 0 else 0), batches if run == 0 else 0)
        for site in SITES:
            assert np.array_equal(cached[site], uncached[site]), site
        cached_shuffled = patched_logit_diffs(
            demo_model, demo_pairs, ["head_out"], batch_size=4, sources=sources, cache=settings(tmp_path), engine="reference"
        )["head_out"]
        assert counter.take() == (batches * n_layers * n_heads, 0)
        assert np.array_equal(cached_shuffled, shuffled)

    fast = patched_logit_diffs(demo_model, demo_pairs, SITES, batch_size=4, cache=settings(tmp_path), engine="fast")
    counter.take()
    for site in SITES:
        assert np.allclose(fast[site], uncached[site], atol=1e-4), site


def test_path_patching_cached_equal_uncached(demo_model, demo_pairs, tmp_path, monkeypatch):
    senders = [(0, head) for head in range(4)]
    sources = pp.derangement_within_buckets(demo_pairs, seed=3)
    batches = pp._make_batches(demo_model, demo_pairs, 4)
    shuffled_batches = pp._make_batches(demo_model, demo_pairs, 4, sources)
    n = len(demo_pairs)
    counter = ForwardCounter(monkeypatch)
    uncached = pp._patched_diffs(demo_model, batches, n, senders, (1, 2), ["q", "k", "v"], True)
    uncached_logits = pp._patched_diffs(demo_model, shuffled_batches, n, senders, None, (), False)["logits"]
    counter.take()

    outputs = pp._CachedHeadOutputs(demo_model, demo_pairs, settings(tmp_path), 4, True)
    assert counter.take() == (2 * 3, 2 * 3)
    again = pp._CachedHeadOutputs(demo_model, demo_pairs, settings(tmp_path), 4, True)
    assert counter.take() == (0, 0)
    cached = pp._patched_diffs(demo_model, batches, n, senders, (1, 2), ["q", "k", "v"], True, again)
    # Per batch and sender: one run to record the receiver's inputs, one per input.
    assert counter.take() == (3 * len(senders) * 4, 0)
    for name in ("q", "k", "v"):
        assert np.array_equal(cached[name], uncached[name], equal_nan=True), name
    cached_logits = pp._patched_diffs(demo_model, shuffled_batches, n, senders, None, (), False, outputs)["logits"]
    assert np.array_equal(cached_logits, uncached_logits, equal_nan=True)


def test_probe_unwritable_cache_raises(tmp_path):
    pairs_project(tmp_path)
    (tmp_path / "blocked").write_text("a file where the cache folder should be", encoding="utf-8")
    config = ActivationPatchingConfig(
        probe_id="patching_blocked",
        model_id=str(DEMO_MODEL),
        pairs_path="data/pairs.jsonl",
        n_examples=4,
        seeds=(0, 1),
        n_bootstrap=50,
        device="cpu",
        cache_dir="blocked/activations",
    )
    with pytest.raises(cache_module.CacheWriteError, match=r"blocked/activations is not writable"):
        run_activation_patching(config, tmp_path)
    lines = [json.loads(line) for line in (tmp_path / "cache" / "events.jsonl").read_text().splitlines()]
    assert lines[-1]["event"] == "probe.error"
    assert lines[-1]["error_type"] == "CacheWriteError"
    assert not (tmp_path / "results").exists()
    shutil.rmtree(tmp_path / "data")
