"""Logit lens: how the next-token prediction forms layer by layer.

The logit lens (nostalgebraist 2020, "interpreting GPT: the logit lens") decodes an
intermediate residual stream as if it were the last one: apply the model's final
layer norm to it and multiply by the unembedding. Layer index L in 0..n_layers reads
the residual stream entering block L (`blocks.L.hook_resid_pre`); L == n_layers is
the final residual stream (`blocks.{n_layers - 1}.hook_resid_post`), whose lens is
the model's own logits.

The final layer norm is applied afresh to each layer's residual, with the scale
(root mean square after centring) computed from that residual. Reusing the scale
the final layer computed for the last residual mis-scales early layers, whose
residual norms are usually much smaller. In transformer-lens 3.5,
`ActivationCache.apply_ln_to_stack` reuses the cached scale unless it is called
with `recompute_ln=True`.

Metrics, at the position that predicts the correct token:
- `rank_of_correct_token`: 1 + the number of vocabulary entries with a strictly
  greater logit, so 1 is the top prediction and ties count in the token's favour.
- `log_prob_of_correct_token`: log-softmax of the lens logits at the correct token.
- `top_1_accuracy`: whether the rank is 1.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from jaxtyping import Float, Int

from .cache import cache_activations
from .datasets import PromptExample, load_prompts_jsonl, sample_per_seed, warn_small_dataset
from .events import EventLog
from .models import load_hooked_model, prepends_bos, resolve_model_id, tokenize_continuation, tokenize_prompt, weights_fingerprint
from .nnsight_backend import NnsightLM, PaddedBatch, check_backend_settings, load_for_config, needs_precision_check, nnsight_fingerprint, pad_batch, precision_check
from .probe_run import check_run_settings, probe_provenance, resolve_in_project, run_with_events, save_figure_atomic
from .results import SCHEMA_VERSION, decide_status, write_json_atomic
from .stats import bootstrap_ci, cohens_d, mean, noise_floor

PRIMARY_METRIC = "rank_of_correct_token"
# The nnsight script's trace function: (lm, left-padded batch, layers) -> {layer: lens logits [batch, d_vocab]}.
LensLogitsFunction = Callable[[NnsightLM, PaddedBatch, list[int]], dict[int, torch.Tensor]]
# The module roles the nnsight trace function reads (see nnsight_backend.ROLES).
NNSIGHT_ROLES = ("blocks", "final_norm", "unembed")
DEFAULT_ALTERNATIVE_EXPLANATIONS = (
    "The final layer norm and unembedding are tuned to the last residual stream, so "
    "applying them to early residuals is off-distribution: early-layer ranks may "
    "understate what is linearly decodable there (a tuned lens with a learned "
    "per-layer translator could decode it earlier).",
    "The correct tokens may be frequent tokens that the model predicts from unigram "
    "statistics rather than from the context, which would give good ranks at early "
    "layers without any in-context computation; the shuffled control only partly "
    "separates the two when the answer tokens repeat across examples.",
)
# Largest |log-prob difference| in nats between a reduced-precision run and its float32 rerun that
# passes the precision check. bfloat16 keeps 8 bits of mantissa (relative error 2^-8, about 0.4%), so
# logits of size 10-20 move by about 0.05-0.1 each (an estimate), and a log-softmax by up to a few
# tenths. A difference above 0.5 nats (a factor of 1.65 in probability) marks per-layer log-probs
# that the float32 run does not confirm. The demo model in bfloat16 stays within 0.05.
LOG_PROB_TOLERANCE = 0.5
LAYER_SEMANTICS = (
    "Layer L < n_layers is the residual stream entering block L (blocks.L.hook_resid_pre); "
    "L == n_layers is the final residual stream (blocks.{n_layers-1}.hook_resid_post). "
    "Each is decoded by the model's final layer norm, recomputed on that residual, "
    "then the unembedding."
)


@dataclass
class LogitLensConfig:
    """Settings of one logit lens probe; relative paths are resolved against the project root."""

    probe_id: str
    model_id: str
    prompts_path: str
    layers: list[int] | None = None
    n_examples: int = 64
    seeds: tuple[int, ...] | list[int] = (0, 1, 2)
    dtype: str = "float32"
    device: str | None = None
    hypothesis: str = ""
    alternative_explanations: tuple[str, ...] | list[str] = DEFAULT_ALTERNATIVE_EXPLANATIONS
    batch_size: int = 32
    n_bootstrap: int = 10_000
    results_dir: str = "results/probe"
    cache_dir: str = "cache/activations"
    events_path: str = "cache/events.jsonl"
    script_path: str | None = None
    bootstrap_seed: int = 0
    # Python code shipped with the model runs only when this is True (probe setup --trust-remote-code).
    trust_remote_code: bool = False
    # "transformer_lens" or "nnsight"; the nnsight settings below apply to nnsight only.
    backend: str = "transformer_lens"
    # False runs here, True on NDIF, "local" serialises each request as for NDIF and runs it here.
    remote: bool | str = False
    device_map: str | None = None
    recheck_float32: int = 0
    module_paths: dict[str, str] | None = None


def compute_lens_logits(model: Any, resid: Float[torch.Tensor, "batch pos d_model"]) -> Float[torch.Tensor, "batch pos d_vocab"]:
    """Decode residual-stream vectors with the final layer norm, recomputed on them, and the unembedding."""
    if resid.dim() != 3 or resid.shape[-1] != model.cfg.d_model:
        raise ValueError(f"resid must have shape [batch, pos, d_model={model.cfg.d_model}], got {tuple(resid.shape)}")
    resid = resid.to(device=model.cfg.device, dtype=model.cfg.dtype)
    normalized = model.ln_final(resid) if hasattr(model, "ln_final") else resid
    return model.unembed(normalized)


def rank_of_correct_token(logits: Float[torch.Tensor, "batch d_vocab"], correct: Int[torch.Tensor, " batch"]) -> Int[torch.Tensor, " batch"]:
    """Return 1 + the number of tokens whose logit is strictly greater than the correct token's."""
    _check_logits_and_targets(logits, correct)
    correct_logit = logits.gather(-1, correct[:, None].to(logits.device))
    return (logits > correct_logit).sum(dim=-1) + 1


