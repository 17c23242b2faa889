"""Path patching: which head -> head or head -> logits path carries an effect.

Activation patching finds which component matters; path patching tests through which
edge of the computational graph it matters (Wang et al. 2023, "Interpretability in the
Wild: a Circuit for Indirect Object Identification in GPT-2 small"). This module
follows the paper's freeze-and-repatch recipe in its noising direction: start from the
clean run and replace one sender head's output with its value on the corrupted prompt,
so the question is how much of the clean behaviour is lost when only that path sees
the corruption.

For one clean/corrupted pair, a sender head S (layer l, head h) and a receiver head R
(layer L > l, head r) with input X in {q, k, v}:

1. Cache every head's output (`blocks.*.attn.hook_z`, one vector per head and
   position) on the clean and on the corrupted prompt, and every MLP output
   (`blocks.*.hook_mlp_out`) on the clean prompt.
2. Run the clean prompt with S's z set to its corrupted value and every other head's
   z frozen at its clean value. As in the paper, only attention heads are frozen: with
   `freeze_mlps=False` (the default) the MLPs are recomputed, so S's change also reaches
   R through the MLPs between the two layers (the MLP of S's own layer included), which
   the paper counts as part of the path. With `freeze_mlps=True` the MLP outputs are
   frozen at their clean values too, so the residual stream entering R's layer is exactly
   the clean one plus S's change of output, (z_corrupted - z_clean) @ W_O: only the
   direct edge S -> R counts. On the demo model most of the effect runs through the
   MLPs, so the direct edge alone is much smaller. Record R's input X: with `model.set_use_split_qkv_input(True)`,
   TransformerLens gives each head its own copy of the residual stream as query, key
   and value input (`blocks.L.hook_{q,k,v}_input`, before the layer norm), so one
   head's one input can be replaced on its own.
3. Run the clean prompt again with only R's input X replaced by the recorded one, the
   layer norm and everything downstream recomputed, and read the logit difference
   `logit[answer] - logit[wrong_answer]` at the last position.

Sender -> logits is step 2 with every head frozen except S, read at the logits of that
run. With MLPs frozen as well, the final residual stream is the clean one plus S's
change of output, decoded by the final layer norm (recomputed) and the unembedding.

The metric `fraction_of_logit_diff_carried` is (clean - patched) / (clean - corrupted)
over batch means (a ratio of means over the pooled examples): 0 means the path carries
nothing of the clean-corrupted difference, 1 that corrupting this one path alone costs
all of it. It can be negative (the path works against the answer) or above 1.

The receiver is either named ('L1H0' style, in a layer above 0 so that it has senders)
or 'auto': the head with the largest head -> logits fraction among the chosen layers
above the lowest chosen layer (with every layer chosen: above layer 0). Every
sender head in the chosen layers below the receiver is swept through each chosen
input, and every chosen head is swept to the logits.

In models with grouped-query attention, heads of one group share their key and value
input, so patching R's K or V input patches that input for R's whole group.

Controls: the shuffled control repeats the top path with the sender's corrupted
activation taken from another pair of the same token length (a random derangement), so
the patch is off-distribution by a similar amount but carries the wrong pair's
information; the random baseline is the mean fraction over all senders through the top
input (the effect of a sender picked at random). The effect size compares the top path's
per-pair effect with the per-pair effects of the other senders through the same input
(Cohen's d), so it says how far the top path stands out from a path chosen at random.

NOTE: in this noising direction the shuffled control is not a null. Another pair's
activation usually disrupts the receiver at least as much as the corruption does (on the
demo model it removes slightly more of the logit difference than the real path does), so
it bounds how much of an effect any off-distribution change of the sender would give.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from jaxtyping import Float, Int

from .cache import CacheEntry, CacheSettings, hook_name
from .datasets import sample_per_seed, warn_small_dataset
from .events import EventLog
from .models import load_hooked_model, prepends_bos, resolve_model_id, weights_fingerprint
from .pairs import PatchingPair, check_baselines_differ, check_clear_gap, length_buckets, load_pairs_jsonl, logit_diff, pair_tensors, prepare_pairs
from .probe_run import check_run_settings, probe_provenance, resolve_in_project, run_with_events, save_figure_atomic
from .results import SCHEMA_VERSION, decide_status, write_json_atomic
from .stats import bootstrap_ratio_ci, cohens_d, noise_floor, ratio_of_means

PRIMARY_METRIC = "fraction_of_logit_diff_carried"
INPUTS = ("q", "k", "v")
RECEIVER_PATTERN = re.compile(r"^[Ll](\d+)[Hh](\d+)$")
_DERANGEMENT_TRIES = 20

Head = tuple[int, int]


@dataclass
class PathPatchingConfig:
    """Settings of one path patching probe; relative paths are resolved against the project root.

    `layers` chooses the sender layers (None = every block); `receiver` is 'auto' or
    'L{layer}H{head}'; `inputs` are the receiver inputs swept, a subset of ('q', 'k', 'v').
    """

    probe_id: str
    model_id: str
    pairs_path: str
    receiver: str = "auto"
    inputs: tuple[str, ...] | list[str] = INPUTS
    freeze_mlps: bool = False
    layers: list[int] | None = None
    n_examples: int = 64
    seeds: tuple[int, ...] | list[int] = (0, 1, 2)
    dtype: str = "float32"
    device: str | None = None
    hypothesis: str = ""
    alternative_explanations: tuple[str, ...] | list[str] = ()
    batch_size: int = 32
    n_bootstrap: int = 10_000
    results_dir: str = "results/probe"
    cache_dir: str = "cache/activations"
    events_path: str = "cache/events.jsonl"
    script_path: str | None = None
    bootstrap_seed: int = 0
    # Python code shipped with the model runs only when this is True (probe setup --trust-remote-code).
    trust_remote_code: bool = False


def head_name(head: Head) -> str:
    """Return the 'L{layer}H{head}' name of a head."""
    return f"L{head[0]}H{head[1]}"


def parse_receiver(receiver: str, n_layers: int, n_heads: int) -> Head | None:
    """Parse 'auto' (returns None) or 'L{layer}H{head}' and check it against the model's shape."""
    text = receiver.strip() if isinstance(receiver, str) else receiver
    if text == "auto":
        return None
    layer_range = f"1..{n_layers - 1}" if n_layers > 1 else "none: a 1-layer model has no receiver with senders"
    match = RECEIVER_PATTERN.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(
            f"receiver {receiver!r} is invalid: use 'auto' or a head written like 'L1H0' "
            f"(layer in {layer_range}, head in 0..{n_heads - 1})"
        )
    layer, head = int(match.group(1)), int(match.group(2))
    if not 1 <= layer <= n_layers - 1:
        raise ValueError(
            f"receiver {receiver!r} is invalid: layer {layer} must be in {layer_range}, because the receiver "
            "needs sender heads in an earlier layer"
        )
    if not 0 <= head < n_heads:
        raise ValueError(f"receiver {receiver!r} is invalid: head {head} must be in 0..{n_heads - 1}")
    return layer, head


