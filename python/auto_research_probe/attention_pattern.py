"""Attention patterns: what each head attends to, scored on repeated random-token sequences.

The input is the sequence Olsson et al. (2022, "In-context Learning and Induction
Heads") use to find induction heads: BOS (when the model prepends one), a span of
`seq_len` random tokens, then the same span again. Token ids are drawn per seed from
the tokenizer's non-special ids, without repeats within a span when the vocabulary
has at least `seq_len` of them, so every token of the second copy has exactly one
earlier occurrence. With a smaller vocabulary the span is drawn with replacement and
the results file records that.

Each score is read from `blocks.L.attn.hook_pattern` (softmax attention, query x key)
for every head of a chosen layer and every sequence, with T the sequence length and
b = 1 with BOS, else 0:

- previous-token: mean attention from position i to i - 1 over the queries i = 1..T-1.
  Elhage et al. (2021, "A Mathematical Framework for Transformer Circuits") describe
  previous-token heads as the first half of the induction circuit.
- induction: mean attention from each second-copy query q (positions b+seq_len..T-1)
  to key q - seq_len + 1, the token after the earlier occurrence of q's token. An
  induction head finds the earlier occurrence through K-composition with a
  previous-token head and attends to its successor (Elhage et al. 2021). This is the
  induction score of Olsson et al. (2022).
- duplicate-token: mean attention from each second-copy query q to key q - seq_len,
  the earlier occurrence of the same token (the duplicate-token heads of Wang et al.
  2023, "Interpretability in the Wild").
- first-token: mean attention to position 0 over the queries 1..T-1 (query 0 can only
  attend to itself). Heads that park attention on the first token, an "attention
  sink" (Xiao et al. 2023, "Efficient Streaming Language Models with Attention Sinks",
  arXiv:2309.17453), score high here.

Controls. The shuffled control computes the same scores at the same positions on
sequences whose second half is a fresh random span (distinct from the first half when
the vocabulary allows): with nothing repeated, induction and duplicate-token
attention should fall to chance. The random baseline is the attention a head gives
one key when it spreads its attention uniformly over the causal window: 1 / (q + 1)
at query q, averaged over the score's query positions.

Attention weights say where a head reads from, not what it writes or whether the
output matters: activation and path patching test the causal role.
"""

from __future__ import annotations

import html
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from jaxtyping import Float

from .cache import CacheSettings
from .events import EventLog
from .models import load_hooked_model, prepends_bos, resolve_model_id, weights_fingerprint
from .probe_run import check_run_settings, probe_provenance, resolve_in_project, run_with_events, save_figure_atomic
from .results import SCHEMA_VERSION, decide_status, write_bytes_atomic, write_json_atomic
from .stats import cohens_d, mean, noise_floor

PRIMARY_METRIC = "induction_score"
# Score names, in the order of the plot panels and the components.
SCORES = ("previous_token", "induction", "duplicate_token", "first_token")
MIN_SEQ_LEN = 2
LAYER_SEMANTICS = (
    "Layer L is transformer block L; every score reads that block's attention pattern "
    "(blocks.L.attn.hook_pattern, softmax over keys, query x key) for each head. "
    "values_per_layer is the largest induction score among the heads of layer L."
)

# Upper bounds on the arrays held at once by the column bootstrap (float64 elements).
_MAX_RESAMPLE_ELEMENTS = 4_000_000
_MAX_MEANS_ELEMENTS = 8_000_000


@dataclass
class AttentionPatternConfig:
    """Settings of one attention pattern probe; relative paths are resolved against the project root."""

    probe_id: str
    model_id: str
    layers: list[int] | None = None
    seq_len: int = 20
    n_examples: int = 64
    seeds: tuple[int, ...] | list[int] = (0, 1, 2)
    dtype: str = "float32"
    device: str | None = None
    hypothesis: str = ""
    batch_size: int = 32
    n_bootstrap: int = 10_000
    results_dir: str = "results/probe"
    cache_dir: str = "cache/activations"
    events_path: str = "cache/events.jsonl"
    script_path: str | None = None
    bootstrap_seed: int = 0
    # Python code shipped with the model runs only when this is True (probe setup --trust-remote-code).
    trust_remote_code: bool = False


# ---------------------------------------------------------------------------
# Scores from a pattern