def log_prob_of_correct_token(logits: Float[torch.Tensor, "batch d_vocab"], correct: Int[torch.Tensor, " batch"]) -> Float[torch.Tensor, " batch"]:
    """Return the log-softmax probability of the correct token, computed in float32 or wider."""
    _check_logits_and_targets(logits, correct)
    wide = logits.float() if logits.dtype in (torch.float16, torch.bfloat16) else logits
    return wide.log_softmax(dim=-1).gather(-1, correct[:, None].to(logits.device))[:, 0]


def _check_logits_and_targets(logits: torch.Tensor, correct: torch.Tensor) -> None:
    if logits.dim() != 2 or correct.dim() != 1 or logits.shape[0] != correct.shape[0]:
        raise ValueError(f"expected logits [batch, d_vocab] and correct [batch], got {tuple(logits.shape)} and {tuple(correct.shape)}")
    if correct.numel() and (int(correct.min()) < 0 or int(correct.max()) >= logits.shape[-1]):
        raise ValueError(f"correct token ids must be in 0..{logits.shape[-1] - 1}, got min {int(correct.min())} and max {int(correct.max())}")


@dataclass(frozen=True)
class LensExample:
    """Token ids fed to the model and the correct next token, predicted at the last position."""

    input_ids: list[int]
    correct_token: int
    line_number: int