def _check_input(name: str) -> str:
    if name not in INPUTS:
        raise ValueError(f"input {name!r} is invalid: use one of 'q', 'k', 'v'")
    return name


def _check_head(model: Any, head: Head, role: str) -> None:
    layer, index = head
    n_layers, n_heads = model.cfg.n_layers, model.cfg.n_heads
    if not 0 <= layer < n_layers:
        raise ValueError(f"{role} layer {layer} is out of range: it must be in 0..{n_layers - 1}")
    if not 0 <= index < n_heads:
        raise ValueError(f"{role} head {index} is out of range: it must be in 0..{n_heads - 1}")


@contextmanager
def split_qkv_input(model: Any) -> Iterator[None]:
    """Turn on per-head q/k/v inputs (`use_split_qkv_input`) and restore the previous setting on exit, even on error."""
    previous = bool(model.cfg.use_split_qkv_input)
    model.set_use_split_qkv_input(True)
    try:
        yield
    finally:
        model.set_use_split_qkv_input(previous)


def _z_name(layer: int) -> str:
    return f"blocks.{layer}.attn.hook_z"


def _mlp_name(layer: int) -> str:
    return f"blocks.{layer}.hook_mlp_out"


def _has_mlps(model: Any) -> bool:
    return not getattr(model.cfg, "attn_only", False)


def cache_head_outputs(model: Any, tokens: Int[torch.Tensor, "batch pos"]) -> tuple[Float[torch.Tensor, "batch pos d_vocab"], dict[str, torch.Tensor]]:
    """Run `tokens` and return (logits, activations) with every head's z and every MLP output."""
    hook_names = {_z_name(layer) for layer in range(model.cfg.n_layers)}
    if _has_mlps(model):
        hook_names |= {_mlp_name(layer) for layer in range(model.cfg.n_layers)}
    with torch.no_grad():
        logits, cache = model.run_with_cache(tokens, names_filter=lambda name: name in hook_names)
    return logits, {name: cache[name] for name in hook_names}


def _freezing_hooks(model: Any, clean_acts: dict, corrupted_acts: dict, sender: Head, freeze_mlps: bool, below_layer: int) -> list:
    """Return hooks that set S's z to corrupted and freeze every other head (and MLP) below `below_layer` at clean."""
    sender_layer, sender_head = sender

    def freeze_z(z: torch.Tensor, hook: Any) -> torch.Tensor:
        frozen = clean_acts[hook.name].clone()
        if hook.name == _z_name(sender_layer):
            frozen[:, :, sender_head] = corrupted_acts[hook.name][:, :, sender_head]
        return frozen

    def freeze_mlp(mlp_out: torch.Tensor, hook: Any) -> torch.Tensor:
        return clean_acts[hook.name]

    hooks = [(_z_name(layer), freeze_z) for layer in range(below_layer)]
    if freeze_mlps and _has_mlps(model):
        hooks += [(_mlp_name(layer), freeze_mlp) for layer in range(below_layer)]
    return hooks


def sender_to_logits_run(
    model: Any,
    clean_tokens: Int[torch.Tensor, "batch pos"],
    clean_acts: dict,
    corrupted_acts: dict,
    sender: Head,
    freeze_mlps: bool = False,
) -> Float[torch.Tensor, "batch pos d_vocab"]:
    """Run step 2 over all layers (clean run, S's z from corrupted, everything else frozen at clean) and return its logits."""
    hooks = _freezing_hooks(model, clean_acts, corrupted_acts, sender, freeze_mlps, model.cfg.n_layers)
    with torch.no_grad():
        return model.run_with_hooks(clean_tokens, fwd_hooks=hooks)


