"""Activation patching: which component's activation is causally enough to restore a behaviour.

Method (denoising). Each example is a pair of prompts with the same number of tokens:
a clean prompt, on which the model gives `answer`, and a corrupted prompt, which makes
it prefer `wrong_answer` (see `pairs.py`). The model runs on the corrupted prompt
while one activation is replaced by its value from the clean run, and the logit
difference `logit[answer] - logit[wrong_answer]` is read at the last position. The
component is then credited with the share of the clean-corrupted gap that this one
clean activation restores (Meng et al. 2022, "Locating and Editing Factual
Associations in GPT", who call it causal tracing; Wang et al. 2023,
"Interpretability in the Wild"; Heimersheim & Nanda 2024, "How to use and interpret
activation patching"). Denoising tests whether a component is sufficient to carry
the clean information into a corrupted run. Whether the component is necessary on
clean prompts is a different question, which noising (the reverse direction) tests.

Normalisation. With batch means over the examples,

    normalised_logit_diff_recovered = (mean patched - mean corrupted) / (mean clean - mean corrupted)

so 0 means the patch restores nothing and 1 means it restores the whole gap. This
ratio of means is exactly what TransformerLens's `transformer_lens.patching`
functions return with a patching metric of the batch-mean logit difference; the tests
check each sweep against them. A per-example ratio would divide by each example's own
gap, which can be close to zero. When the clean and corrupted means are equal the
ratio is undefined and the run stops with a ValueError before the sweeps.

Sweeps (hook names of TransformerLens, layer L = transformer block L):
- `resid_pre` layer x position: the residual stream entering block L at one position
  (`blocks.L.hook_resid_pre`); needs all pairs to share one token length.
- `attn_out` and `mlp_out` layer x position: block L's attention or MLP output at one
  position (`blocks.L.hook_attn_out`, `blocks.L.hook_mlp_out`); same length rule.
- `attn_out_all_pos` and `mlp_out_all_pos` per layer: that output at every position.
- `head_out` layer x head: one head's output before W_O (`blocks.L.attn.hook_z`) at
  every position.
Pairs of different lengths run in separate batches (no padding); the layer x position
sweeps are skipped then, and the reason is recorded in the results.

Computation (`method`). "exact" (the default) measures every patch. It runs the fast
sweep of `fast_patching` (each patched run starts at the patched layer from the
corrupted run's activations, computes only the positions the patch can change, and
shares passes between patches) and falls back to one full forward pass per patch, the
reference loop, for a model the fast sweep does not support. `exact_engine` in the
results records which one ran, and `exact_engine_fallback_reason` the reason. Both give
TransformerLens's numbers up to rounding. "attribution" replaces every patch by its
first-order estimate (attribution patching: (clean - corrupted activation) . gradient of
the logit difference at the corrupted run), one forward and one backward pass per
sub-batch, then runs exact patching on the first seed's pairs and reports the Spearman
rank correlation between the two in `attribution_check`.

Statistics and controls. Each seed draws its own examples from the pairs file; pooled
values use every example of every seed. Intervals are paired percentile bootstraps of
the ratio of means (`stats.bootstrap_ratio_ci`). Shuffled control: the same head
patch, with each example's clean activation taken from a different example of the
same length in the same seed (a random derangement), so the patched activation comes
from a clean run with other words. Random baseline: the mean effect of a uniformly
chosen head (the mean of the head sweep). Effect size: Cohen's d of the per-example
effect at the top head, real against shuffled. Noise floor: the sample standard
deviation of the per-seed values.

Backends (`backend`). "transformer_lens" (the default) runs everything above on a
`HookedTransformer`. "nnsight" runs the Hugging Face model in nnsight
(`nnsight_backend.load_nnsight_lm`: local, spread over GPUs with `device_map`, or on
NDIF with `remote`) through three trace functions that the generated script defines and
passes in (`NnsightTraces`): the baselines, the clean activations of a sub-batch, and
the patched runs. Sampling, length buckets, the shuffled control and every statistic
are this module's, the same code for both backends. Each sub-batch contains pairs of one
token length, so no prompt is padded and no attention mask or position ids are needed.
The nnsight path reads the same activations from the Hugging Face modules (block input,
the attention module's output, the MLP's output, the input of the projection after the
heads). TransformerLens centres the weights that write to the residual stream and
folds the value bias into the output bias, so its activations differ from these by a
shift that is the same on the clean and the corrupted prompt. The patched logits then
differ only by a constant per position, and the logit differences agree. The activation
cache is not used on this path (its entries hold TransformerLens's centred tensors).
Attribution patching needs TransformerLens's hooks and is not offered on nnsight.

Precision check (`recheck_float32` > 0 and a dtype other than float32). The first
`recheck_float32` pairs of the first seed are rerun with the model loaded in float32,
and their per-pair logit differences on the clean and on the corrupted prompts are
compared with the run's (`precision_check` in the results). The tolerance is
`PRECISION_TOLERANCE_OF_GAP` (5%) of the float32 mean clean - corrupted gap of those
pairs. Each normalised effect divides by that gap, and its numerator and denominator
each contain two logit differences, so errors within the tolerance move an effect by
roughly 0.1 at most (an estimate that ignores correlated errors).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import fast_patching
from .cache import CacheSettings, hook_name
from .datasets import sample_per_seed, warn_small_dataset
from .events import EventLog
from .models import load_hooked_model, prepends_bos, resolve_model_id, weights_fingerprint
from .nnsight_backend import check_backend_settings, load_for_config, needs_precision_check, nnsight_fingerprint, precision_check
from .pairs import PatchingPair, check_baselines_differ, check_clear_gap, length_buckets, load_pairs_jsonl, logit_diff, pair_tensors, prepare_pairs
from .probe_run import check_run_settings, probe_provenance, resolve_in_project, run_with_events, save_figure_atomic
from .results import SCHEMA_VERSION, decide_status, write_json_atomic
from .stats import bootstrap_ratio_ci, cohens_d, noise_floor, ratio_of_means

PRIMARY_METRIC = "normalised_logit_diff_recovered"
SITES = fast_patching.SITES
POSITIONAL_SITES = fast_patching.POSITIONAL_SITES
MLP_SITES = fast_patching.MLP_SITES
REQUIRED_SITES = ("attn_out_all_pos", "head_out")
METHODS = ("exact", "attribution")
ENGINES = ("auto", "fast", "reference")
# exact_engine recorded for an nnsight run: the script's traces run every patched copy of the prompts
# through the whole model.
NNSIGHT_EXACT_ENGINE = "nnsight"
# precision_check tolerance: this share of the float32 mean clean - corrupted gap.
PRECISION_TOLERANCE_OF_GAP = 0.05
PRECISION_METRIC = "logit_diff_clean_and_corrupted"
_HOOKS = fast_patching.SITE_HOOKS
# The activation cache's hook point of each site (cache.hook_name maps it to the same hook name).
_CACHE_HOOK_POINTS = {
    "resid_pre": "resid_pre",
    "attn_out": "attn_out",
    "mlp_out": "mlp_out",
    "attn_out_all_pos": "attn_out",
    "mlp_out_all_pos": "mlp_out",
    "head_out": "z",
}
_AXES = {
    "resid_pre": ["layer", "position"],
    "attn_out": ["layer", "position"],
    "mlp_out": ["layer", "position"],
    "attn_out_all_pos": ["layer"],
    "mlp_out_all_pos": ["layer"],
    "head_out": ["layer", "head"],
}
LAYER_SEMANTICS = (
    "Layer L is transformer block L. values_per_layer patches block L's attention output "
    "(blocks.L.hook_attn_out) at every position; secondary mlp_out_all_pos patches its MLP output "
    "(blocks.L.hook_mlp_out). In sweeps, resid_pre (L, p) patches the residual stream entering "
    "block L at token position p, and head_out (L, H) patches head H's output before W_O "
    "(blocks.L.attn.hook_z) at every position."
)


@dataclass
class ActivationPatchingConfig:
    """Settings of one activation patching probe; relative paths are resolved against the project root.

    `alternative_explanations` are added to the ones written from this run's numbers.
    `sites` chooses the sweeps; attn_out_all_pos and head_out are always needed.
    `method` is "exact" (activation patching, the fast exact sweep where the model allows
    it) or "attribution" (the gradient estimate of every sweep, checked against exact
    patching on the first seed's pairs; see `fast_patching`).
    """

    probe_id: str
    model_id: str
    pairs_path: str
    layers: list[int] | None = None
    n_examples: int = 64
    seeds: tuple[int, ...] | list[int] = (0, 1, 2)
    dtype: str = "float32"
    device: str | None = None
    hypothesis: str = ""
    alternative_explanations: tuple[str, ...] | list[str] = ()
    sites: tuple[str, ...] | list[str] = SITES
    batch_size: int = 32
    n_bootstrap: int = 10_000
    results_dir: str = "results/probe"
    cache_dir: str = "cache/activations"
    events_path: str = "cache/events.jsonl"
    script_path: str | None = None
    bootstrap_seed: int = 0
    method: str = "exact"
    # Python code shipped with the model runs only when this is True (probe setup --trust-remote-code).
    trust_remote_code: bool = False
    # "transformer_lens" or "nnsight"; remote, device_map and module_paths are nnsight's (see nnsight_backend).
    backend: str = "transformer_lens"
    # False runs here, True on NDIF, "local" serialises each request as for NDIF and runs it here.
    remote: bool | str = False
    device_map: str | None = None
    # Rerun this many pairs of the first seed in float32 when dtype is not float32 (0: off).
    recheck_float32: int = 0
    module_paths: dict[str, str] | None = None


@dataclass(frozen=True)
class NnsightTraces:
    """The generated script's nnsight trace functions, which the nnsight backend runs.

    - `logit_diffs(lm, tokens, answers, wrongs)`: logit[answer] - logit[wrong] at the last
      position, one value per row of `tokens` [batch, pos] (a tensor [batch]).
    - `clean_activations(lm, tokens, sites, layers)`: the activations the sites patch, from
      one run of `tokens`; the returned object is only passed back to `patched_logit_diffs`.
    - `patched_logit_diffs(lm, corrupted_tokens, answers, wrongs, clean_acts, site, layer, cells)`:
      the logit differences of the corrupted prompts with one activation from `clean_acts`
      patched in, once per cell (a tensor [len(cells), batch]). A cell is a position
      (resid_pre, attn_out, mlp_out), a head (head_out) or None (the all-position sites).
    Rows of one call are pairs of one token length, so no call needs padding.
    """

    logit_diffs: Callable[..., torch.Tensor]
    clean_activations: Callable[..., Any]
    patched_logit_diffs: Callable[..., torch.Tensor]


# ---------------------------------------------------------------------------------------
# Sweeps on a loaded model and prepared pairs (no files)


def resolve_layers(model: Any, layers: Sequence[int] | None) -> list[int]:
    """Return the chosen blocks (all of them for None), raising ValueError for an index out of range."""
    n_layers = model.cfg.n_layers
    if layers is None:
        return list(range(n_layers))
    chosen = [int(layer) for layer in layers]
    if not chosen:
        raise ValueError(f"layers is empty: give block indices in 0..{n_layers - 1}, or None for all")
    bad = [layer for layer in chosen if not 0 <= layer < n_layers]
    if bad:
        raise ValueError(
            f"layer index {bad[0]} is out of range: blocks of this {n_layers}-layer model are 0..{n_layers - 1} "
            f"(layers given: {chosen})"
        )
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"layers contains duplicates: {chosen}")
    return chosen


def _cells(model: Any, site: str, n_positions: int) -> tuple[int, ...]:
    if site in POSITIONAL_SITES:
        return (n_positions,)
    if site == "head_out":
        return (model.cfg.n_heads,)
    return ()


def _patch_hook(site: str, cell: tuple[int, ...], clean_activation: torch.Tensor):
    def hook(activation: torch.Tensor, hook: Any) -> torch.Tensor:
        patched = activation.clone()
        if site in POSITIONAL_SITES:
            patched[:, cell[0]] = clean_activation[:, cell[0]]
        elif site == "head_out":
            patched[:, :, cell[0]] = clean_activation[:, :, cell[0]]
        else:
            patched = clean_activation.clone()
        return patched

    return hook


def _check_sites(model: Any, sites: Sequence[str]) -> None:
    unknown = [site for site in sites if site not in SITES]
    if unknown:
        raise ValueError(f"unknown patching site {unknown[0]!r}: choose from {', '.join(SITES)}")
    if getattr(model.cfg, "attn_only", False) and any(site in MLP_SITES for site in sites):
        raise ValueError("this model has no MLP layers (attn_only), so mlp_out sites cannot be patched")


def baseline_logit_diffs(model: Any, pairs: Sequence[PatchingPair], batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Return the per-example logit differences on the clean and on the corrupted prompts."""
    clean = np.empty(len(pairs))
    corrupted = np.empty(len(pairs))
    device = model.cfg.device
    with torch.no_grad():
        for bucket in length_buckets(pairs):
            for start in range(0, len(bucket), batch_size):
                indices = bucket[start : start + batch_size]
                clean_tokens, corrupted_tokens, answers, wrongs = pair_tensors(pairs, indices, device)
                clean[indices] = logit_diff(model(clean_tokens), answers, wrongs).double().cpu().numpy()
                corrupted[indices] = logit_diff(model(corrupted_tokens), answers, wrongs).double().cpu().numpy()
    return clean, corrupted


def exact_engine(model: Any, pairs: Sequence[PatchingPair]) -> tuple[str, str | None]:
    """Return ("fast", None) when the fast exact sweep can run on this model and these pairs, else ("reference", reason)."""
    reason = fast_patching.fast_path_unsupported(model)
    if reason is None:
        for bucket in length_buckets(pairs):
            clean_tokens, corrupted_tokens, _, _ = pair_tensors(pairs, bucket)
            if fast_patching.prompts_need_attention_mask(model, torch.cat([clean_tokens, corrupted_tokens])):
                reason = "some prompts start with pad tokens, which TransformerLens masks for a left-padding tokenizer"
                break
    return ("fast", None) if reason is None else ("reference", reason)


def _check_patch_inputs(
    model: Any, pairs: Sequence[PatchingPair], sites: Sequence[str], layers: Sequence[int] | None, sources: Sequence[int] | None
) -> tuple[list[int], np.ndarray, int]:
    """Check sites, layers, sources and lengths, and return (layers, source index per pair, token length)."""
    _check_sites(model, sites)
    layers = resolve_layers(model, layers)
    n = len(pairs)
    if n == 0:
        raise ValueError("no pairs given")
    source_index = np.arange(n) if sources is None else np.asarray(sources, dtype=np.int64)
    if source_index.shape != (n,) or source_index.min() < 0 or source_index.max() >= n:
        raise ValueError(f"sources must hold one index in 0..{n - 1} per pair")
    for index, source in enumerate(source_index):
        if len(pairs[source].clean_ids) != len(pairs[index].clean_ids):
            raise ValueError(f"source pair {source} has a different token length from pair {index}")
    lengths = sorted({len(pair.clean_ids) for pair in pairs})
    if len(lengths) > 1 and any(site in POSITIONAL_SITES for site in sites):
        raise ValueError(
            f"layer x position sweeps need pairs of one token length, got lengths {lengths}; "
            "drop the positional sites or use pairs of one length"
        )
    return layers, source_index, lengths[0]


def _sub_batches(
    model: Any,
    pairs: Sequence[PatchingPair],
    sites: Sequence[str],
    layers: list[int],
    batch_size: int,
    source_index: np.ndarray,
    cache: CacheSettings | None,
):
    """Yield (indices, corrupted_tokens, answer_ids, wrong_ids, clean activations by hook name) per sub-batch.

    Sub-batches hold pairs of one token length. The clean activations of example i come
    from the clean prompt of pair source_index[i], through the activation cache when
    `cache` is given (one entry per length bucket and hook point), else from one more
    forward pass of the clean prompts.
    """
    hook_names = {_HOOKS[site].format(layer=layer) for site in sites for layer in layers}
    hook_points = sorted({_CACHE_HOOK_POINTS[site] for site in sites})
    device = model.cfg.device
    for bucket in length_buckets(pairs):
        entries = None
        if cache is not None:
            clean_prompts = [pairs[index].clean_ids for index in bucket]
            entries = cache.entries(model, clean_prompts, {point: layers for point in hook_points}, batch_size)
            row_in_bucket = {index: row for row, index in enumerate(bucket)}
        for start in range(0, len(bucket), batch_size):
            indices = bucket[start : start + batch_size]
            _, corrupted_tokens, answers, wrongs = pair_tensors(pairs, indices, device)
            if entries is None:
                source_tokens = pair_tensors(pairs, [int(source_index[i]) for i in indices], device)[0]
                with torch.no_grad():
                    _, cache_acts = model.run_with_cache(source_tokens, names_filter=lambda name: name in hook_names)
            else:
                rows = [row_in_bucket[int(source_index[i])] for i in indices]
                cache_acts = {}
                for point, entry in entries.items():
                    for layer, tensor in entry.rows(rows).items():
                        cache_acts[hook_name(point, layer, model.cfg.n_layers)] = tensor.to(device)
            yield indices, corrupted_tokens, answers, wrongs, cache_acts
            del cache_acts


def patched_logit_diffs(
    model: Any,
    pairs: Sequence[PatchingPair],
    sites: Sequence[str],
    layers: Sequence[int] | None = None,
    batch_size: int = 32,
    sources: Sequence[int] | None = None,
    *,
    cache: CacheSettings | None = None,
    engine: str = "auto",
    work: fast_patching.WorkCount | None = None,
) -> dict[str, np.ndarray]:
    """Run the corrupted prompts with one clean activation patched in; return per-example logit differences.

    Returns, per site, an array [layer, cell..., example] (cell: position, head, or none
    for the all-position sites). With `sources`, example i takes its clean activation
    from the clean prompt of example sources[i], which must have the same length
    (the shuffled control). Positional sites need one common token length.

    With `cache`, the clean activations are read from the activation cache, one entry
    per length bucket and hook point (resid_pre, attn_out, mlp_out, z) at the chosen
    layers, so a second run does only the patched forward passes. Without it, each
    sub-batch runs its clean prompts once more.

    `engine`: "fast" runs `fast_patching.fast_patched_logit_diffs` (starts at the patched
    layer, computes only the positions a patch can change, batches patches; raises
    ValueError for a model it does not support); "reference" runs one full forward
    pass per patch and sub-batch (n_layers x n_positions passes for a positional site);
    "auto" (the default) is "fast" where `exact_engine` allows it, else "reference".
    Both give the same numbers up to floating-point rounding. `work` collects the
    fast engine's block work (see `fast_patching.WorkCount`).
    NOTE: tested on CPU only; the CUDA path is the same code with tensors on
    `model.cfg.device`.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}: choose from {', '.join(ENGINES)}")
    layers, source_index, n_positions = _check_patch_inputs(model, pairs, sites, layers, sources)
    if engine != "reference":
        chosen, reason = exact_engine(model, pairs)
        if engine == "fast" and chosen != "fast":
            raise ValueError(f"the fast patching sweep cannot run here: {reason}")
        engine = chosen
    n = len(pairs)
    out = {site: np.empty((len(layers), *_cells(model, site, n_positions), n)) for site in sites}
    for indices, corrupted_tokens, answers, wrongs, cache_acts in _sub_batches(
        model, pairs, sites, layers, batch_size, source_index, cache
    ):
        if engine == "fast":
            values = fast_patching.fast_patched_logit_diffs(
                model, corrupted_tokens, answers, wrongs, cache_acts, sites, layers, work=work
            )
            for site in sites:
                out[site][..., indices] = values[site].numpy()
            continue
        with torch.no_grad():
            for site in sites:
                for layer_row, layer in enumerate(layers):
                    name = _HOOKS[site].format(layer=layer)
                    for cell in np.ndindex(*_cells(model, site, n_positions)):
                        hook = _patch_hook(site, cell, cache_acts[name])
                        logits = model.run_with_hooks(corrupted_tokens, fwd_hooks=[(name, hook)])
                        out[site][(layer_row, *cell)][indices] = logit_diff(logits, answers, wrongs).double().cpu().numpy()
    return out


def attribution_patched_logit_diffs(
    model: Any,
    pairs: Sequence[PatchingPair],
    sites: Sequence[str],
    layers: Sequence[int] | None = None,
    batch_size: int = 32,
    sources: Sequence[int] | None = None,
    *,
    cache: CacheSettings | None = None,
) -> dict[str, np.ndarray]:
    """Estimate what `patched_logit_diffs` returns by attribution patching, with the same shapes and arguments.

    Per sub-batch: one forward pass of the corrupted prompts with a backward pass of the
    logit difference, and the clean activations as in `patched_logit_diffs`. Estimate
    of example i at a site: corrupted_i + (clean - corrupted activation) . gradient,
    summed over the patched entries (`fast_patching.attribution_logit_diffs`).
    """
    layers, source_index, n_positions = _check_patch_inputs(model, pairs, sites, layers, sources)
    out = {site: np.empty((len(layers), *_cells(model, site, n_positions), len(pairs))) for site in sites}
    for indices, corrupted_tokens, answers, wrongs, cache_acts in _sub_batches(
        model, pairs, sites, layers, batch_size, source_index, cache
    ):
        values = fast_patching.attribution_logit_diffs(model, corrupted_tokens, answers, wrongs, cache_acts, sites, layers)
        for site in sites:
            out[site][..., indices] = values[site].numpy()
    return out


def normalise(patched: np.ndarray, clean: np.ndarray, corrupted: np.ndarray) -> np.ndarray:
    """Return (mean patched - mean corrupted) / (mean clean - mean corrupted) over the last axis of `patched`."""
    denominator = check_baselines_differ(clean.mean(), corrupted.mean())
    return (patched.mean(axis=-1) - corrupted.mean()) / denominator


def normalised_sweep(
    model: Any,
    pairs: Sequence[PatchingPair],
    site: str,
    layers: Sequence[int] | None = None,
    batch_size: int = 32,
    *,
    engine: str = "auto",
) -> np.ndarray:
    """Return one sweep's normalised effect, [layer] or [layer, position] or [layer, head]."""
    clean, corrupted = baseline_logit_diffs(model, pairs, batch_size)
    check_baselines_differ(clean.mean(), corrupted.mean())
    patched = patched_logit_diffs(model, pairs, [site], layers, batch_size, engine=engine)[site]
    return normalise(patched, clean, corrupted)


def head_out_sweep(
    model: Any, pairs: Sequence[PatchingPair], layers: Sequence[int] | None = None, batch_size: int = 32
) -> np.ndarray:
    """Return the normalised effect of patching each head's output at all positions, [layer, head]."""
    return normalised_sweep(model, pairs, "head_out", layers, batch_size)


def derangement_sources(pairs: Sequence[PatchingPair], groups: Sequence[Sequence[int]], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Map each pair to a different pair of the same token length within its group.

    Returns (sources, used). sources[i] is the pair whose clean activation example i
    receives: a random cyclic derangement within each group and token length. `used` is
    False for a pair that is alone at its length in its group. Such a pair keeps its own
    source and is left out of the control.
    """
    rng = np.random.default_rng(seed)
    sources = np.arange(len(pairs))
    used = np.zeros(len(pairs), dtype=bool)
    for group in groups:
        by_length: dict[int, list[int]] = {}
        for index in group:
            by_length.setdefault(len(pairs[index].clean_ids), []).append(index)
        for members in by_length.values():
            if len(members) < 2:
                continue
            order = [members[int(k)] for k in rng.permutation(len(members))]
            for position, index in enumerate(order):
                sources[index] = order[(position + 1) % len(order)]
                used[index] = True
    return sources, used


# ---------------------------------------------------------------------------------------
# The same sweeps on the nnsight backend, through the script's trace functions


def nnsight_baseline_logit_diffs(
    lm: Any, pairs: Sequence[PatchingPair], traces: NnsightTraces, batch_size: int = 32
) -> tuple[np.ndarray, np.ndarray]:
    """Return the per-example logit differences on the clean and on the corrupted prompts (nnsight)."""
    clean = np.empty(len(pairs))
    corrupted = np.empty(len(pairs))
    device = _input_device(lm)
    for bucket in length_buckets(pairs):
        for start in range(0, len(bucket), batch_size):
            indices = bucket[start : start + batch_size]
            clean_tokens, corrupted_tokens, answers, wrongs = pair_tensors(pairs, indices, device)
            clean[indices] = _numpy(traces.logit_diffs(lm, clean_tokens, answers, wrongs), len(indices))
            corrupted[indices] = _numpy(traces.logit_diffs(lm, corrupted_tokens, answers, wrongs), len(indices))
    return clean, corrupted


def nnsight_patched_logit_diffs(
    lm: Any,
    pairs: Sequence[PatchingPair],
    sites: Sequence[str],
    traces: NnsightTraces,
    layers: Sequence[int] | None = None,
    batch_size: int = 32,
    sources: Sequence[int] | None = None,
) -> dict[str, np.ndarray]:
    """`patched_logit_diffs` on the nnsight backend: the same arguments, shapes and numbers.

    Per sub-batch (pairs of one token length), one trace of the source pairs' clean
    prompts records the activations. Each further trace runs the sub-batch's corrupted
    prompts once per cell, with as many cells as fit in `batch_size` prompts (at least one).
    """
    layers, source_index, n_positions = _check_patch_inputs(lm, pairs, sites, layers, sources)
    device = _input_device(lm)
    out = {site: np.empty((len(layers), *_cells(lm, site, n_positions), len(pairs))) for site in sites}
    for bucket in length_buckets(pairs):
        for start in range(0, len(bucket), batch_size):
            indices = bucket[start : start + batch_size]
            _, corrupted_tokens, answers, wrongs = pair_tensors(pairs, indices, device)
            source_tokens = pair_tensors(pairs, [int(source_index[i]) for i in indices], device)[0]
            clean_acts = traces.clean_activations(lm, source_tokens, list(sites), list(layers))
            cells_per_trace = max(1, batch_size // len(indices))
            for site in sites:
                # The cell indices of the output array, and the cell the trace function takes.
                cells = list(np.ndindex(*_cells(lm, site, n_positions)))
                arguments = [int(cell[0]) if cell else None for cell in cells]
                for layer_row, layer in enumerate(layers):
                    for first in range(0, len(cells), cells_per_trace):
                        chunk = slice(first, first + cells_per_trace)
                        values = traces.patched_logit_diffs(
                            lm, corrupted_tokens, answers, wrongs, clean_acts, site, layer, arguments[chunk]
                        )
                        rows = _numpy(values, len(arguments[chunk]) * len(indices)).reshape(-1, len(indices))
                        for cell, row in zip(cells[chunk], rows):
                            out[site][(layer_row, *cell)][indices] = row
            del clean_acts
    return out


def _input_device(lm: Any) -> str:
    """Return the device for token tensors: the model's device, or the CPU for a remote model on the meta device."""
    device = str(lm.cfg.device)
    return "cpu" if device == "meta" else device


def _numpy(values: Any, n: int) -> np.ndarray:
    """Convert a trace function's values to a flat float64 array, raising ValueError unless there are `n`."""
    array = torch.as_tensor(values).detach().to("cpu", torch.float64).numpy().reshape(-1)
    if array.shape != (n,):
        raise ValueError(f"a trace function returned {array.size} values where {n} were expected (one per example and cell)")
    return array


# ---------------------------------------------------------------------------------------
# The probe: files in, results file out


def _validate_config(config: ActivationPatchingConfig) -> None:
    check_run_settings(config.probe_id, config.n_examples, config.seeds, batch_size=config.batch_size, n_bootstrap=config.n_bootstrap)
    unknown = [site for site in config.sites if site not in SITES]
    if unknown:
        raise ValueError(f"unknown patching site {unknown[0]!r}: choose from {', '.join(SITES)}")
    missing = [site for site in REQUIRED_SITES if site not in config.sites]
    if missing:
        raise ValueError(f"sites must include {', '.join(REQUIRED_SITES)} (the per-layer values and the primary metric); missing {missing}")
    if any(not str(text).strip() for text in config.alternative_explanations):
        raise ValueError("alternative_explanations contains an empty string")
    if config.method not in METHODS:
        raise ValueError(f"unknown method {config.method!r}: choose {METHODS[0]!r} (activation patching) or {METHODS[1]!r} (its gradient estimate)")
    check_backend_settings(config)
    if config.backend == "nnsight" and config.method == "attribution":
        raise ValueError(
            "method 'attribution' runs only on the transformer_lens backend (it takes gradients through "
            "TransformerLens hooks); on nnsight set METHOD = 'exact', or set the probe up with --backend transformer_lens"
        )


def run_activation_patching(
    config: ActivationPatchingConfig, project_root: str | os.PathLike[str], traces: NnsightTraces | None = None
) -> Path:
    """Run the activation patching probe, write results/probe/<probe_id>.json and the plot, and return the JSON path.

    Every check on the configuration, the pairs file, the layers and the clean/corrupted
    baselines runs before the sweeps, and a failure writes no results file. The nnsight
    backend needs `traces`, the script's trace functions.
    """
    _validate_config(config)
    if config.backend == "nnsight" and traces is None:
        raise ValueError("the nnsight backend needs the script's trace functions: pass traces=NnsightTraces(...)")
    root = Path(project_root).resolve()
    return run_with_events(
        intervention="activation_patching",
        probe_id=config.probe_id,
        events_path=resolve_in_project(config.events_path, root),
        script_path=config.script_path,
        body=lambda log, started: _run(config, root, log, started, traces),
        milestones=("model.loaded", "patching.baselines", "patching.sweeps"),
    )


@dataclass
class _Summary:
    values: np.ndarray
    intervals: np.ndarray  # [..., 2]
    n_extended: int


def _summarise(patched: np.ndarray, clean: np.ndarray, corrupted: np.ndarray, n_bootstrap: int, seed: int) -> _Summary:
    """Ratio of means and paired bootstrap interval for every cell of [cells..., example]."""
    denominator = clean - corrupted
    values = np.empty(patched.shape[:-1])
    intervals = np.empty(patched.shape[:-1] + (2,))
    n_extended = 0
    for cell in np.ndindex(*patched.shape[:-1]):
        numerator = patched[cell] - corrupted
        value = ratio_of_means(numerator, denominator)
        lo, hi = bootstrap_ratio_ci(numerator, denominator, n_bootstrap=n_bootstrap, seed=seed)
        if not lo <= value <= hi:
            # A percentile interval of a ratio can miss the point estimate when the
            # bootstrap distribution is skewed (few examples); widen it to include it.
            n_extended += 1
            lo, hi = min(lo, value), max(hi, value)
        values[cell] = value
        intervals[cell] = (lo, hi)
    return _Summary(values, intervals, n_extended)


def nnsight_roles(sites: Sequence[str]) -> tuple[str, ...]:
    """Return the module roles the nnsight trace functions read for `sites` (see nnsight_backend.ROLES).

    The blocks, the attention module (attn_out sites) and the projection after the heads
    (head_out) are always read, because attn_out_all_pos and head_out are required
    sites. The MLP is read only for mlp sites. The logit differences come from the
    model's own logits, so the final norm and the unembedding are not read.
    """
    roles = ("blocks", "attn", "attn_out_proj")
    return roles + ("mlp",) if any(site in MLP_SITES for site in sites) else roles


def _load_model(config: ActivationPatchingConfig, model_id: str, dtype: str) -> Any:
    """Load the model for the configured backend: a HookedTransformer, or an NnsightLM."""
    if config.backend == "nnsight":
        return load_for_config(config, model_id, nnsight_roles(config.sites), dtype=dtype)
    return load_hooked_model(model_id, dtype=dtype, device=config.device, trust_remote_code=config.trust_remote_code)


def _fingerprint(config: ActivationPatchingConfig, model: Any, model_id: str) -> str:
    """Return the sha256 of the weights, or for a remote run (no weights here) of the model id and its config."""
    if config.backend == "nnsight":
        return nnsight_fingerprint(model, model_id)
    return weights_fingerprint(model)


def _baselines(config: ActivationPatchingConfig, model: Any, pairs: Sequence[PatchingPair], traces: NnsightTraces | None):
    if config.backend == "nnsight":
        return nnsight_baseline_logit_diffs(model, pairs, traces, config.batch_size)
    return baseline_logit_diffs(model, pairs, config.batch_size)


def _precision_check(
    config: ActivationPatchingConfig,
    model_id: str,
    pairs: Sequence[PatchingPair],
    group: Sequence[int],
    clean: np.ndarray,
    corrupted: np.ndarray,
    traces: NnsightTraces | None,
) -> dict[str, Any]:
    """Rerun the first recheck_float32 pairs of the first seed in float32 and compare their logit differences."""
    # NOTE: untested on NDIF (remote=True), where the hosted model may not follow the dtype requested here.
    sample = list(group)[: config.recheck_float32]
    reference = _load_model(config, model_id, "float32")
    try:
        clean32, corrupted32 = _baselines(config, reference, [pairs[index] for index in sample], traces)
    finally:
        del reference
    gap = abs(float(clean32.mean() - corrupted32.mean()))
    return precision_check(
        np.concatenate([clean[sample], corrupted[sample]]),
        np.concatenate([clean32, corrupted32]),
        metric=PRECISION_METRIC,
        dtype=str(config.dtype),
        tolerance=PRECISION_TOLERANCE_OF_GAP * (gap if gap > 0 else 1.0),
        n_examples=len(sample),
    )


def _run(config: ActivationPatchingConfig, root: Path, log: EventLog, started: float, traces: NnsightTraces | None = None) -> Path:
    nnsight = config.backend == "nnsight"
    model_id = resolve_model_id(config.model_id, root)
    records = load_pairs_jsonl(resolve_in_project(config.pairs_path, root))
    load_started = time.perf_counter()
    model = _load_model(config, model_id, config.dtype)
    load_ms = (time.perf_counter() - load_started) * 1000
    layers = resolve_layers(model, config.layers)
    sites = [site for site in SITES if site in config.sites]
    skipped: dict[str, str] = {}
    if getattr(model.cfg, "attn_only", False):
        for site in sites:
            if site in MLP_SITES:
                skipped[site] = "the model has no MLP layers (attn_only)"
        sites = [site for site in sites if site not in MLP_SITES]
    pool = prepare_pairs(model, records)

    fingerprint = _fingerprint(config, model, model_id)
    log.emit(
        "model.loaded",
        duration_ms=load_ms,
        model_id=config.model_id,
        n_layers=model.cfg.n_layers,
        n_heads=model.cfg.n_heads,
        prepend_bos=prepends_bos(model),
        weights_sha256=fingerprint,
    )
    draws = sample_per_seed(pool, config.n_examples, config.seeds, config.pairs_path)
    n_used = len(draws[0])
    if n_used < config.n_examples:
        warn_small_dataset(log, config.pairs_path, len(pool), config.n_examples, n_used, len(config.seeds))

    pairs: list[PatchingPair] = []
    seed_groups: list[list[int]] = []
    for chosen in draws:
        seed_groups.append(list(range(len(pairs), len(pairs) + len(chosen))))
        pairs.extend(chosen)

    lengths = sorted({len(pair.clean_ids) for pair in pairs})
    if len(lengths) > 1:
        for site in POSITIONAL_SITES:
            if site in sites:
                skipped[site] = (
                    f"the pairs have {len(lengths)} different token lengths ({lengths}); a layer x position "
                    "sweep needs one common length, so it was not run"
                )
        sites = [site for site in sites if site not in POSITIONAL_SITES]

    baseline_started = time.perf_counter()
    clean, corrupted = _baselines(config, model, pairs, traces)
    check_baselines_differ(clean.mean(), corrupted.mean())
    check_clear_gap(clean, corrupted, n_bootstrap=config.n_bootstrap, seed=config.bootstrap_seed)
    for seed, group in zip(config.seeds, seed_groups):
        try:
            check_baselines_differ(clean[group].mean(), corrupted[group].mean())
        except ValueError as error:
            raise ValueError(f"seed {seed}: {error}") from error
    log.emit(
        "patching.baselines",
        duration_ms=(time.perf_counter() - baseline_started) * 1000,
        clean_logit_diff=float(clean.mean()),
        corrupted_logit_diff=float(corrupted.mean()),
    )

    engine, engine_reason = (NNSIGHT_EXACT_ENGINE, None) if nnsight else exact_engine(model, pairs)
    if engine_reason is not None:
        log.emit("patching.engine", level="warning", engine=engine, reason=engine_reason)
    sweep_started = time.perf_counter()
    sources, used = derangement_sources(pairs, seed_groups, config.bootstrap_seed)
    if used.sum() < 2:
        raise ValueError("the shuffled control needs at least 2 examples of one token length within a seed")
    attribution_check = None
    # TransformerLens reads the clean activations through the activation cache, so a rerun skips their
    # forward passes. Its entries hold TransformerLens's centred tensors, which the nnsight path must not reuse.
    cache = None if nnsight else CacheSettings(resolve_in_project(config.cache_dir, root), log, config.model_id, fingerprint)
    if nnsight:
        patched = nnsight_patched_logit_diffs(model, pairs, sites, traces, layers, config.batch_size)
        shuffled = nnsight_patched_logit_diffs(model, pairs, ["head_out"], traces, layers, config.batch_size, sources=sources)["head_out"]
    elif config.method == "exact":
        patched = patched_logit_diffs(model, pairs, sites, layers, config.batch_size, cache=cache, engine=engine)
        shuffled = patched_logit_diffs(
            model, pairs, ["head_out"], layers, config.batch_size, sources=sources, cache=cache, engine=engine
        )["head_out"]
    else:
        patched = attribution_patched_logit_diffs(model, pairs, sites, layers, config.batch_size, cache=cache)
        shuffled = attribution_patched_logit_diffs(
            model, pairs, ["head_out"], layers, config.batch_size, sources=sources, cache=cache
        )["head_out"]
    log.emit(
        "patching.sweeps",
        duration_ms=(time.perf_counter() - sweep_started) * 1000,
        sites=sites,
        layers=layers,
        method=config.method,
        backend=config.backend,
        engine=engine if config.method == "exact" else "attribution",
    )
    if config.method == "attribution":
        check_started = time.perf_counter()
        attribution_check = _attribution_check(
            model, pairs, seed_groups[0], int(config.seeds[0]), sites, layers, config.batch_size, engine, patched, clean, corrupted
        )
        log.emit(
            "patching.attribution_check",
            duration_ms=(time.perf_counter() - check_started) * 1000,
            spearman=attribution_check["spearman"],
            n_examples=attribution_check["n_examples"],
        )

    precision = None
    if needs_precision_check(config):
        check_started = time.perf_counter()
        precision = _precision_check(config, model_id, pairs, seed_groups[0], clean, corrupted, traces)
        log.emit(
            "patching.precision_check",
            duration_ms=(time.perf_counter() - check_started) * 1000,
            max_abs_diff=precision["max_abs_diff"],
            within_tolerance=precision["within_tolerance"],
        )

    summaries = {site: _summarise(patched[site], clean, corrupted, config.n_bootstrap, config.bootstrap_seed) for site in sites}
    heads = summaries["head_out"]
    top_row, top_head = np.unravel_index(int(np.argmax(heads.values)), heads.values.shape)
    top_layer = layers[top_row]
    top_name = f"L{top_layer}H{top_head}"
    top_value = float(heads.values[top_row, top_head])

    denominator = clean - corrupted
    real_numerator = patched["head_out"][top_row, top_head] - corrupted
    shuffled_numerator = shuffled[top_row, top_head] - corrupted
    shuffled_mean = ratio_of_means(shuffled_numerator[used], denominator[used])
    shuffled_grid = normalise(shuffled[..., used], clean[used], corrupted[used])
    effect_size = _effect_size(real_numerator[used] / denominator.mean(), shuffled_numerator[used] / denominator.mean())
    values_per_seed = [ratio_of_means(real_numerator[group], denominator[group]) for group in seed_groups]
    random_baseline = float(heads.values.mean())

    attn = summaries["attn_out_all_pos"]
    secondary = {}
    if "mlp_out_all_pos" in summaries:
        mlp = summaries["mlp_out_all_pos"]
        secondary["mlp_out_all_pos"] = {"values_per_layer": mlp.values.tolist(), "ci_per_layer": mlp.intervals.tolist()}

    components = []
    for row, layer in enumerate(layers):
        for head in range(model.cfg.n_heads):
            components.append(
                {"name": f"L{layer}H{head} head_out", "value": float(heads.values[row, head]), "ci_95": heads.intervals[row, head].tolist()}
            )
    for site in ("attn_out_all_pos", "mlp_out_all_pos"):
        if site in summaries:
            for row, layer in enumerate(layers):
                components.append(
                    {"name": f"L{layer} {site}", "value": float(summaries[site].values[row]), "ci_95": summaries[site].intervals[row].tolist()}
                )

    sweeps: dict[str, Any] = {}
    for site in sites:
        sweeps[site] = {
            "axes": _AXES[site],
            "layers": layers,
            "values": summaries[site].values.tolist(),
            "ci": summaries[site].intervals.tolist(),
        }
    sweeps["head_out_shuffled"] = {"axes": ["layer", "head"], "layers": layers, "values": shuffled_grid.tolist()}
    n_extended = sum(summary.n_extended for summary in summaries.values())

    clean_mean, corrupted_mean = float(clean.mean()), float(corrupted.mean())
    explanations = _alternative_explanations(
        layers, heads.values, attn.values, top_row, top_head, shuffled_mean, clean_mean, corrupted_mean
    )
    if attribution_check is not None:
        explanations.append(_attribution_explanation(attribution_check))
    explanations += [str(text).strip() for text in config.alternative_explanations]
    explanations = list(dict.fromkeys(explanations))

    first = pairs[0]
    tokens = {
        "clean": model.tokenizer.convert_ids_to_tokens(first.clean_ids),
        "corrupted": model.tokenizer.convert_ids_to_tokens(first.corrupted_ids),
        "line_number": first.line_number,
    }
    plot_path = _plot(root, config, layers, sweeps, tokens if "resid_pre" in sweeps else None)
    results = {
        "schema_version": SCHEMA_VERSION,
        "probe_id": config.probe_id,
        "intervention": "activation_patching",
        "model_id": config.model_id,
        # An attribution run estimates the sweeps linearly, so it points to where exact patching
        # should run and is never a result on its own.
        "status": "exploratory" if config.method == "attribution" else decide_status(n_used, config.seeds),
        "hypothesis": config.hypothesis,
        "n_examples": n_used,
        "seeds": [int(seed) for seed in config.seeds],
        "layers": layers,
        "metric": PRIMARY_METRIC,
        "primary_metric": PRIMARY_METRIC,
        "values_per_layer": attn.values.tolist(),
        "ci_per_layer": attn.intervals.tolist(),
        "values_per_seed": values_per_seed,
        "mean": top_value,
        "ci_95": heads.intervals[top_row, top_head].tolist(),
        "top_component": top_name,
        "shuffled_control_mean": shuffled_mean,
        "random_baseline": random_baseline,
        "noise_floor": noise_floor(values_per_seed),
        "effect_size": effect_size,
        "clean_logit_diff": {"mean": clean_mean, "ci_95": _mean_ci(clean, config)},
        "corrupted_logit_diff": {"mean": corrupted_mean, "ci_95": _mean_ci(corrupted, config)},
        "n_pairs_total": len(pairs),
        "token_lengths": lengths,
        "example_tokens": tokens,
        "layer_semantics": LAYER_SEMANTICS
        + (" Position 0 is the BOS token." if prepends_bos(model) else " No BOS token is prepended.")
        + (_nnsight_semantics(model) if nnsight else ""),
        "secondary_metrics": secondary,
        "components": components,
        "sweeps": sweeps,
        "sweeps_skipped": skipped,
        "method": config.method,
        "backend": config.backend,
        "exact_engine": engine,
        "ci_method": (
            _method_text(config.method, engine, config.backend)
            + "Each value is (mean patched - mean corrupted) / (mean clean - mean corrupted) of the logit difference "
            "logit[answer] - logit[wrong_answer] at the last position, means over the examples of all seeds "
            f"({len(pairs)} pairs). Intervals: paired percentile bootstrap of that ratio of means, {config.n_bootstrap} "
            f"resamples of example indices (numerator and denominator resampled together), numpy Generator seed "
            f"{config.bootstrap_seed}; {n_extended} interval(s) that missed their point estimate were widened to "
            f"include it. mean and ci_95 are the top head {top_name} (largest head_out effect); values_per_seed is "
            "that head's effect on each seed's examples, and noise_floor their sample standard deviation "
            "(0 with one seed). shuffled_control_mean: the same head patch with each example's clean activation "
            f"taken from another example of the same token length and seed (random derangement; {int(used.sum())} "
            "examples). random_baseline: the mean head_out effect over all heads of the chosen layers (a uniformly "
            "chosen head). effect_size: Cohen's d of the per-example effect at the top head, real minus shuffled, "
            "each example's patched-minus-corrupted logit difference divided by the pooled mean clean-corrupted gap. "
            "clean_logit_diff and corrupted_logit_diff intervals are percentile bootstraps of the mean."
        ),
        "alternative_explanations_not_ruled_out": explanations,
        "artifacts": [plot_path.relative_to(root).as_posix()],
        "provenance": probe_provenance(config, root, log, model, fingerprint, started),
    }
    if engine_reason is not None:
        results["exact_engine_fallback_reason"] = engine_reason
    if attribution_check is not None:
        results["attribution_check"] = attribution_check
    if precision is not None:
        results["precision_check"] = precision
        results["ci_method"] += (
            f" precision_check: the first {precision['n_examples']} pairs of the first seed rerun with the model in "
            f"float32; metric: their logit differences on the clean and on the corrupted prompts; tolerance: "
            f"{PRECISION_TOLERANCE_OF_GAP:.0%} of the float32 mean clean - corrupted gap of those pairs."
        )
    return write_json_atomic(resolve_in_project(config.results_dir, root) / f"{config.probe_id}.json", results)


def _nnsight_semantics(lm: Any) -> str:
    paths = lm.paths
    block = f"{paths['blocks']}.L"
    mlp = f"mlp_out the output of {block}.{paths['mlp']}, " if "mlp" in paths else ""
    return (
        f" On the nnsight backend these are the Hugging Face modules' values: resid_pre is the input of {block}, "
        f"attn_out the first output of {block}.{paths['attn']}, {mlp}and head H "
        f"the H-th slice of d_head columns of the input of {block}.{paths['attn_out_proj']}."
    )


def _method_text(method: str, engine: str, backend: str = "transformer_lens") -> str:
    if method == "attribution":
        return (
            "Attribution patching (denoising direction, first-order estimate): each patched logit difference is "
            "estimated as the corrupted one plus (clean activation - corrupted activation) . gradient of the logit "
            "difference at the corrupted run, summed over the patched entries; attribution_check compares the "
            "estimates with exact activation patching. "
        )
    if backend == "nnsight":
        return (
            "Denoising activation patching: corrupted prompts run with one activation taken from the clean run, "
            "computed on the nnsight backend: each patch runs the whole model on a copy of the corrupted prompts, "
            "several patches per trace (one nnsight invoke each). "
        )
    how = (
        "the fast exact sweep (patched runs start at the patched layer and compute only the positions the patch can change)"
        if engine == "fast"
        else "one full forward pass per patch"
    )
    return f"Denoising activation patching: corrupted prompts run with one activation taken from the clean run, computed with {how}. "


def spearman(a: np.ndarray, b: np.ndarray) -> float | None:
    """Return the Spearman rank correlation of two equal-length vectors (average ranks for ties), or None when either is constant."""
    from scipy.stats import rankdata

    a = np.asarray(a, dtype=float).ravel()
    b = np.asarray(b, dtype=float).ravel()
    if a.shape != b.shape:
        raise ValueError(f"spearman needs vectors of one length, got {a.size} and {b.size}")
    if a.size < 2:
        return None
    rank_a, rank_b = rankdata(a), rankdata(b)
    if rank_a.std() == 0 or rank_b.std() == 0:
        return None
    return float(np.clip(np.corrcoef(rank_a, rank_b)[0, 1], -1.0, 1.0))


# Values are rounded to this many decimals before ranking, so that rounding noise of the
# exact sweep around an effect of exactly 0 counts as a tie instead of an order.
_RANK_DECIMALS = 6
# Per-sweep rank correlations need at least this many cells to mean anything.
_MIN_RANK_CELLS = 5


def _attribution_check(
    model: Any,
    pairs: Sequence[PatchingPair],
    group: Sequence[int],
    seed: int,
    sites: Sequence[str],
    layers: list[int],
    batch_size: int,
    engine: str,
    estimates: dict[str, np.ndarray],
    clean: np.ndarray,
    corrupted: np.ndarray,
) -> dict[str, Any]:
    """Run exact patching on the first seed's pairs and compare it with the attribution estimates of the same pairs."""
    group = list(group)
    exact = patched_logit_diffs(model, [pairs[index] for index in group], sites, layers, batch_size, engine=engine)
    per_site: dict[str, float | None] = {}
    cells_per_site: dict[str, int] = {}
    all_estimates, all_exact = [], []
    for site in sites:
        estimate = normalise(estimates[site][..., group], clean[group], corrupted[group]).ravel()
        truth = normalise(exact[site], clean[group], corrupted[group]).ravel()
        # A rank correlation over a handful of cells is +1 or -1 by chance, so it is left out.
        per_site[site] = (
            spearman(np.round(estimate, _RANK_DECIMALS), np.round(truth, _RANK_DECIMALS))
            if estimate.size >= _MIN_RANK_CELLS
            else None
        )
        cells_per_site[site] = int(estimate.size)
        all_estimates.append(estimate)
        all_exact.append(truth)
    estimate, truth = np.concatenate(all_estimates), np.concatenate(all_exact)
    return {
        "sample": (
            f"the pairs of the first seed ({seed}, {len(group)} examples); every cell of every sweep that ran "
            f"({', '.join(sites)}), each value normalised with that seed's clean and corrupted means"
        ),
        "seed": seed,
        "n_examples": len(group),
        "n_cells": int(estimate.size),
        "spearman": spearman(np.round(estimate, _RANK_DECIMALS), np.round(truth, _RANK_DECIMALS)),
        "spearman_per_sweep": per_site,
        "n_cells_per_sweep": cells_per_site,
        "max_abs_difference": float(np.abs(estimate - truth).max()),
        "mean_abs_difference": float(np.abs(estimate - truth).mean()),
        "exact_engine": engine,
        "rank_method": (
            f"Spearman rank correlation (average ranks for ties) of estimate against exact value over the cells; "
            f"values rounded to {_RANK_DECIMALS} decimals first, so rounding noise around 0 ties; null when either "
            f"side is constant, and per sweep when the sweep has fewer than {_MIN_RANK_CELLS} cells."
        ),
    }


def _attribution_explanation(check: dict[str, Any]) -> str:
    rho = check["spearman"]
    rho_text = "undefined (constant values)" if rho is None else f"{rho:.2f}"
    return (
        "Every value here is a first-order (attribution patching) estimate, not a measured patch. On the first seed's "
        f"{check['n_examples']} pairs its rank correlation with exact patching is {rho_text} over {check['n_cells']} "
        f"cells, with differences up to {check['max_abs_difference']:.2f} of the clean-corrupted gap: where attention "
        "patterns or layer norms respond non-linearly the estimate can misrank components, so confirm a finding with "
        "method 'exact'."
    )


def _mean_ci(values: np.ndarray, config: ActivationPatchingConfig) -> list[float]:
    from .stats import bootstrap_ci

    lo, hi = bootstrap_ci(values, n_bootstrap=config.n_bootstrap, seed=config.bootstrap_seed)
    value = float(values.mean())
    return [min(lo, value), max(hi, value)]


def _effect_size(real: np.ndarray, shuffled: np.ndarray) -> float:
    if real.size < 2 or shuffled.size < 2:
        return 0.0
    try:
        return cohens_d(real, shuffled)
    except ValueError:
        # Zero variance with different means: report the raw difference of means instead.
        return float(real.mean() - shuffled.mean())


def _alternative_explanations(
    layers: list[int],
    head_values: np.ndarray,
    attn_values: np.ndarray,
    top_row: int,
    top_head: int,
    shuffled_mean: float,
    clean_mean: float,
    corrupted_mean: float,
) -> list[str]:
    """Write the alternative explanations from this run's numbers."""
    top = f"L{layers[top_row]}H{top_head}"
    value = float(head_values[top_row, top_head])

    # The layer whose single-head effects add up worst to its whole attention output.
    gaps = np.abs(head_values.sum(axis=1) - attn_values)
    row = int(np.argmax(gaps))
    layer = layers[row]
    listed = ", ".join(f"L{layer}H{head} {float(v):.2f}" for head, v in enumerate(head_values[row]))
    texts = [
        f"The heads of layer {layer} one at a time recover {listed} (sum {float(head_values[row].sum()):.2f}) while "
        f"the whole layer-{layer} attention output recovers {float(attn_values[row]):.2f}. Patching effects need not "
        "add up: heads that act only together (backup or redundant heads, Wang et al. 2023) can look small one at a "
        f"time, so the single-head ranking led by {top} ({value:.2f}) may change when heads are patched together.",
        f"Denoising shows that {top}'s clean output is enough to move the mean logit difference from "
        f"{corrupted_mean:.2f} (corrupted) towards {clean_mean:.2f} (clean) by {value:.2f} of the gap; it does not "
        "show that the head is necessary on clean prompts. Noising (patching corrupted activations into the clean "
        "run) can rank components differently (Heimersheim & Nanda 2024).",
    ]

    shuffled_logit_diff = corrupted_mean + shuffled_mean * (clean_mean - corrupted_mean)
    if abs(shuffled_mean) >= 0.1 * max(abs(value), 1e-12):
        texts.append(
            f"Patching {top} from a different example (shuffled control) still gives {shuffled_mean:.2f} against "
            f"{value:.2f} (mean logit difference {shuffled_logit_diff:.2f}): an activation from any other example also "
            "erases what the corrupted prompt carried, so part of the measured recovery may be removing the "
            "corrupted signal rather than restoring this example's clean one."
        )
    else:
        texts.append(
            f"The shuffled control at {top} gives {shuffled_mean:.2f} against {value:.2f}, so the effect depends on "
            "the example's own words; but all pairs use one kind of corruption, and a different corruption of the "
            "same behaviour may route through other components."
        )

    texts.append(
        "The metric compares only answer and wrong_answer: a component can change the probability of other "
        f"tokens without moving this difference (mean logit difference {clean_mean:.2f} clean, "
        f"{corrupted_mean:.2f} corrupted)."
    )
    return texts


def _plot(root: Path, config: ActivationPatchingConfig, layers: list[int], sweeps: dict, tokens: dict | None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("head_out", "head output (hook_z), all positions", "head")]
    if "resid_pre" in sweeps:
        panels.insert(0, ("resid_pre", "residual stream entering block L (resid_pre)", "position"))
    figure, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels) + 1, 4), squeeze=False)
    for axis, (site, title, x_label) in zip(axes[0], panels):
        grid = np.asarray(sweeps[site]["values"], dtype=float)
        limit = max(float(np.abs(grid).max()), 1e-6)
        image = axis.imshow(grid, cmap="RdBu", vmin=-limit, vmax=limit, aspect="auto")
        axis.set_yticks(range(len(layers)), [str(layer) for layer in layers])
        axis.set_ylabel("layer")
        axis.set_xlabel(x_label)
        axis.set_title(title, fontsize=10)
        if site == "resid_pre" and tokens is not None:
            labels = [f"{clean}/{corrupted}" if clean != corrupted else clean for clean, corrupted in zip(tokens["clean"], tokens["corrupted"])]
            axis.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
        elif site == "head_out":
            axis.set_xticks(range(grid.shape[1]), [str(head) for head in range(grid.shape[1])])
        figure.colorbar(image, ax=axis, label="logit diff recovered (normalised)")
    title = "Attribution patching (denoising estimate)" if config.method == "attribution" else "Activation patching (denoising)"
    figure.suptitle(f"{title}: {config.probe_id}")
    figure.tight_layout()

    return save_figure_atomic(figure, resolve_in_project(config.results_dir, root) / f"{config.probe_id}.png")