def prepare_example(model: Any, example: PromptExample) -> LensExample:
    """Turn a prompts-file line into model input and the correct token.

    With an answer, the correct token is the answer's first token, tokenized on its
    own without BOS. For byte-pair tokenizers such as GPT-2's, an answer that follows
    a space in running text usually needs that leading space (" Paris", not "Paris").
    """
    ids = tokenize_prompt(model, example.prompt)
    unknown_id = getattr(model.tokenizer, "unk_token_id", None)
    if example.answer is not None:
        answer_ids = tokenize_continuation(model, example.answer)
        if not answer_ids:
            raise ValueError(f"prompts line {example.line_number}: answer {example.answer!r} tokenizes to no tokens")
        if unknown_id is not None and answer_ids[0] == unknown_id:
            # Every unknown answer would share one token id, so its rank would measure how
            # likely the model finds the unknown token, not the answer.
            raise ValueError(
                f"prompts line {example.line_number}: answer {example.answer!r} is not in the model's vocabulary "
                f"(it tokenizes to the unknown token {model.tokenizer.unk_token!r}); use a word the tokenizer knows"
            )
        return LensExample(ids, answer_ids[0], example.line_number)

    n_bos = 1 if prepends_bos(model) else 0
    if len(ids) - n_bos < 2:
        raise ValueError(
            f"prompts line {example.line_number}: prompt {example.prompt!r} has {len(ids) - n_bos} token(s)"
            + (" after BOS" if n_bos else "")
            + "; without an answer it needs at least 2 tokens so the last one can be predicted"
        )
    return LensExample(ids[:-1], ids[-1], example.line_number)


def lens_metrics(
    model: Any,
    resid_by_layer: dict[int, Float[torch.Tensor, "batch pos d_model"]],
    examples: list[LensExample],
    correct_tokens: Int[torch.Tensor, " batch"] | None = None,
) -> dict[str, dict[int, np.ndarray]]:
    """Compute rank, log-prob and top-1 per layer and example at each example's last position."""
    positions = torch.tensor([len(example.input_ids) - 1 for example in examples])
    if correct_tokens is None:
        correct_tokens = torch.tensor([example.correct_token for example in examples])
    rows = torch.arange(len(examples))
    logits_by_layer = {}
    with torch.no_grad():
        for layer, resid in resid_by_layer.items():
            last = resid[rows, positions][:, None, :]
            logits_by_layer[layer] = compute_lens_logits(model, last)[:, 0, :]
    return metrics_from_logits(logits_by_layer, correct_tokens)


def metrics_from_logits(
    logits_by_layer: dict[int, Float[torch.Tensor, "batch d_vocab"]], correct_tokens: Int[torch.Tensor, " batch"]
) -> dict[str, dict[int, np.ndarray]]:
    """Compute rank, log-prob and top-1 per layer and example from lens logits at the predicting position.

    Both backends end here: the transformer_lens path decodes cached residuals, the
    nnsight path gets the lens logits from the script's trace function.
    """
    metrics: dict[str, dict[int, np.ndarray]] = {PRIMARY_METRIC: {}, "log_prob_of_correct_token": {}, "top_1_accuracy": {}}
    with torch.no_grad():
        for layer, logits in logits_by_layer.items():
            correct = correct_tokens.to(logits.device)
            ranks = rank_of_correct_token(logits, correct).cpu()
            metrics[PRIMARY_METRIC][layer] = ranks.numpy().astype(np.float64)
            metrics["log_prob_of_correct_token"][layer] = log_prob_of_correct_token(logits, correct).cpu().double().numpy()
            metrics["top_1_accuracy"][layer] = (ranks == 1).numpy().astype(np.float64)
    return metrics


def nnsight_semantics(lm: NnsightLM) -> str:
    """Describe what the nnsight run read and which modules decoded it, by their resolved paths.

    A MODULE_PATHS override changes these paths, and with them the numbers.
    """
    paths = lm.paths
    return (
        f" Backend nnsight: the same residual streams read from the Hugging Face model (the input of "
        f"{paths['blocks']}.L, the output of the last block) by the script's trace function, each decoded by the "
        f"final norm module {paths['final_norm']} and the unembedding module {paths['unembed']}. Prompts run in "
        "left-padded batches with the attention mask and position ids counted from each prompt's first real token, "
        "so each prediction is at the last column. There is no activation cache on this backend: every run does "
        "its forward passes."
    )