def record_receiver_inputs(
    model: Any,
    clean_tokens: Int[torch.Tensor, "batch pos"],
    clean_acts: dict,
    corrupted_acts: dict,
    sender: Head,
    receiver_layer: int,
    inputs: Sequence[str] = INPUTS,
    freeze_mlps: bool = False,
) -> dict[str, torch.Tensor]:
    """Run step 2 (clean run, S patched from corrupted, the rest frozen) and return the receiver layer's q/k/v inputs.

    Each returned tensor is `blocks.{receiver_layer}.hook_{x}_input`, shape
    [batch, pos, heads, d_model] (key-value heads for k and v in grouped-query models).
    """
    if sender[0] >= receiver_layer:
        raise ValueError(f"sender {head_name(sender)} must be in a layer below the receiver's layer {receiver_layer}")
    recorded: dict[str, torch.Tensor] = {}

    def record(value: torch.Tensor, hook: Any) -> None:
        recorded[hook.name.rsplit("hook_", 1)[1].split("_")[0]] = value.detach().clone()

    hooks = _freezing_hooks(model, clean_acts, corrupted_acts, sender, freeze_mlps, receiver_layer)
    hooks += [(f"blocks.{receiver_layer}.hook_{_check_input(name)}_input", record) for name in inputs]
    with split_qkv_input(model), torch.no_grad():
        model.run_with_hooks(clean_tokens, fwd_hooks=hooks, stop_at_layer=receiver_layer + 1)
    return recorded


def _input_head_index(model: Any, head: int, input_name: str) -> int:
    # NOTE: the grouped-query branch follows TransformerLens's shapes but has not been run on
    # a grouped-query model.
    n_kv = getattr(model.cfg, "n_key_value_heads", None)
    if input_name == "q" or n_kv is None or getattr(model.cfg, "ungroup_grouped_query_attention", False):
        return head
    return head // (model.cfg.n_heads // n_kv)


def receiver_patched_logits(
    model: Any,
    clean_tokens: Int[torch.Tensor, "batch pos"],
    receiver: Head,
    input_name: str,
    recorded_input: torch.Tensor,
) -> Float[torch.Tensor, "batch pos d_vocab"]:
    """Run step 3 (clean run, only the receiver head's input replaced by the recorded one) and return the logits."""
    layer, head = receiver
    index = _input_head_index(model, head, _check_input(input_name))

    def patch(value: torch.Tensor, hook: Any) -> torch.Tensor:
        value = value.clone()
        value[:, :, index] = recorded_input[:, :, index]
        return value

    with split_qkv_input(model), torch.no_grad():
        return model.run_with_hooks(clean_tokens, fwd_hooks=[(f"blocks.{layer}.hook_{input_name}_input", patch)])


@dataclass
class _Batch:
    indices: list[int]
    clean: torch.Tensor
    corrupted: torch.Tensor
    answer: torch.Tensor
    wrong: torch.Tensor
    # The pairs whose corrupted prompts `corrupted` contains (other pairs in the shuffled control).
    corrupted_indices: list[int] | None = None


class _CachedHeadOutputs:
    """Step 1 read from the activation cache: every head's z on the clean and on the corrupted prompts.

    There is one entry per length bucket and side. With `freeze_mlps` the clean MLP
    outputs are cached too, the only MLP outputs the freezing hooks read. Entries are
    looked up (and on a miss computed) when this is built, so every sweep and the
    control read them from disk.
    """

    def __init__(self, model: Any, pairs: Sequence[PatchingPair], cache: CacheSettings, batch_size: int, freeze_mlps: bool) -> None:
        self.model = model
        all_layers = list(range(model.cfg.n_layers))
        clean_points = {"z": all_layers}
        if freeze_mlps and _has_mlps(model):
            clean_points["mlp_out"] = all_layers
        self.where: dict[int, tuple[int, int]] = {}
        self.entries: dict[str, list[dict[str, CacheEntry]]] = {"clean": [], "corrupted": []}
        for number, bucket in enumerate(length_buckets(pairs)):
            for row, index in enumerate(bucket):
                self.where[index] = (number, row)
            self.entries["clean"].append(cache.entries(model, [pairs[index].clean_ids for index in bucket], clean_points, batch_size))
            self.entries["corrupted"].append(cache.entries(model, [pairs[index].corrupted_ids for index in bucket], {"z": all_layers}, batch_size))

    def activations(self, side: str, indices: Sequence[int]) -> dict[str, torch.Tensor]:
        """Return {hook name: tensor} for the given pairs (one length bucket) on `side`, 'clean' or 'corrupted'."""
        numbers = {self.where[index][0] for index in indices}
        if len(numbers) != 1:
            raise ValueError("a batch must contain pairs of one token length")
        rows = [self.where[index][1] for index in indices]
        out = {}
        for point, entry in self.entries[side][numbers.pop()].items():
            for layer, tensor in entry.rows(rows).items():
                out[hook_name(point, layer, self.model.cfg.n_layers)] = tensor.to(self.model.cfg.device)
        return out