def scores_from_pattern(
    pattern: Float[torch.Tensor, "batch head query key"], seq_len: int
) -> dict[str, Float[torch.Tensor, "batch head"]]:
    """Return the four head scores per example from attention patterns of repeated-span sequences.

    The pattern must cover the whole sequence (BOS or not) + span + second span, so the
    second copy is the last `seq_len` positions.
    """
    if pattern.dim() != 4 or pattern.shape[-1] != pattern.shape[-2]:
        raise ValueError(f"pattern must have shape [batch, head, query, key] with query == key, got {tuple(pattern.shape)}")
    length = pattern.shape[-1]
    if seq_len < MIN_SEQ_LEN or 2 * seq_len > length:
        raise ValueError(f"seq_len {seq_len} does not fit a pattern over {length} positions: it must be in {MIN_SEQ_LEN}..{length // 2}")
    pattern = pattern.float() if pattern.dtype in (torch.float16, torch.bfloat16) else pattern
    # diagonal(offset=-k) contains the entries (query k + j, key j), for queries k..T-1.
    return {
        "previous_token": pattern.diagonal(offset=-1, dim1=-2, dim2=-1).mean(dim=-1),
        "induction": pattern.diagonal(offset=-(seq_len - 1), dim1=-2, dim2=-1)[..., -seq_len:].mean(dim=-1),
        "duplicate_token": pattern.diagonal(offset=-seq_len, dim1=-2, dim2=-1)[..., -seq_len:].mean(dim=-1),
        "first_token": pattern[..., 1:, 0].mean(dim=-1),
    }


def random_baselines(seq_len: int, bos: bool) -> dict[str, float]:
    """Return each score under uniform causal attention: the mean of 1 / (q + 1) over its query positions."""
    length = int(bos) + 2 * seq_len
    all_queries = np.arange(1, length)
    second_copy = np.arange(length - seq_len, length)
    return {
        "previous_token": float(np.mean(1.0 / (all_queries + 1))),
        "induction": float(np.mean(1.0 / (second_copy + 1))),
        "duplicate_token": float(np.mean(1.0 / (second_copy + 1))),
        "first_token": float(np.mean(1.0 / (all_queries + 1))),
    }


# ---------------------------------------------------------------------------
# Sequences


@dataclass(frozen=True)
class Sequences:
    """Repeated-span sequences and their no-repeat controls for one seed.

    `repeated[i]` and `control[i]` share BOS and the first span; the control's second
    half is a fresh random span.
    """

    repeated: torch.Tensor
    control: torch.Tensor
    seq_len: int
    bos: bool
    with_replacement: bool
    n_candidate_tokens: int


def candidate_token_ids(model: Any) -> np.ndarray:
    """Return the token ids that random spans are drawn from: every non-special id in the tokenizer's vocabulary."""
    tokenizer = getattr(model, "tokenizer", None)
    if tokenizer is None:
        return np.arange(model.cfg.d_vocab)
    size = min(int(model.cfg.d_vocab), len(tokenizer))
    special = set(int(index) for index in getattr(tokenizer, "all_special_ids", []) or [])
    for index, token in (getattr(tokenizer, "added_tokens_decoder", None) or {}).items():
        if getattr(token, "special", False):
            special.add(int(index))
    return np.array([index for index in range(size) if index not in special], dtype=np.int64)


def make_sequences(model: Any, seq_len: int, n_examples: int, seed: int) -> Sequences:
    """Draw `n_examples` repeated-span sequences and their controls with numpy Generator `seed`."""
    candidates = candidate_token_ids(model)
    n_candidates = candidates.size
    if n_candidates < 2:
        raise ValueError(f"the tokenizer has {n_candidates} non-special token id(s); random spans need at least 2")
    bos = prepends_bos(model)
    prefix = [int(model.tokenizer.bos_token_id)] if bos else []
    rng = np.random.default_rng(seed)
    with_replacement = n_candidates < seq_len
    repeated, control = [], []
    for _ in range(n_examples):
        if n_candidates >= 2 * seq_len:
            # The two halves of the control are distinct, so it repeats nothing at all.
            drawn = candidates[rng.choice(n_candidates, size=2 * seq_len, replace=False)]
            span, fresh = drawn[:seq_len], drawn[seq_len:]
        else:
            span = candidates[rng.choice(n_candidates, size=seq_len, replace=with_replacement)]
            fresh = candidates[rng.choice(n_candidates, size=seq_len, replace=with_replacement)]
        repeated.append(prefix + span.tolist() + span.tolist())
        control.append(prefix + span.tolist() + fresh.tolist())
    return Sequences(
        repeated=torch.tensor(repeated, dtype=torch.long),
        control=torch.tensor(control, dtype=torch.long),
        seq_len=seq_len,
        bos=bos,
        with_replacement=with_replacement,
        n_candidate_tokens=int(n_candidates),
    )