def check_context_length(examples: list[LensExample], n_ctx: int | None) -> None:
    """Raise ValueError naming the prompts line when an example's input is longer than the model's context."""
    if n_ctx is None:
        return
    for example in examples:
        if len(example.input_ids) > n_ctx:
            raise ValueError(
                f"prompts line {example.line_number}: the prompt has {len(example.input_ids)} tokens, "
                f"more than the model's context of {n_ctx}; shorten it or remove the line"
            )


def _validate_config(config: LogitLensConfig) -> None:
    check_run_settings(config.probe_id, config.n_examples, config.seeds)
    explanations = [text.strip() for text in config.alternative_explanations]
    if len(explanations) < 2 or len(set(explanations)) < 2 or not all(explanations):
        raise ValueError("alternative_explanations needs at least 2 distinct non-empty strings")


def run_logit_lens(
    config: LogitLensConfig, project_root: str | os.PathLike[str], lens_logits: LensLogitsFunction | None = None
) -> Path:
    """Run the logit lens probe, write results/probe/<probe_id>.json and the plot, and return the JSON path.

    Examples are drawn per seed from the prompts file. Per-layer values are means over
    the examples of all seeds with percentile bootstrap 95% intervals.

    Backend transformer_lens: the residuals come through the activation cache, so a
    second run with the same model and examples skips the forward passes.

    Backend nnsight: the model loads with `nnsight_backend.load_nnsight_lm` and
    `lens_logits(lm, batch, layers)`, the trace function of the generated script, returns
    {layer: lens logits [batch, d_vocab]} at the last column of a left-padded batch
    (`nnsight_backend.pad_batch`: attention mask and position ids from the mask).
    There is no activation cache on this backend: every run does the forward passes
    (remotely on NDIF with `remote`). Ranks, log-probs, the shuffled control, the
    intervals and the results file are the same code as for transformer_lens. With
    `recheck_float32` > 0 and a dtype other than float32, the first recheck_float32
    examples of the first seed run again in float32 and the results gain a
    `precision_check`.
    """
    _validate_config(config)
    check_backend_settings(config)
    if config.backend == "nnsight" and lens_logits is None:
        raise ValueError("backend 'nnsight' needs the script's trace function: call run_logit_lens(config, root, lens_logits=...)")
    root = Path(project_root).resolve()
    return run_with_events(
        intervention="logit_lens",
        probe_id=config.probe_id,
        events_path=resolve_in_project(config.events_path, root),
        script_path=config.script_path,
        body=lambda log, started: _run(config, root, log, started, lens_logits),
        milestones=("model.loaded",),
    )