def _make_batches(model: Any, pairs: Sequence[PatchingPair], batch_size: int, sources: dict[int, int] | None = None) -> list[_Batch]:
    """Group pairs into batches of one token length each. With `sources`, example i's corrupted prompt is pair sources[i]'s."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    device = model.cfg.device
    batches = []
    for bucket in length_buckets(pairs):
        if sources is not None:
            bucket = [index for index in bucket if index in sources]
        for start in range(0, len(bucket), batch_size):
            indices = bucket[start : start + batch_size]
            if not indices:
                continue
            clean, corrupted, answer, wrong = pair_tensors(pairs, indices, device=device)
            corrupted_indices = list(indices)
            if sources is not None:
                corrupted = torch.tensor([pairs[sources[index]].corrupted_ids for index in indices], dtype=torch.long, device=device)
                corrupted_indices = [sources[index] for index in indices]
            batches.append(_Batch(indices, clean, corrupted, answer, wrong, corrupted_indices))
    return batches


def _diffs(logits: torch.Tensor, batch: _Batch) -> np.ndarray:
    return logit_diff(logits, batch.answer, batch.wrong).detach().double().cpu().numpy()


def _baseline_diffs(model: Any, batches: list[_Batch], n: int) -> tuple[np.ndarray, np.ndarray]:
    clean = np.full(n, np.nan)
    corrupted = np.full(n, np.nan)
    with torch.no_grad():
        for batch in batches:
            clean[batch.indices] = _diffs(model(batch.clean), batch)
            corrupted[batch.indices] = _diffs(model(batch.corrupted), batch)
    return clean, corrupted


def _patched_diffs(
    model: Any,
    batches: list[_Batch],
    n: int,
    senders: Sequence[Head],
    receiver: Head | None,
    inputs: Sequence[str],
    freeze_mlps: bool,
    head_outputs: _CachedHeadOutputs | None = None,
) -> dict[str, np.ndarray]:
    """Return per-example patched logit differences, {'logits' or input: array[len(senders), n]} (NaN outside the batches).

    With `head_outputs`, step 1 reads the cached head outputs instead of running the
    clean and corrupted prompts of each batch again.
    """
    keys = ["logits"] if receiver is None else list(inputs)
    out = {key: np.full((len(senders), n), np.nan) for key in keys}
    # Per-head q/k/v inputs cost n_heads copies of the residual stream, so only receiver runs use them.
    with split_qkv_input(model) if receiver is not None else nullcontext(), torch.no_grad():
        for batch in batches:
            if head_outputs is None:
                _, clean_acts = cache_head_outputs(model, batch.clean)
                _, corrupted_acts = cache_head_outputs(model, batch.corrupted)
            else:
                clean_acts = head_outputs.activations("clean", batch.indices)
                corrupted_acts = head_outputs.activations("corrupted", batch.corrupted_indices or batch.indices)
            for row, sender in enumerate(senders):
                if receiver is None:
                    logits = sender_to_logits_run(model, batch.clean, clean_acts, corrupted_acts, sender, freeze_mlps)
                    out["logits"][row, batch.indices] = _diffs(logits, batch)
                    continue
                recorded = record_receiver_inputs(model, batch.clean, clean_acts, corrupted_acts, sender, receiver[0], inputs, freeze_mlps)
                for name in inputs:
                    logits = receiver_patched_logits(model, batch.clean, receiver, name, recorded[name])
                    out[name][row, batch.indices] = _diffs(logits, batch)
    return out


def fraction_carried(clean: np.ndarray, corrupted: np.ndarray, patched: np.ndarray) -> float:
    """Return (mean clean - mean patched) / (mean clean - mean corrupted), raising ValueError when the two means are equal."""
    check_baselines_differ(float(np.mean(clean)), float(np.mean(corrupted)))
    return ratio_of_means(np.asarray(clean) - np.asarray(patched), np.asarray(clean) - np.asarray(corrupted))


def _sender_grid(model: Any, senders: Sequence[Head], values: Sequence[float]) -> np.ndarray:
    grid = np.full((model.cfg.n_layers, model.cfg.n_heads), np.nan)
    for (layer, head), value in zip(senders, values):
        grid[layer, head] = value
    return grid


def _heads_in(model: Any, layers: Sequence[int]) -> list[Head]:
    return [(layer, head) for layer in layers for head in range(model.cfg.n_heads)]


def _check_layers(model: Any, layers: Sequence[int] | None) -> list[int]:
    n_layers = model.cfg.n_layers
    chosen = list(range(n_layers)) if layers is None else [int(layer) for layer in layers]
    bad = [layer for layer in chosen if not 0 <= layer < n_layers]
    if bad or not chosen or len(set(chosen)) != len(chosen):
        raise ValueError(f"layers {chosen} is invalid: give distinct layers, each in 0..{n_layers - 1} for this {n_layers}-layer model")
    return sorted(chosen)


def sender_sweep(
    model: Any,
    pairs: Sequence[PatchingPair],
    receiver: Head,
    input: str = "k",
    *,
    layers: Sequence[int] | None = None,
    freeze_mlps: bool = False,
    batch_size: int = 32,
) -> np.ndarray:
    """Return the fraction carried by each sender -> receiver path through `input`, as array[layer, head].

    Entries for layers at or above the receiver's layer (and layers not chosen) are NaN.
    """
    receiver = (int(receiver[0]), int(receiver[1]))
    _check_head(model, receiver, "receiver")
    if receiver[0] < 1:
        raise ValueError(f"receiver {head_name(receiver)} is in layer 0, which has no senders: its layer must be in 1..{model.cfg.n_layers - 1}")
    _check_input(input)
    senders = _heads_in(model, [layer for layer in _check_layers(model, layers) if layer < receiver[0]])
    if not senders:
        raise ValueError(f"no sender layers below the receiver {head_name(receiver)} among layers {list(layers or [])}")
    batches = _make_batches(model, pairs, batch_size)
    clean, corrupted = _baseline_diffs(model, batches, len(pairs))
    patched = _patched_diffs(model, batches, len(pairs), senders, receiver, [input], freeze_mlps)[input]
    return _sender_grid(model, senders, [fraction_carried(clean, corrupted, row) for row in patched])


def logits_sweep(
    model: Any,
    pairs: Sequence[PatchingPair],
    *,
    layers: Sequence[int] | None = None,
    freeze_mlps: bool = False,
    batch_size: int = 32,
) -> np.ndarray:
    """Return the fraction carried by each head -> logits path, as array[layer, head] (NaN for layers not chosen)."""
    senders = _heads_in(model, _check_layers(model, layers))
    batches = _make_batches(model, pairs, batch_size)
    clean, corrupted = _baseline_diffs(model, batches, len(pairs))
    patched = _patched_diffs(model, batches, len(pairs), senders, None, (), freeze_mlps)["logits"]
    return _sender_grid(model, senders, [fraction_carried(clean, corrupted, row) for row in patched])


def derangement_within_buckets(pairs: Sequence[PatchingPair], seed: int) -> dict[int, int]:
    """Map each pair index to another pair of the same token length (a random cyclic derangement per bucket).

    Pairs alone in their length bucket have no partner and are left out.
    """
    rng = np.random.default_rng(seed)
    sources: dict[int, int] = {}
    for bucket in length_buckets(pairs):
        if len(bucket) < 2:
            continue
        # The same pair drawn under two seeds appears twice in the pool. A few redraws avoid
        # pairing it with its own copy, which would be no shuffle at all.
        for _ in range(_DERANGEMENT_TRIES):
            order = [bucket[int(index)] for index in rng.permutation(len(bucket))]
            mapping = {index: order[(position + 1) % len(order)] for position, index in enumerate(order)}
            if all(pairs[index].line_number != pairs[source].line_number for index, source in mapping.items()):
                break
        sources.update(mapping)
    return sources


def _validate_config(config: PathPatchingConfig) -> None:
    check_run_settings(config.probe_id, config.n_examples, config.seeds)
    inputs = list(config.inputs)
    if not inputs or len(set(inputs)) != len(inputs) or any(name not in INPUTS for name in inputs):
        raise ValueError(f"inputs {inputs} is invalid: give a non-empty subset of 'q', 'k', 'v' without repeats")
    if config.batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {config.batch_size}")
    if not isinstance(config.receiver, str):
        raise ValueError(f"receiver {config.receiver!r} is invalid: use 'auto' or a head written like 'L1H0'")
    extra = [text.strip() for text in config.alternative_explanations]
    if not all(extra):
        raise ValueError("alternative_explanations contains an empty string")


def run_path_patching(config: PathPatchingConfig, project_root: str | os.PathLike[str]) -> Path:
    """Run the path patching probe, write results/probe/<probe_id>.json and the plot, and return the JSON path.

    Pairs are drawn per seed from the pairs file; fractions pool every pair of every
    seed and have paired percentile bootstrap 95% intervals.
    """
    _validate_config(config)
    root = Path(project_root).resolve()
    return run_with_events(
        intervention="path_patching",
        probe_id=config.probe_id,
        events_path=resolve_in_project(config.events_path, root),
        script_path=config.script_path,
        body=lambda log, started: _run(config, root, log, started),
        milestones=("model.loaded", "path_patching.sweeps"),
    )


@dataclass
class _Path:
    """One swept path: its per-example patched logit differences and summary."""

    sender: Head
    target: str  # an input name or "logits"
    patched: np.ndarray
    value: float = 0.0
    ci: tuple[float, float] = (0.0, 0.0)


def _interval(clean: np.ndarray, corrupted: np.ndarray, patched: np.ndarray, value: float, config: PathPatchingConfig) -> tuple[float, float]:
    lo, hi = bootstrap_ratio_ci(clean - patched, clean - corrupted, n_bootstrap=config.n_bootstrap, seed=config.bootstrap_seed)
    # A percentile interval of a ratio can, rarely, miss its own point estimate.
    return min(lo, value), max(hi, value)


def _run(config: PathPatchingConfig, root: Path, log: EventLog, started: float) -> Path:
    model_id = resolve_model_id(config.model_id, root)
    records = load_pairs_jsonl(resolve_in_project(config.pairs_path, root))
    load_started = time.perf_counter()
    model = load_hooked_model(model_id, dtype=config.dtype, device=config.device, trust_remote_code=config.trust_remote_code)
    load_ms = (time.perf_counter() - load_started) * 1000
    n_layers, n_heads = model.cfg.n_layers, model.cfg.n_heads
    layers = _check_layers(model, config.layers)
    receiver = parse_receiver(config.receiver, n_layers, n_heads)
    # The auto receiver needs senders, so it is picked from chosen layers above the lowest chosen one.
    receiver_layers = [layer for layer in layers if layer > layers[0]]
    if receiver is None and not receiver_layers:
        raise ValueError(
            f"receiver 'auto' picks a head in a chosen layer above another chosen layer (its senders), but "
            f"layers {layers} has one layer only; add a layer in 0..{n_layers - 1} or name the receiver like 'L1H0'"
        )
    if receiver is not None and not [layer for layer in layers if layer < receiver[0]]:
        raise ValueError(
            f"receiver {head_name(receiver)} has no sender layers: layers {layers} has none below layer {receiver[0]}"
        )
    inputs = list(config.inputs)

    fingerprint = weights_fingerprint(model)
    log.emit(
        "model.loaded",
        duration_ms=load_ms,
        model_id=config.model_id,
        n_layers=n_layers,
        n_heads=n_heads,
        prepend_bos=prepends_bos(model),
        weights_sha256=fingerprint,
    )
    draws = sample_per_seed(records, config.n_examples, config.seeds, config.pairs_path)
    n_used = len(draws[0])
    if n_used < config.n_examples:
        warn_small_dataset(log, config.pairs_path, len(records), config.n_examples, n_used, len(config.seeds))
    pairs: list[PatchingPair] = []
    seed_slices = []
    for drawn in draws:
        chosen = prepare_pairs(model, drawn)
        seed_slices.append(slice(len(pairs), len(pairs) + len(chosen)))
        pairs.extend(chosen)
    n = len(pairs)

    batches = _make_batches(model, pairs, config.batch_size)
    clean, corrupted = _baseline_diffs(model, batches, n)
    check_baselines_differ(float(clean.mean()), float(corrupted.mean()))
    check_clear_gap(clean, corrupted, n_bootstrap=config.n_bootstrap, seed=config.bootstrap_seed)
    for seed, part in zip(config.seeds, seed_slices):
        try:
            check_baselines_differ(float(clean[part].mean()), float(corrupted[part].mean()))
        except ValueError as error:
            raise ValueError(f"seed {seed}: {error}") from error

    sweep_started = time.perf_counter()
    # Step 1 comes through the activation cache, so a rerun skips those forward passes.
    cache = CacheSettings(resolve_in_project(config.cache_dir, root), log, config.model_id, fingerprint)
    head_outputs = _CachedHeadOutputs(model, pairs, cache, config.batch_size, config.freeze_mlps)
    logit_senders = _heads_in(model, layers)
    logit_rows = _patched_diffs(model, batches, n, logit_senders, None, (), config.freeze_mlps, head_outputs)["logits"]
    logit_paths = [_Path(sender, "logits", row) for sender, row in zip(logit_senders, logit_rows)]
    for path in logit_paths:
        path.value = fraction_carried(clean, corrupted, path.patched)
    receiver_selection = "named in the config"
    if receiver is None:
        candidates = [path for path in logit_paths if path.sender[0] in receiver_layers]
        receiver = max(candidates, key=lambda path: path.value).sender
        receiver_selection = (
            f"auto: the head in layers {receiver_layers} with the largest head -> logits fraction "
            f"({max(path.value for path in candidates):.4f})"
        )
    senders = _heads_in(model, [layer for layer in layers if layer < receiver[0]])
    receiver_rows = _patched_diffs(model, batches, n, senders, receiver, inputs, config.freeze_mlps, head_outputs)
    receiver_paths = {name: [_Path(sender, name, row) for sender, row in zip(senders, receiver_rows[name])] for name in inputs}
    for paths in receiver_paths.values():
        for path in paths:
            path.value = fraction_carried(clean, corrupted, path.patched)
    log.emit(
        "path_patching.sweeps",
        duration_ms=(time.perf_counter() - sweep_started) * 1000,
        receiver=head_name(receiver),
        n_senders=len(senders),
        inputs=inputs,
        n_pairs=n,
    )

    all_paths = [path for name in inputs for path in receiver_paths[name]] + logit_paths
    for path in all_paths:
        path.ci = _interval(clean, corrupted, path.patched, path.value, config)

    tops = {name: max(receiver_paths[name], key=lambda path: path.value) for name in inputs}
    top_input = max(inputs, key=lambda name: tops[name].value)
    top = tops[top_input]
    values_per_seed = [fraction_carried(clean[part], corrupted[part], top.patched[part]) for part in seed_slices]

    control = _shuffled_control(model, pairs, config, clean, corrupted, top, receiver, head_outputs)
    random_baseline = float(np.mean([path.value for path in receiver_paths[top_input]]))
    effect_size = _effect_size_against_other_senders(clean, corrupted, top, receiver_paths[top_input])
    if effect_size is not None:
        control["fields"]["effect_size"] = effect_size

    values_per_layer, ci_per_layer = [], []
    for layer in layers:
        best = max((path for path in logit_paths if path.sender[0] == layer), key=lambda path: path.value)
        values_per_layer.append(best.value)
        ci_per_layer.append(list(best.ci))

    def grid(paths: list[_Path], sweep_layers: list[int]) -> dict[str, Any]:
        by_head = {path.sender: path for path in paths}
        return {
            "axes": ["layer", "head"],
            "layers": sweep_layers,
            "values": [[by_head[(layer, head)].value for head in range(n_heads)] for layer in sweep_layers],
            "ci": [[list(by_head[(layer, head)].ci) for head in range(n_heads)] for layer in sweep_layers],
        }

    sender_layers = sorted({sender[0] for sender in senders})
    sweeps: dict[str, Any] = {name: grid(receiver_paths[name], sender_layers) for name in inputs}
    sweeps["logits"] = grid(logit_paths, layers)
    receiver_text = head_name(receiver)
    components = [
        {"name": f"{head_name(path.sender)} -> {receiver_text}.{path.target}", "value": path.value, "ci_95": list(path.ci)}
        for name in inputs
        for path in receiver_paths[name]
    ] + [{"name": f"{head_name(path.sender)} -> logits", "value": path.value, "ci_95": list(path.ci)} for path in logit_paths]

    plot_path = _plot(root, config, receiver_text, inputs, receiver_paths, logit_paths)
    frozen = "every other head's output and every MLP output" if config.freeze_mlps else "every other head's output (MLPs recomputed)"
    results = {
        "schema_version": SCHEMA_VERSION,
        "probe_id": config.probe_id,
        "intervention": "path_patching",
        "model_id": config.model_id,
        "status": decide_status(n_used, config.seeds),
        "hypothesis": config.hypothesis,
        "n_examples": n_used,
        "seeds": [int(seed) for seed in config.seeds],
        "layers": layers,
        "metric": PRIMARY_METRIC,
        "primary_metric": PRIMARY_METRIC,
        "values_per_layer": values_per_layer,
        "ci_per_layer": ci_per_layer,
        "values_per_seed": values_per_seed,
        "mean": top.value,
        "ci_95": list(top.ci),
        **control["fields"],
        "random_baseline": random_baseline,
        "noise_floor": noise_floor(values_per_seed),
        "components": components,
        "receiver": receiver_text,
        "receiver_selection": receiver_selection,
        "inputs": inputs,
        "freeze_mlps": bool(config.freeze_mlps),
        "top_path": {"sender": head_name(top.sender), "receiver": receiver_text, "input": top_input, "value": top.value, "ci_95": list(top.ci)},
        "top_sender_per_input": {
            name: {"sender": head_name(tops[name].sender), "value": tops[name].value, "ci_95": list(tops[name].ci)} for name in inputs
        },
        "clean_logit_diff_mean": float(clean.mean()),
        "corrupted_logit_diff_mean": float(corrupted.mean()),
        "shuffled_control": control["details"],
        "sweeps": sweeps,
        "layer_semantics": (
            "layers are the sender layers swept (transformer blocks). values_per_layer[i] is the largest "
            f"head -> logits fraction among the heads of block layers[i]: that head's z (blocks.L.attn.hook_z) "
            f"patched from the corrupted prompt into the clean run with {frozen} frozen at clean values. "
            "Sender -> receiver paths are in sweeps and components."
            + (" Each prompt starts with one BOS token." if prepends_bos(model) else " No BOS token is prepended.")
        ),
        "ci_method": (
            f"{PRIMARY_METRIC} = (mean clean - mean patched) / (mean clean - mean corrupted) logit difference "
            "(logit[answer] - logit[wrong_answer] at the last position), a ratio of means over the pairs of all "
            f"seeds. Intervals: paired percentile bootstrap 95% (Efron & Tibshirani 1993), {config.n_bootstrap} "
            f"resamples of pair indices with both means recomputed on the same indices, numpy Generator seed "
            f"{config.bootstrap_seed}; an interval that misses its point estimate is widened to include it. "
            f"mean and ci_95 are the top path {head_name(top.sender)} -> {receiver_text}.{top_input} (the top "
            "sender of the input whose top fraction is largest). values_per_seed is that path's fraction on each "
            "seed's pairs; noise_floor is their sample standard deviation. shuffled_control_mean is the same path "
            "with the sender's corrupted activation taken from another pair of the same token length (a random "
            "cyclic derangement per length bucket, seed bootstrap_seed). random_baseline is the mean fraction "
            f"over all {len(senders)} senders through input {top_input} (a sender chosen uniformly at random). "
            "effect_size is Cohen's d of the per-pair effect (clean - patched) / (mean clean - mean corrupted) of "
            f"the top path against the per-pair effects of the other {len(senders) - 1} senders through input "
            f"{top_input}, pooled (with a single sender: against the shuffled control)."
        ),
        "alternative_explanations_not_ruled_out": _alternative_explanations(
            config, receiver_text, top_input, top, receiver_paths, logit_paths, clean, corrupted, control
        ),
        "artifacts": [plot_path.relative_to(root).as_posix()],
        "provenance": probe_provenance(config, root, log, model, fingerprint, started),
        # The nnsight backend runs the logit lens, activation patching and probing only.
        "backend": "transformer_lens",
    }
    return write_json_atomic(resolve_in_project(config.results_dir, root) / f"{config.probe_id}.json", results)


def _effect_size_against_other_senders(clean: np.ndarray, corrupted: np.ndarray, top: _Path, paths: list[_Path]) -> float | None:
    """Cohen's d of the top path's per-pair effect against the pooled per-pair effects of the other senders."""
    others = [path for path in paths if path is not top]
    if not others or clean.size < 2:
        return None
    denominator = float(np.mean(clean - corrupted))
    top_effect = (clean - top.patched) / denominator
    other_effects = np.concatenate([(clean - path.patched) / denominator for path in others])
    try:
        return cohens_d(top_effect, other_effects)
    except ValueError:
        # Zero variance with different means: report the raw difference of means instead.
        return float(top_effect.mean() - other_effects.mean())


def _shuffled_control(
    model: Any,
    pairs: list[PatchingPair],
    config: PathPatchingConfig,
    clean: np.ndarray,
    corrupted: np.ndarray,
    top: _Path,
    receiver: Head,
    head_outputs: _CachedHeadOutputs | None = None,
) -> dict[str, Any]:
    sources = derangement_within_buckets(pairs, config.bootstrap_seed)
    if not sources:
        reason = "every pair is alone in its token-length bucket, so no pair has a partner to take a corrupted activation from"
        return {"fields": {}, "details": {"skipped": reason}, "value": None}
    batches = _make_batches(model, pairs, config.batch_size, sources)
    target = None if top.target == "logits" else receiver
    inputs = () if target is None else [top.target]
    patched = _patched_diffs(model, batches, len(pairs), [top.sender], target, inputs, config.freeze_mlps, head_outputs)[top.target][0]
    used = np.array(sorted(sources))
    value = fraction_carried(clean[used], corrupted[used], patched[used])
    denominator = float(np.mean(clean[used] - corrupted[used]))
    real_effect = (clean[used] - top.patched[used]) / denominator
    shuffled_effect = (clean[used] - patched[used]) / denominator
    if used.size < 2:
        effect_size = float(real_effect.mean() - shuffled_effect.mean())
    else:
        try:
            effect_size = cohens_d(real_effect, shuffled_effect)
        except ValueError:
            # Zero variance with different means: report the raw difference of means instead.
            effect_size = float(real_effect.mean() - shuffled_effect.mean())
    return {
        "fields": {"shuffled_control_mean": value, "effect_size": effect_size},
        "details": {"n_pairs": int(used.size), "n_pairs_left_out": len(pairs) - int(used.size), "value": value},
        "value": value,
    }


def _alternative_explanations(
    config: PathPatchingConfig,
    receiver: str,
    top_input: str,
    top: _Path,
    receiver_paths: dict[str, list[_Path]],
    logit_paths: list[_Path],
    clean: np.ndarray,
    corrupted: np.ndarray,
    control: dict[str, Any],
) -> list[str]:
    sender = head_name(top.sender)
    ranked = sorted(receiver_paths[top_input], key=lambda path: path.value, reverse=True)
    total = sum(path.value for path in ranked)

    texts = []
    if len(ranked) > 1:
        runner_up = ranked[1]
        texts.append(
            f"{sender} -> {receiver}.{top_input} carries {top.value:.3f} and the next sender "
            f"{head_name(runner_up.sender)} carries {runner_up.value:.3f}; the senders through {top_input} sum to "
            f"{total:.3f}. Patching one sender at a time does not show whether other heads carry the same "
            "signal redundantly (backup heads) or whether senders interact, so the fractions need not add up."
        )
    else:
        texts.append(
            f"{sender} -> {receiver}.{top_input} carries {top.value:.3f} and is the only sender swept; heads in "
            "layers that were not swept may carry the same signal."
        )

    to_logits = next((path for path in logit_paths if path.sender == top.sender), None)
    direct = f"; {sender} -> logits carries {to_logits.value:.3f} on its own" if to_logits is not None else ""
    if config.freeze_mlps:
        texts.append(
            f"MLPs were frozen at their clean outputs, so only the direct edge {sender} -> {receiver} counts{direct}. "
            f"Routes from {sender} to {receiver} through MLPs between them are not measured and may carry more."
        )
    else:
        texts.append(
            f"MLPs were recomputed (freeze_mlps=False), so {sender} -> {receiver}.{top_input} = {top.value:.3f} "
            f"includes routes through the MLPs between the two layers, not only the direct edge{direct}."
        )

    receiver_path = next((path for path in logit_paths if head_name(path.sender) == receiver), None)
    best_logits = max(logit_paths, key=lambda path: path.value)
    receiver_part = f"{receiver} -> logits carries {receiver_path.value:.3f} on its own; " if receiver_path is not None else ""
    texts.append(
        f"The effect is specific to this corruption (mean logit difference {clean.mean():.3f} clean, "
        f"{corrupted.mean():.3f} corrupted) and to this receiver: {receiver_part}the largest head -> logits "
        f"path is {head_name(best_logits.sender)} at {best_logits.value:.3f}, so {sender}'s output may also act "
        "through receivers that were not swept."
    )

    if control["value"] is not None:
        texts.append(
            f"The shuffled control (another pair's corrupted activation of {sender}) gives {control['value']:.3f} "
            f"against {top.value:.3f} for the real path: any off-distribution change of {sender}'s output has an "
            "effect of that size, so the real path's effect need not come from the information the corruption changes."
        )

    texts += [text.strip() for text in config.alternative_explanations]
    return list(dict.fromkeys(texts))


def _plot(root: Path, config: PathPatchingConfig, receiver: str, inputs: list[str], receiver_paths: dict[str, list[_Path]], logit_paths: list[_Path]) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(f"senders -> {receiver}.{name}", receiver_paths[name]) for name in inputs] + [("heads -> logits", logit_paths)]
    widest = max(len(paths) for _, paths in panels)
    figure, axes = plt.subplots(len(panels), 1, figsize=(max(6.0, 0.35 * widest + 2.0), 2.6 * len(panels)), squeeze=False)
    for axis, (title, paths) in zip(axes[:, 0], panels):
        positions = np.arange(len(paths))
        values = np.array([path.value for path in paths])
        errors = np.array([[path.value - path.ci[0] for path in paths], [path.ci[1] - path.value for path in paths]])
        axis.bar(positions, values, yerr=errors, capsize=2, color="tab:blue")
        axis.axhline(0.0, color="black", linewidth=0.8)
        axis.set_xticks(positions)
        axis.set_xticklabels([head_name(path.sender) for path in paths], rotation=90, fontsize=7)
        axis.set_ylabel("fraction carried")
        axis.set_title(title, fontsize=9)
    # One y range for every panel, so that a path of 1e-5 does not look as tall as one of 0.4.
    low = min(0.0, *(axis.get_ylim()[0] for axis in axes[:, 0]))
    high = max(0.0, *(axis.get_ylim()[1] for axis in axes[:, 0]))
    for axis in axes[:, 0]:
        axis.set_ylim(low, high)
    figure.suptitle(f"Path patching: {config.probe_id} (95% paired bootstrap CI)")
    figure.tight_layout()

    return save_figure_atomic(figure, resolve_in_project(config.results_dir, root) / f"{config.probe_id}.png")