# ---------------------------------------------------------------------------
# Validation


def check_layers(layers: list[int] | None, n_layers: int) -> list[int]:
    """Return the chosen blocks (all of them for None), raising ValueError naming any index out of 0..n_layers-1."""
    chosen = list(range(n_layers)) if layers is None else [int(layer) for layer in layers]
    bad = [layer for layer in chosen if not 0 <= layer < n_layers]
    if bad or not chosen:
        raise ValueError(
            f"layers {chosen} is invalid: each must be a block index in 0..{n_layers - 1} for this {n_layers}-layer model"
            + (f" ({bad} out of range)" if bad else " (the list is empty)")
        )
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"layers {chosen} contains duplicates")
    return chosen


def check_seq_len(seq_len: int, n_ctx: int, bos: bool) -> None:
    """Raise ValueError naming seq_len and its valid range when BOS + 2 * seq_len does not fit n_ctx."""
    largest = (n_ctx - int(bos)) // 2
    if not isinstance(seq_len, (int, np.integer)) or isinstance(seq_len, bool) or not MIN_SEQ_LEN <= seq_len <= largest:
        what = "BOS + 2 * seq_len" if bos else "2 * seq_len"
        raise ValueError(
            f"seq_len {seq_len!r} is invalid: it must be an integer in {MIN_SEQ_LEN}..{largest}, because {what} "
            f"tokens must fit the model's context of {n_ctx} positions and the induction target needs a span of at least {MIN_SEQ_LEN}"
        )


# ---------------------------------------------------------------------------
# Forward passes


def pattern_scores(
    model: Any,
    tokens: torch.Tensor,
    layers: list[int],
    seq_len: int,
    batch_size: int = 32,
    *,
    cache: CacheSettings | None = None,
) -> dict[str, np.ndarray]:
    """Return each score per example as an array [example, chosen layer, head], from hooks on hook_pattern.

    The forward pass stops after the last chosen block. With `cache`, the patterns
    come from the activation cache (hook point `pattern`, the chosen layers) and are
    read one shard at a time, so a second run does no forward pass. Without it they
    are scored in the hooks and not kept.
    """
    if cache is not None:
        entry = cache.entries(model, tokens, {"pattern": layers}, batch_size)["pattern"]
        cached_parts: dict[str, list[torch.Tensor]] = {name: [] for name in SCORES}
        for batch in entry.batches():
            per_layer = [scores_from_pattern(batch.activations[layer], seq_len) for layer in layers]
            for name in SCORES:
                cached_parts[name].append(torch.stack([scores[name].to(torch.float64) for scores in per_layer], dim=1))
        return {name: torch.cat(cached_parts[name]).numpy() for name in SCORES}

    stored: dict[int, dict[str, torch.Tensor]] = {}

    def make_hook(position: int):
        def hook(pattern: torch.Tensor, hook: Any) -> None:
            stored[position] = {name: value.detach().to("cpu", torch.float64) for name, value in scores_from_pattern(pattern, seq_len).items()}

        return hook

    fwd_hooks = [(f"blocks.{layer}.attn.hook_pattern", make_hook(position)) for position, layer in enumerate(layers)]
    parts: dict[str, list[torch.Tensor]] = {name: [] for name in SCORES}
    with torch.no_grad():
        for start in range(0, tokens.shape[0], batch_size):
            stored.clear()
            batch = tokens[start : start + batch_size].to(model.cfg.device)
            model.run_with_hooks(batch, fwd_hooks=fwd_hooks, return_type=None, stop_at_layer=max(layers) + 1)
            for name in SCORES:
                parts[name].append(torch.stack([stored[position][name] for position in range(len(layers))], dim=1))
    return {name: torch.cat(parts[name]).numpy() for name in SCORES}