def _run(config: LogitLensConfig, root: Path, log: EventLog, started: float, lens_logits: LensLogitsFunction | None) -> Path:
    model_id = resolve_model_id(config.model_id, root)
    pool = load_prompts_jsonl(resolve_in_project(config.prompts_path, root))
    nnsight = config.backend == "nnsight"
    load_started = time.perf_counter()
    if nnsight:
        model: Any = load_for_config(config, model_id, NNSIGHT_ROLES)
    else:
        model = load_hooked_model(model_id, dtype=config.dtype, device=config.device, trust_remote_code=config.trust_remote_code)
    load_ms = (time.perf_counter() - load_started) * 1000
    n_layers = model.cfg.n_layers
    layers = list(range(n_layers + 1)) if config.layers is None else [int(layer) for layer in config.layers]
    bad = [layer for layer in layers if not 0 <= layer <= n_layers]
    if bad or not layers:
        raise ValueError(f"layers {layers} is invalid: each must be in 0..{n_layers} for this {n_layers}-layer model")

    fingerprint = nnsight_fingerprint(model, model_id) if nnsight else weights_fingerprint(model)
    log.emit(
        "model.loaded",
        duration_ms=load_ms,
        model_id=config.model_id,
        backend=config.backend,
        n_layers=n_layers,
        d_vocab=model.cfg.d_vocab,
        prepend_bos=prepends_bos(model),
        weights_sha256=fingerprint,
    )
    draws = sample_per_seed(pool, config.n_examples, config.seeds, config.prompts_path)
    n_used = len(draws[0])
    if n_used < config.n_examples:
        warn_small_dataset(log, config.prompts_path, len(pool), config.n_examples, n_used, len(config.seeds))

    per_seed_examples = [[prepare_example(model, example) for example in chosen] for chosen in draws]
    for examples in per_seed_examples:
        check_context_length(examples, getattr(model.cfg, "n_ctx", None))
    permuted = _permuted_correct_tokens(per_seed_examples, config.bootstrap_seed)
    last_layer = layers[-1]
    if nnsight:
        assert lens_logits is not None
        per_seed_metrics, shuffled_ranks = _nnsight_metrics(model, per_seed_examples, layers, permuted, lens_logits, config.batch_size)
    else:
        per_seed_metrics = []
        per_seed_resid = []
        for examples in per_seed_examples:
            resid = cache_activations(
                model,
                [example.input_ids for example in examples],
                layers,
                "resid_pre",
                resolve_in_project(config.cache_dir, root),
                batch_size=config.batch_size,
                # The id as written in the script keeps the key valid when the project
                # moves. The weights fingerprint already pins the weights themselves.
                model_id=config.model_id,
                weights_sha256=fingerprint,
                event_log=log,
            )
            per_seed_metrics.append(lens_metrics(model, resid, examples))
            per_seed_resid.append(resid)
        shuffled_ranks = _shuffled_control_ranks(model, per_seed_examples, per_seed_resid, last_layer, permuted)

    pooled = {
        name: {layer: np.concatenate([seed_metrics[name][layer] for seed_metrics in per_seed_metrics]) for layer in layers}
        for name in per_seed_metrics[0]
    }

    def summarise(name: str) -> tuple[list[float], list[list[float]]]:
        values = [mean(pooled[name][layer]) for layer in layers]
        intervals = [list(bootstrap_ci(pooled[name][layer], n_bootstrap=config.n_bootstrap, seed=config.bootstrap_seed)) for layer in layers]
        return values, intervals

    values_per_layer, ci_per_layer = summarise(PRIMARY_METRIC)
    secondary = {}
    for name in ("log_prob_of_correct_token", "top_1_accuracy"):
        values, intervals = summarise(name)
        secondary[name] = {"values_per_layer": values, "ci_per_layer": intervals}

    real_ranks = pooled[PRIMARY_METRIC][last_layer]
    values_per_seed = [mean(seed_metrics[PRIMARY_METRIC][last_layer]) for seed_metrics in per_seed_metrics]

    plot_path = _plot(root, config, layers, values_per_layer, ci_per_layer, secondary["log_prob_of_correct_token"])
    results = {
        "schema_version": SCHEMA_VERSION,
        "probe_id": config.probe_id,
        "intervention": "logit_lens",
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
        "mean": values_per_layer[-1],
        "ci_95": ci_per_layer[-1],
        "shuffled_control_mean": mean(shuffled_ranks),
        "random_baseline": (model.cfg.d_vocab + 1) / 2,
        "noise_floor": noise_floor(values_per_seed),
        "effect_size": _effect_size(shuffled_ranks, real_ranks),
        "layer_semantics": LAYER_SEMANTICS
        + (" Each prompt starts with one BOS token." if prepends_bos(model) else " No BOS token is prepended.")
        + (nnsight_semantics(model) if nnsight else ""),
        "secondary_metrics": secondary,
        "ci_method": (
            f"Percentile bootstrap 95% interval of the mean (Efron & Tibshirani 1993), "
            f"{config.n_bootstrap} resamples of the examples pooled over all seeds, numpy "
            f"Generator seed {config.bootstrap_seed}. mean and ci_95 are at layer {last_layer}. "
            "random_baseline is the expected rank under a uniformly random ranking, (d_vocab + 1) / 2. "
            "noise_floor is the sample standard deviation of values_per_seed. effect_size is "
            "Cohen's d of the per-example rank, shuffled control minus real, at the last layer."
        ),
        "alternative_explanations_not_ruled_out": [text.strip() for text in config.alternative_explanations],
        "artifacts": [plot_path.relative_to(root).as_posix()],
        "provenance": probe_provenance(config, root, log, model, fingerprint, started),
        "backend": config.backend,
    }
    if nnsight and needs_precision_check(config):
        assert lens_logits is not None
        results["precision_check"] = _precision_check(config, model_id, per_seed_examples[0], per_seed_metrics[0], layers, lens_logits, log)
    return write_json_atomic(resolve_in_project(config.results_dir, root) / f"{config.probe_id}.json", results)


def _permuted_correct_tokens(per_seed_examples: list[list[LensExample]], seed: int) -> torch.Tensor:
    """Permute the correct tokens of all seeds' examples across all of them: the shuffled control's targets."""
    correct = np.array([example.correct_token for examples in per_seed_examples for example in examples])
    return torch.tensor(np.random.default_rng(seed).permutation(correct))


def _shuffled_control_ranks(
    model: Any, per_seed_examples: list[list[LensExample]], per_seed_resid: list[dict], layer: int, permuted: torch.Tensor
) -> np.ndarray:
    """Rank the permuted correct tokens (`_permuted_correct_tokens`) at `layer` from cached residuals, as a control."""
    ranks = []
    offset = 0
    for seed_examples, resid in zip(per_seed_examples, per_seed_resid):
        part = permuted[offset : offset + len(seed_examples)]
        offset += len(seed_examples)
        metrics = lens_metrics(model, {layer: resid[layer]}, seed_examples, correct_tokens=part)
        ranks.append(metrics[PRIMARY_METRIC][layer])
    return np.concatenate(ranks)


def _nnsight_metrics(
    lm: NnsightLM,
    per_seed_examples: list[list[LensExample]],
    layers: list[int],
    permuted: torch.Tensor,
    lens_logits: LensLogitsFunction,
    batch_size: int,
) -> tuple[list[dict[str, dict[int, np.ndarray]]], np.ndarray]:
    """Compute per-seed metrics and the shuffled control's ranks at the last layer with the script's trace function.

    Each batch is left-padded, so every example is predicted at the last column, and
    only lens logits come back from the trace, never the residual stream.
    """
    last_layer = layers[-1]
    per_seed_metrics = []
    shuffled = []
    offset = 0
    for examples in per_seed_examples:
        logits_by_layer = _lens_logits_in_batches(lm, examples, layers, lens_logits, batch_size)
        correct = torch.tensor([example.correct_token for example in examples])
        per_seed_metrics.append(metrics_from_logits(logits_by_layer, correct))
        part = permuted[offset : offset + len(examples)]
        offset += len(examples)
        shuffled.append(metrics_from_logits({last_layer: logits_by_layer[last_layer]}, part)[PRIMARY_METRIC][last_layer])
    return per_seed_metrics, np.concatenate(shuffled)