def head_scores(model: Any, layers: list[int] | None, seq_len: int, n_examples: int, seed: int) -> dict[str, np.ndarray]:
    """Return the mean of each score over `n_examples` repeated-span sequences of `seed`, as an array [layer, head].

    Rows are indexed by block number over all n_layers blocks; blocks not in `layers`
    are NaN (`layers=None` scores all of them). Raises ValueError for a layer or
    seq_len out of range before any forward pass.
    """
    chosen = check_layers(layers, model.cfg.n_layers)
    check_seq_len(seq_len, model.cfg.n_ctx, prepends_bos(model))
    if n_examples < 1:
        raise ValueError(f"n_examples must be at least 1, got {n_examples}")
    sequences = make_sequences(model, seq_len, n_examples, seed)
    per_example = pattern_scores(model, sequences.repeated, chosen, seq_len)
    result = {}
    for name in SCORES:
        grid = np.full((model.cfg.n_layers, model.cfg.n_heads), np.nan)
        grid[chosen] = per_example[name].mean(axis=0)
        result[name] = grid
    return result


# ---------------------------------------------------------------------------
# Statistics


def bootstrap_ci_columns(
    values: np.ndarray, *, n_bootstrap: int, seed: int, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval of the mean of each column of `values` [n, k].

    Draws the same resample indices as `stats.bootstrap_ci(column, seed=seed)` for every
    column, so each interval is the one that function gives (up to float rounding),
    computed for all heads at once through resample counts.
    """
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] == 0:
        raise ValueError(f"values must have shape [n >= 1, k], got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError("values contains non-finite numbers")
    n, k = array.shape
    rows_per_chunk = max(1, _MAX_RESAMPLE_ELEMENTS // n)
    columns_per_block = max(1, _MAX_MEANS_ELEMENTS // n_bootstrap)
    alpha = 1.0 - confidence
    lo, hi = np.empty(k), np.empty(k)
    for first in range(0, k, columns_per_block):
        block = array[:, first : first + columns_per_block]
        rng = np.random.default_rng(seed)
        means = np.empty((n_bootstrap, block.shape[1]))
        for start in range(0, n_bootstrap, rows_per_chunk):
            stop = min(start + rows_per_chunk, n_bootstrap)
            indices = rng.integers(0, n, size=(stop - start, n))
            flat = (indices + np.arange(stop - start)[:, None] * n).ravel()
            counts = np.bincount(flat, minlength=(stop - start) * n).reshape(stop - start, n)
            means[start:stop] = counts.astype(np.float64) @ block / n
        lo[first : first + block.shape[1]], hi[first : first + block.shape[1]] = np.quantile(means, [alpha / 2.0, 1.0 - alpha / 2.0], axis=0)
    return lo, hi


def _effect_size(treatment: np.ndarray, control: np.ndarray) -> float:
    if treatment.size < 2 or control.size < 2:
        return 0.0
    try:
        return cohens_d(treatment, control)
    except ValueError:
        # Zero variance with different means: report the raw difference of means instead.
        return float(treatment.mean() - control.mean())


def head_name(layer: int, head: int) -> str:
    return f"L{layer}H{head}"


# ---------------------------------------------------------------------------
# Run


def _validate_config(config: AttentionPatternConfig, root: Path) -> None:
    check_run_settings(config.probe_id, config.n_examples, config.seeds, batch_size=config.batch_size, n_bootstrap=config.n_bootstrap)
    results_dir = resolve_in_project(config.results_dir, root).resolve()
    if not results_dir.is_relative_to(root):
        raise ValueError(f"results_dir {config.results_dir!r} resolves to {results_dir}, outside the project root {root}; artifacts must lie inside it")


def run_attention_pattern(config: AttentionPatternConfig, project_root: str | os.PathLike[str]) -> Path:
    """Run the attention pattern probe and return the path of results/probe/<probe_id>.json.

    Writes one circuitsvis page per chosen layer (`<probe_id>_layer<L>.html`, JavaScript
    inlined so it opens offline), a PNG heatmap (`<probe_id>.png`) and then the results
    file, each through a temporary file moved into place.
    """
    root = Path(project_root).resolve()
    _validate_config(config, root)
    return run_with_events(
        intervention="attention_pattern",
        probe_id=config.probe_id,
        events_path=resolve_in_project(config.events_path, root),
        script_path=config.script_path,
        body=lambda log, started: _run(config, root, log, started),
        milestones=("model.loaded",),
    )


def _run(config: AttentionPatternConfig, root: Path, log: EventLog, started: float) -> Path:
    model_id = resolve_model_id(config.model_id, root)
    load_started = time.perf_counter()
    model = load_hooked_model(model_id, dtype=config.dtype, device=config.device, trust_remote_code=config.trust_remote_code)
    load_ms = (time.perf_counter() - load_started) * 1000
    n_layers, n_heads = model.cfg.n_layers, model.cfg.n_heads
    layers = check_layers(config.layers, n_layers)
    bos = prepends_bos(model)
    check_seq_len(config.seq_len, model.cfg.n_ctx, bos)
    seq_len = config.seq_len

    fingerprint = weights_fingerprint(model)
    log.emit(
        "model.loaded",
        duration_ms=load_ms,
        model_id=config.model_id,
        n_layers=n_layers,
        n_heads=n_heads,
        n_ctx=model.cfg.n_ctx,
        prepend_bos=bos,
        weights_sha256=fingerprint,
    )

    # The patterns come through the activation cache, so a rerun does no forward pass.
    cache = CacheSettings(resolve_in_project(config.cache_dir, root), log, config.model_id, fingerprint)
    per_seed: list[tuple[dict[str, np.ndarray], dict[str, np.ndarray]]] = []
    first_sequences: Sequences | None = None
    for seed in config.seeds:
        sequences = make_sequences(model, seq_len, config.n_examples, seed)
        if first_sequences is None:
            first_sequences = sequences
            if sequences.with_replacement:
                log.emit(
                    "sequences.with_replacement",
                    level="warning",
                    seq_len=seq_len,
                    n_candidate_tokens=sequences.n_candidate_tokens,
                )
        per_seed.append(
            (
                pattern_scores(model, sequences.repeated, layers, seq_len, config.batch_size, cache=cache),
                pattern_scores(model, sequences.control, layers, seq_len, config.batch_size, cache=cache),
            )
        )
    assert first_sequences is not None

    # Pooled per-example scores [example, chosen layer, head] over every seed.
    real = {name: np.concatenate([seed_real[name] for seed_real, _ in per_seed]) for name in SCORES}
    control = {name: np.concatenate([seed_control[name] for _, seed_control in per_seed]) for name in SCORES}
    n_total = real["induction"].shape[0]
    grid_shape = (len(layers), n_heads)

    means = {name: real[name].mean(axis=0) for name in SCORES}
    control_means = {name: control[name].mean(axis=0) for name in SCORES}
    intervals = {}
    for name in SCORES:
        lo, hi = bootstrap_ci_columns(real[name].reshape(n_total, -1), n_bootstrap=config.n_bootstrap, seed=config.bootstrap_seed)
        intervals[name] = (lo.reshape(grid_shape), hi.reshape(grid_shape))
    baselines = random_baselines(seq_len, bos)

    def top_in(name: str, row: int | None = None) -> tuple[int, int]:
        grid = means[name]
        if row is not None:
            return row, int(np.argmax(grid[row]))
        flat = int(np.argmax(grid))
        return flat // n_heads, flat % n_heads

    def interval(name: str, row: int, head: int) -> list[float]:
        return [float(intervals[name][0][row, head]), float(intervals[name][1][row, head])]

    top = {name: top_in(name) for name in SCORES}
    top_row, top_head = top["induction"]
    values_per_layer, ci_per_layer = [], []
    for row in range(len(layers)):
        _, head = top_in("induction", row)
        values_per_layer.append(float(means["induction"][row, head]))
        ci_per_layer.append(interval("induction", row, head))
    secondary = {}
    for name in ("previous_token", "duplicate_token", "first_token"):
        values, cis = [], []
        for row in range(len(layers)):
            _, head = top_in(name, row)
            values.append(float(means[name][row, head]))
            cis.append(interval(name, row, head))
        secondary[f"{name}_score"] = {"values_per_layer": values, "ci_per_layer": cis}

    values_per_seed = [float(seed_real["induction"][:, top_row, top_head].mean()) for seed_real, _ in per_seed]
    top_real = real["induction"][:, top_row, top_head]
    top_control = control["induction"][:, top_row, top_head]

    components = []
    for row, layer in enumerate(layers):
        for head in range(n_heads):
            for name in SCORES:
                components.append(
                    {"name": f"{head_name(layer, head)} {name}", "value": float(means[name][row, head]), "ci_95": interval(name, row, head)}
                )

    top_heads = {}
    for name in SCORES:
        row, head = top[name]
        top_heads[name] = {
            "head": head_name(layers[row], head),
            "layer": layers[row],
            "index": head,
            "value": float(means[name][row, head]),
            "ci_95": interval(name, row, head),
            "shuffled_control_mean": float(control_means[name][row, head]),
            "random_baseline": baselines[name],
            "effect_size": _effect_size(real[name][:, row, head], control[name][:, row, head]),
        }

    results_dir = resolve_in_project(config.results_dir, root)
    example_ids = first_sequences.repeated[0]
    # The page shows the first repeated sequence of the first seed, read back from its cache entry.
    first_patterns = cache.entries(model, first_sequences.repeated, {"pattern": layers}, config.batch_size)["pattern"].rows([0])
    pages = _write_pages(model, config, results_dir, layers, example_ids, seq_len, means, first_patterns)
    plot_path = _plot(results_dir, config, layers, n_heads, means)

    layer_word = "layer" if len(layers) == 1 else "layers"
    sampling_text = (
        f"each span holds {seq_len} distinct token ids drawn uniformly from {first_sequences.n_candidate_tokens} non-special ids"
        if not first_sequences.with_replacement
        else f"the vocabulary has only {first_sequences.n_candidate_tokens} non-special ids, fewer than seq_len = {seq_len}, "
        "so each span is drawn with replacement and a token can occur more than once in it (its induction target is then not unique)"
    )
    results = {
        "schema_version": SCHEMA_VERSION,
        "probe_id": config.probe_id,
        "intervention": "attention_pattern",
        "model_id": config.model_id,
        "status": decide_status(config.n_examples, config.seeds),
        "hypothesis": config.hypothesis,
        "n_examples": config.n_examples,
        "seeds": [int(seed) for seed in config.seeds],
        "layers": layers,
        "metric": PRIMARY_METRIC,
        "primary_metric": PRIMARY_METRIC,
        "values_per_layer": values_per_layer,
        "ci_per_layer": ci_per_layer,
        "values_per_seed": values_per_seed,
        "mean": float(means["induction"][top_row, top_head]),
        "ci_95": interval("induction", top_row, top_head),
        "shuffled_control_mean": float(top_control.mean()),
        "random_baseline": baselines["induction"],
        "noise_floor": noise_floor(values_per_seed),
        "effect_size": _effect_size(top_real, top_control),
        "layer_semantics": LAYER_SEMANTICS
        + (" Each sequence starts with one BOS token at position 0." if bos else " No BOS token is prepended; position 0 is the first span token."),
        "secondary_metrics": secondary,
        "components": components,
        "top_heads": top_heads,
        "head_scores": {
            f"{name}_score": {
                "axes": ["layer", "head"],
                "layers": layers,
                "values": means[name].tolist(),
                "ci": np.stack(intervals[name], axis=-1).tolist(),
                "shuffled_control": control_means[name].tolist(),
                "random_baseline": baselines[name],
            }
            for name in SCORES
        },
        "random_baselines": {f"{name}_score": value for name, value in baselines.items()},
        "sequences": {
            "seq_len": seq_len,
            "length": int(bos) + 2 * seq_len,
            "bos": bos,
            "with_replacement": first_sequences.with_replacement,
            "n_candidate_tokens": first_sequences.n_candidate_tokens,
            "description": f"{'BOS + ' if bos else ''}a span of {seq_len} random tokens + the same span; {sampling_text}.",
        },
        "ci_method": (
            f"Percentile bootstrap 95% interval of the mean (Efron & Tibshirani 1993), {config.n_bootstrap} resamples "
            f"of the {n_total} sequences pooled over all seeds (each seed draws its own {config.n_examples}), numpy "
            f"Generator seed {config.bootstrap_seed}, the same resamples for every head and score. mean and ci_95 are "
            f"the induction score of the top induction head {head_name(layers[top_row], top_head)}, chosen as the largest "
            f"mean over the {len(layers)} chosen {layer_word} on the same sequences, so its value is biased upward by the "
            "selection; values_per_layer and the secondary metrics are the top head of each layer. values_per_seed is "
            "that head's mean per seed, and noise_floor is their sample standard deviation. shuffled_control_mean is "
            "that head's induction score on control sequences with the same first span and a fresh random second span "
            "(nothing repeats, so induction attention has no target). random_baseline is the induction score of a head "
            "attending uniformly over its causal window, the mean of 1 / (q + 1) over the second-copy queries q "
            "(random_baselines gives it for each score). effect_size is Cohen's d of the top head's per-sequence "
            "induction score, repeated minus control sequences, with the pooled standard deviation."
        ),
        "alternative_explanations_not_ruled_out": _alternative_explanations(
            layers, n_heads, means, intervals, control_means, top, seq_len, first_sequences
        ),
        "artifacts": [path.relative_to(root).as_posix() for path in (*pages, plot_path)],
        "provenance": probe_provenance(config, root, log, model, fingerprint, started),
        # The nnsight backend runs the logit lens, activation patching and probing only.
        "backend": "transformer_lens",
    }
    return write_json_atomic(results_dir / f"{config.probe_id}.json", results)


def _alternative_explanations(
    layers: list[int],
    n_heads: int,
    means: dict[str, np.ndarray],
    intervals: dict[str, tuple[np.ndarray, np.ndarray]],
    control_means: dict[str, np.ndarray],
    top: dict[str, tuple[int, int]],
    seq_len: int,
    sequences: Sequences,
) -> list[str]:
    """Write the explanations this probe cannot rule out, naming the heads and values of this run."""
    row, head = top["induction"]
    name = head_name(layers[row], head)
    value = means["induction"][row, head]
    control_value = control_means["induction"][row, head]
    explanations = [
        f"Attention weight is not causal importance: {name} puts {value:.2f} of its attention on the induction target "
        f"(control {control_value:.2f}), but the pattern says nothing about what its OV circuit writes; the head may "
        "contribute little to the logits, which activation or path patching would test.",
        f"Scores on random-token sequences may not transfer to natural text or to the prompts under study: these are "
        f"spans of {seq_len} uniformly drawn token ids repeated once, and {name}'s induction score of {value:.2f} here "
        "need not hold where repeats are partial, far apart or paraphrased.",
    ]

    prev_row, prev_head = top["previous_token"]
    prev_name = head_name(layers[prev_row], prev_head)
    prev_value = means["previous_token"][prev_row, prev_head]
    if layers[prev_row] < layers[row]:
        explanations.append(
            f"{prev_name} has the top previous-token score ({prev_value:.2f}) in a layer below {name}, but attending to "
            f"the previous token does not show that {name} reads its output through K-composition; path patching "
            f"{prev_name} -> {name}.k would test that edge."
        )
    else:
        explanations.append(
            f"The top previous-token head {prev_name} ({prev_value:.2f}) is not in a layer below the top induction head "
            f"{name}, so it cannot feed it; {name} may find the earlier occurrence another way (for example from "
            "positional information or a weaker previous-token head) that these scores do not show."
        )

    flat = means["induction"].ravel()
    if flat.size > 1:
        order = np.argsort(flat)[::-1]
        second_row, second_head = divmod(int(order[1]), n_heads)
        second_name = head_name(layers[second_row], second_head)
        second_hi = intervals["induction"][1][second_row, second_head]
        if second_hi >= intervals["induction"][0][row, head]:
            explanations.append(
                f"{second_name} scores {flat[order[1]]:.2f} (95% CI up to {second_hi:.2f}), overlapping the interval of "
                f"{name} ({value:.2f}): which head is the top induction head is not settled, and the behaviour may be "
                "spread over several heads."
            )
        else:
            explanations.append(
                f"{name} was chosen as the top of {flat.size} heads on the same sequences it is scored on, so {value:.2f} "
                f"is biased upward; the runner-up {second_name} scores {flat[order[1]]:.2f}."
            )

    sink_row, sink_head = top["first_token"]
    sink_value = means["first_token"][sink_row, sink_head]
    if sink_value > 0.5:
        explanations.append(
            f"{head_name(layers[sink_row], sink_head)} puts {sink_value:.2f} of its attention on position 0: a head "
            "that parks attention on the first token (an attention sink) can have low scores here and still do "
            "something else on other inputs."
        )

    if sequences.with_replacement:
        explanations.append(
            f"Spans were drawn with replacement from {sequences.n_candidate_tokens} token ids, so a token can repeat "
            "within a span and the induction target is ambiguous; the scores understate a head that attends to any "
            "earlier successor."
        )

    return explanations


# ---------------------------------------------------------------------------
# Files


def _token_labels(model: Any, ids: list[int]) -> list[str]:
    tokenizer = getattr(model, "tokenizer", None)
    labels = []
    for index in ids:
        label = tokenizer.decode([index]) if tokenizer is not None else str(index)
        # The labels end up in an inline <script>; "</" or "<!--" in a token could end it early.
        labels.append(label.replace("</", "<\u2215").replace("<!--", "<!\u2010-"))
    return labels


def _write_pages(
    model: Any,
    config: AttentionPatternConfig,
    results_dir: Path,
    layers: list[int],
    example_ids: torch.Tensor,
    seq_len: int,
    means: dict[str, np.ndarray],
    patterns: dict[int, torch.Tensor] | None = None,
) -> list[Path]:
    """Write one circuitsvis page per chosen layer for one repeated-span sequence, with its JavaScript inlined.

    `patterns` ({layer: [1, head, query, key]}, from the activation cache) saves the
    forward pass over `example_ids`.
    """
    from circuitsvis.attention import attention_patterns

    names = [f"blocks.{layer}.attn.hook_pattern" for layer in layers]
    if patterns is None:
        with torch.no_grad():
            _, cache = model.run_with_cache(
                example_ids[None].to(model.cfg.device),
                names_filter=lambda name: name in names,
                return_type=None,
                stop_at_layer=max(layers) + 1,
            )
        patterns = {layer: cache[f"blocks.{layer}.attn.hook_pattern"] for layer in layers}
    ids = example_ids.tolist()
    labels = _token_labels(model, ids)
    pages = []
    for row, layer in enumerate(layers):
        pattern = patterns[layer][0].float().cpu()
        # .local_src inlines the circuitsvis bundle; str(rendered) would load it from a CDN.
        rendered = attention_patterns(tokens=labels, attention=pattern).local_src
        rows = "\n".join(
            "<tr><td>" + head_name(layer, head) + "</td>"
            + "".join(f"<td>{means[name][row, head]:.3f}</td>" for name in SCORES)
            + "</tr>"
            for head in range(model.cfg.n_heads)
        )
        title = html.escape(f"{config.probe_id}: attention patterns of layer {layer}")
        page = (
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{title}</title>\n</head>\n<body>\n<h1>{title}</h1>\n"
            f"<p>Model {html.escape(config.model_id)}. One example sequence: "
            f"{'BOS, ' if prepends_bos(model) else ''}a span of {seq_len} random tokens, then the same span. "
            "Pick a head to see its pattern (rows: query, columns: key). The table gives each head's mean scores "
            "over all sequences of the run.</p>\n"
            "<table border=\"1\" cellpadding=\"4\">\n<tr><th>head</th>"
            + "".join(f"<th>{name.replace('_', '-')}</th>" for name in SCORES)
            + f"</tr>\n{rows}\n</table>\n{rendered}\n</body>\n</html>\n"
        )
        target = results_dir / f"{config.probe_id}_layer{layer}.html"
        pages.append(write_bytes_atomic(target, page.encode("utf-8")))
    return pages


def _plot(results_dir: Path, config: AttentionPatternConfig, layers: list[int], n_heads: int, means: dict[str, np.ndarray]) -> Path:
    """Write a PNG with one heatmap per score: heads (rows) by chosen layers (columns)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(SCORES), figsize=(3.2 * len(SCORES) + 1, 0.3 * n_heads + 2.5), squeeze=False)
    annotate = len(layers) * n_heads <= 256
    for axis, name in zip(axes[0], SCORES):
        grid = means[name].T  # [head, layer]
        image = axis.imshow(grid, vmin=0.0, vmax=1.0, cmap="viridis", aspect="auto", interpolation="nearest")
        axis.set_title(f"{name.replace('_', '-')} score")
        axis.set_xlabel("layer")
        axis.set_ylabel("head")
        axis.set_xticks(range(len(layers)), [str(layer) for layer in layers])
        if n_heads <= 32:
            axis.set_yticks(range(n_heads))
        if annotate:
            for head in range(n_heads):
                for column in range(len(layers)):
                    value = grid[head, column]
                    axis.text(column, head, f"{value:.2f}", ha="center", va="center", fontsize=7, color="white" if value < 0.5 else "black")
        figure.colorbar(image, ax=axis, fraction=0.046, pad=0.04)
    figure.suptitle(f"Attention head scores: {config.probe_id} (mean over all sequences)")
    figure.tight_layout()
    return save_figure_atomic(figure, results_dir / f"{config.probe_id}.png")