def _lens_logits_in_batches(
    lm: NnsightLM, examples: list[LensExample], layers: list[int], lens_logits: LensLogitsFunction, batch_size: int
) -> dict[int, torch.Tensor]:
    """Run `lens_logits` on left-padded batches and return {layer: logits [n_examples, d_vocab]} on the CPU."""
    parts: dict[int, list[torch.Tensor]] = {layer: [] for layer in layers}
    for start in range(0, len(examples), batch_size):
        chunk = examples[start : start + batch_size]
        batch = pad_batch(lm, [example.input_ids for example in chunk])
        returned = lens_logits(lm, batch, layers)
        for layer in layers:
            value = returned[layer]
            if tuple(value.shape) != (len(chunk), lm.cfg.d_vocab):
                raise ValueError(
                    f"the trace function returned lens logits of shape {tuple(value.shape)} at layer {layer}; "
                    f"expected [batch={len(chunk)}, d_vocab={lm.cfg.d_vocab}]"
                )
            parts[layer].append(value.detach().to("cpu"))
    return {layer: torch.cat(values) for layer, values in parts.items()}


def _precision_check(
    config: LogitLensConfig, model_id: str, examples: list[LensExample], run_metrics: dict[str, dict[int, np.ndarray]],
    layers: list[int], lens_logits: LensLogitsFunction, log: EventLog,
) -> dict[str, Any]:
    """Rerun the first recheck_float32 examples in float32 and compare their log-probs at every layer."""
    sample = examples[: config.recheck_float32]
    load_started = time.perf_counter()
    reference_lm = load_for_config(config, model_id, NNSIGHT_ROLES, dtype="float32")
    logits = _lens_logits_in_batches(reference_lm, sample, layers, lens_logits, config.batch_size)
    del reference_lm
    reference = metrics_from_logits(logits, torch.tensor([example.correct_token for example in sample]))
    name = "log_prob_of_correct_token"
    record = precision_check(
        np.stack([run_metrics[name][layer][: len(sample)] for layer in layers]),
        np.stack([reference[name][layer] for layer in layers]),
        metric=name,
        dtype=config.dtype,
        tolerance=LOG_PROB_TOLERANCE,
        n_examples=len(sample),
    )
    log.emit(
        "precision.checked",
        duration_ms=(time.perf_counter() - load_started) * 1000,
        n_examples=record["n_examples"],
        max_abs_diff=record["max_abs_diff"],
        within_tolerance=record["within_tolerance"],
    )
    return record


def _effect_size(shuffled_ranks: np.ndarray, real_ranks: np.ndarray) -> float:
    if shuffled_ranks.size < 2:
        return 0.0
    try:
        return cohens_d(shuffled_ranks, real_ranks)
    except ValueError:
        # Zero variance with different means: report the raw difference of means instead.
        return float(shuffled_ranks.mean() - real_ranks.mean())


def _plot(root: Path, config: LogitLensConfig, layers: list[int], ranks: list[float], rank_ci: list[list[float]], log_prob: dict) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    figure, (rank_axis, log_prob_axis) = plt.subplots(1, 2, figsize=(10, 4))
    rank_axis.plot(layers, ranks, marker="o")
    rank_axis.fill_between(layers, [lo for lo, _ in rank_ci], [hi for _, hi in rank_ci], alpha=0.25)
    rank_axis.set_yscale("log")
    rank_axis.set_xlabel("layer L (resid_pre of block L; n_layers = final residual)")
    rank_axis.set_ylabel("mean rank of correct token (1 = top)")

    log_prob_axis.plot(layers, log_prob["values_per_layer"], marker="o", color="tab:orange")
    log_prob_axis.fill_between(
        layers,
        [lo for lo, _ in log_prob["ci_per_layer"]],
        [hi for _, hi in log_prob["ci_per_layer"]],
        alpha=0.25,
        color="tab:orange",
    )
    log_prob_axis.set_xlabel("layer L (resid_pre of block L; n_layers = final residual)")
    log_prob_axis.set_ylabel("mean log-prob of correct token")
    for axis in (rank_axis, log_prob_axis):
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    figure.suptitle(f"Logit lens: {config.probe_id} (95% bootstrap CI)")
    figure.tight_layout()

    return save_figure_atomic(figure, resolve_in_project(config.results_dir, root) / f"{config.probe_id}.png")
