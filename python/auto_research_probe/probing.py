"""Probing classifiers: what a layer's activations encode linearly, measured on held-out data.

Method. Each line of a labels file (`labels.py`, `{"text": ..., "label": ...}`) is run
through the model, and one vector per text is read at one hook point of each chosen
layer and one token position. A logistic-regression probe (scikit-learn
`LogisticRegression`, L2 penalty, behind a `StandardScaler` in one `Pipeline`, so the
scaling is fitted on the training folds only) predicts the label from that vector.
Its score is the accuracy on held-out folds of stratified k-fold cross-validation;
training accuracy is never reported as the probe's accuracy (Belinkov 2022, "Probing
Classifiers: Promises, Shortcomings, and Advances").

Control task. The same probe, with the same folds procedure, is trained and tested on
the labels permuted at random among the examples of the seed, so the class balance
stays and any link between text and label is gone. Selectivity is the held-out
accuracy minus the control accuracy (Hewitt & Liang 2019, "Designing and Interpreting
Probes with Control Tasks"). Hewitt & Liang's control gives each word type a random
label, which a probe can memorise. A per-example permutation, as here, cannot be
memorised on held-out folds, so the control accuracy is near chance. Selectivity here
therefore measures accuracy above chance, not above a memorisation control.

Token positions. "last" is the text's last token. "first" is position 0 of the input
as the model reads it: the BOS token of a decoder that prepends one, the [CLS] token of
an encoder. "mean" averages the text's own tokens, without BOS, [CLS] and [SEP].
TransformerLens models run texts in left-padded batches with an attention mask, from
which TransformerLens derives each text's position ids, so a text's activations are
those of a run on its own. Encoders run right-padded with an attention mask. Padding
positions are never read.

Models. TransformerLens models are read at `blocks.L.hook_<hook>` through the
activation cache (`cache.py`), so a rerun skips the forward passes. BERT-type encoders,
which TransformerLens cannot load, run in Hugging Face (`models.load_encoder`), where
`hidden_states[L]` is resid_pre of block L and `hidden_states[L + 1]` resid_post; they
offer those two hooks only and are not cached.

Statistics. Seeds are replications: each seed draws its own examples (disjoint across
seeds, `datasets.sample_per_seed`) and seeds its folds, its permutations and its
random features. Every (seed, fold) pair gives one held-out accuracy, one control
accuracy and their difference. Intervals are corrected resampled t intervals over those
seeds x folds values (Nadeau & Bengio 2003, "Inference for the Generalization Error"):
the variance of the mean is s^2 (1/J + n_test/n_train) instead of s^2 / J, because
cross-validation folds share training examples and are not independent.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from .cache import CacheSettings, align_left_padded, ensure_cached, hook_name, left_padded_tokens
from .datasets import sample_per_seed, warn_small_dataset
from .events import EventLog
from .labels import LabeledText, check_classes_for_folds, class_counts, load_labeled_texts
from .models import (
    EncoderModel,
    encoder_config,
    load_encoder,
    load_hooked_model,
    prepends_bos,
    resolve_model_id,
    tokenize_prompt,
    weights_fingerprint,
)
from .nnsight_backend import NnsightLM, PaddedBatch, check_backend_settings, load_for_config, needs_precision_check, nnsight_fingerprint, pad_batch, precision_check
from .probe_run import check_run_settings, probe_provenance, resolve_in_project, run_with_events, save_figure_atomic
from .results import SCHEMA_VERSION, decide_status, write_json_atomic
from .stats import cohens_d, noise_floor

PRIMARY_METRIC = "selectivity"
# The nnsight script's trace function: (lm, left-padded batch, layers, hook, position, n_prefix) ->
# {layer: centred features [batch, d_model]}.
ProbeFeaturesFunction = Callable[[NnsightLM, PaddedBatch, list[int], str, str, int], dict[int, torch.Tensor]]
POSITIONS = ("last", "first", "mean")
HOOKS = ("resid_pre", "resid_mid", "resid_post", "attn_out", "mlp_out")
ENCODER_HOOKS = ("resid_pre", "resid_post")
CONFIDENCE = 0.95
ACCURACY_RANGE = (0.0, 1.0)
DIFFERENCE_RANGE = (-1.0, 1.0)
# The float32 recheck compares each feature vector with its float32 twin: ||x - x_float32|| / ||x_float32||.
PRECISION_METRIC = "feature_relative_error"
# Largest relative error that passes the check. bfloat16 keeps 8 bits of mantissa (a rounding error of
# about 0.2% per operation), and the error grows through the layers. We estimate that a healthy bfloat16
# run of a deep model stays within a few percent; the demo model stays within 0.03. A limit of 0.1 marks
# vectors that are a tenth off, which is enough to change what a probe reads.
FEATURE_TOLERANCE = 0.1
NNSIGHT_SEMANTICS = (
    " Backend nnsight: the same points read from the Hugging Face model by the script's trace function "
    "(resid_pre: the input of block L, or the output of the last block for L = n_layers; resid_post: the output "
    "of block L; attn_out: the attention module's output; mlp_out: the MLP's output; resid_mid: block L's input "
    "plus its attention output), each vector centred over d_model as TransformerLens's centred weights give it. "
    "Texts run in left-padded batches with the attention mask and position ids counted from each text's first "
    "real token. There is no activation cache on this backend: every run does its forward passes."
)
# Noise draws averaged for random_baseline (the selectivity of the probe on random features).
NOISE_DRAWS = 5


@dataclass
class ProbingConfig:
    """Settings of one probing probe; relative paths are resolved against the project root.

    `layers` None means every layer of the hook: 0..n_layers for resid_pre (n_layers is
    the final residual stream), 0..n_layers - 1 for the other hooks. `n_examples` is per
    seed. `regularization_c` is scikit-learn's C, the inverse L2 penalty strength.
    `alternative_explanations` are added to the ones written from this run's numbers.
    """

    probe_id: str
    model_id: str
    labels_path: str
    layers: list[int] | None = None
    hook: str = "resid_post"
    position: str = "last"
    folds: int = 5
    n_examples: int = 64
    seeds: tuple[int, ...] | list[int] = (0, 1, 2)
    dtype: str = "float32"
    device: str | None = None
    hypothesis: str = ""
    alternative_explanations: tuple[str, ...] | list[str] = ()
    regularization_c: float = 1.0
    max_iter: int = 2000
    batch_size: int = 32
    results_dir: str = "results/probe"
    cache_dir: str = "cache/activations"
    events_path: str = "cache/events.jsonl"
    script_path: str | None = None
    # Python code shipped with the model runs only when this is True (probe setup --trust-remote-code).
    trust_remote_code: bool = False
    # "transformer_lens" or "nnsight"; the nnsight settings below apply to nnsight only.
    backend: str = "transformer_lens"
    # False runs here, True on NDIF, "local" serialises each request as for NDIF and runs it here.
    remote: bool | str = False
    device_map: str | None = None
    recheck_float32: int = 0
    module_paths: dict[str, str] | None = None


# ---------------------------------------------------------------------------------------
# Settings checks


def nnsight_roles(hook: str) -> tuple[str, ...]:
    """Return the module roles the nnsight trace function reads for `hook` (see nnsight_backend.ROLES).

    Every hook reads the blocks. resid_mid and attn_out also read the attention module,
    and mlp_out reads the MLP.
    """
    if hook in ("resid_mid", "attn_out"):
        return ("blocks", "attn")
    if hook == "mlp_out":
        return ("blocks", "mlp")
    return ("blocks",)


def check_hook_and_position(hook: str, position: str, encoder: bool = False) -> None:
    """Raise ValueError naming the hook or position when it is unknown, or missing from an encoder."""
    if position not in POSITIONS:
        raise ValueError(f"position {position!r} is unknown: choose from {', '.join(POSITIONS)}")
    if hook not in HOOKS:
        raise ValueError(f"hook {hook!r} is unknown: choose from {', '.join(HOOKS)}")
    if encoder and hook not in ENCODER_HOOKS:
        raise ValueError(
            f"hook {hook!r} is not available for an encoder model: its hidden states give the residual stream "
            f"between blocks only, so use {' or '.join(ENCODER_HOOKS)}"
        )


def max_layer(hook: str, n_layers: int) -> int:
    """Return the largest layer index of `hook`: n_layers for resid_pre (the final stream), else n_layers - 1."""
    return n_layers if hook == "resid_pre" else n_layers - 1


def resolve_layers(n_layers: int, hook: str, layers: Sequence[int] | None) -> list[int]:
    """Return the chosen layers (all of them for None), raising ValueError for an index out of range or a duplicate."""
    top = max_layer(hook, n_layers)
    if layers is None:
        return list(range(top + 1))
    chosen = [int(layer) for layer in layers]
    if not chosen:
        raise ValueError(f"layers is empty: give layer indices in 0..{top}, or None for all")
    bad = [layer for layer in chosen if not 0 <= layer <= top]
    if bad:
        extra = " (n_layers is the final residual stream)" if hook == "resid_pre" else ""
        raise ValueError(
            f"layer index {bad[0]} is out of range for hook {hook!r}: this {n_layers}-layer model has layers "
            f"0..{top}{extra} (layers given: {chosen})"
        )
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"layers contains duplicates: {chosen}")
    return chosen


def _validate_config(config: ProbingConfig) -> None:
    check_run_settings(config.probe_id, config.n_examples, config.seeds, batch_size=config.batch_size)
    check_hook_and_position(config.hook, config.position)
    if int(config.folds) != config.folds or config.folds < 2:
        raise ValueError(f"folds must be an integer of at least 2 for held-out accuracy, got {config.folds!r}")
    if not config.regularization_c > 0:
        raise ValueError(f"regularization_c must be positive, got {config.regularization_c}")
    if config.max_iter < 1:
        raise ValueError(f"max_iter must be at least 1, got {config.max_iter}")
    if any(not str(text).strip() for text in config.alternative_explanations):
        raise ValueError("alternative_explanations contains an empty string")


# ---------------------------------------------------------------------------------------
# Tokens and token positions


@dataclass(frozen=True)
class ProbeInputs:
    """Token ids of the texts as the model reads them, and where each text's own tokens are.

    `spans[i]` is (start, stop): the text's tokens are token_ids[i][start:stop], so a
    prepended BOS or [CLS] lies before `start` and an appended [SEP] at or after `stop`.
    """

    token_ids: list[list[int]]
    spans: list[tuple[int, int]]

    def positions(self, position: str) -> list[list[int]]:
        """Return, per text, the token indices that `position` reads (one index, or every text token for "mean")."""
        if position == "first":
            return [[0] for _ in self.token_ids]
        if position == "last":
            return [[stop - 1] for _, stop in self.spans]
        if position == "mean":
            return [list(range(start, stop)) for start, stop in self.spans]
        raise ValueError(f"position {position!r} is unknown: choose from {', '.join(POSITIONS)}")


def _check_lengths(inputs: ProbeInputs, examples: Sequence[LabeledText] | None, n_ctx: int | None) -> None:
    for index, (ids, (start, stop)) in enumerate(zip(inputs.token_ids, inputs.spans)):
        where = f"line {examples[index].line_number}" if examples is not None else f"text {index}"
        if stop <= start:
            raise ValueError(f"{where}: the text tokenizes to no tokens of its own")
        if n_ctx is not None and len(ids) > n_ctx:
            raise ValueError(f"{where}: {len(ids)} tokens, more than the model's context of {n_ctx}")


def hooked_inputs(model: Any, texts: Sequence[str], examples: Sequence[LabeledText] | None = None) -> ProbeInputs:
    """Tokenize texts for a TransformerLens model with `models.tokenize_prompt` (BOS once when the model expects it)."""
    token_ids = [tokenize_prompt(model, text) for text in texts]
    start = 1 if prepends_bos(model) else 0
    inputs = ProbeInputs(token_ids, [(start, len(ids)) for ids in token_ids])
    _check_lengths(inputs, examples, model.cfg.n_ctx)
    return inputs


def encoder_inputs(encoder: EncoderModel, texts: Sequence[str], examples: Sequence[LabeledText] | None = None) -> ProbeInputs:
    """Tokenize texts with the encoder's own special tokens ([CLS] ... [SEP]) and find each text's own tokens."""
    token_ids: list[list[int]] = []
    spans: list[tuple[int, int]] = []
    for text in texts:
        encoded = encoder.tokenizer(text, add_special_tokens=True, return_special_tokens_mask=True)
        ids = [int(token) for token in encoded["input_ids"]]
        own = [index for index, special in enumerate(encoded["special_tokens_mask"]) if not special]
        token_ids.append(ids)
        spans.append((own[0], own[-1] + 1) if own else (0, 0))
    inputs = ProbeInputs(token_ids, spans)
    _check_lengths(inputs, examples, encoder.cfg.n_ctx)
    return inputs


def _pool(activation: torch.Tensor, rows: Sequence[list[int]]) -> np.ndarray:
    """Return float64 [batch, d]: each row's mean over its positions in a [batch, pos, d] activation."""
    out = np.empty((activation.shape[0], activation.shape[-1]), dtype=np.float64)
    for row, indices in enumerate(rows):
        out[row] = activation[row, indices].double().mean(dim=0).cpu().numpy()
    return out


# ---------------------------------------------------------------------------------------
# Features: one vector per text and layer


def hooked_features(
    model: Any,
    inputs: ProbeInputs,
    layers: Sequence[int],
    hook: str,
    position: str,
    *,
    cache: CacheSettings | None = None,
    batch_size: int = 32,
) -> dict[int, np.ndarray]:
    """Return {layer: float64 [n_texts, d_model]} read at `hook` and `position` from a TransformerLens model.

    With `cache`, the activations come from the activation cache, one entry for all
    texts. A rerun reads that entry and runs no forward pass, and each lookup writes a
    `cache.hit` or `cache.miss` event. Without `cache`, the texts run here in
    left-padded batches with an attention mask (`cache.left_padded_tokens`).
    """
    check_hook_and_position(hook, position)
    check_hookable(model, hook, layers)
    names = {layer: hook_name(hook, layer, model.cfg.n_layers) for layer in layers}
    rows = inputs.positions(position)
    features = {layer: np.empty((len(rows), model.cfg.d_model)) for layer in layers}
    if cache is not None:
        entry = ensure_cached(
            model,
            inputs.token_ids,
            list(layers),
            hook,
            cache.cache_dir,
            batch_size=batch_size,
            model_id=cache.model_id,
            weights_sha256=cache.weights_sha256,
            event_log=cache.event_log,
        )
        for batch in entry.batches():
            chunk = rows[batch.first_prompt : batch.first_prompt + batch.n_prompts]
            for layer, tensor in batch.activations.items():
                features[layer][batch.first_prompt : batch.first_prompt + batch.n_prompts] = _pool(tensor, chunk)
        return features

    lookup = {name: layer for layer, name in names.items()}
    with torch.no_grad():
        for start in range(0, len(rows), batch_size):
            batch_ids = inputs.token_ids[start : start + batch_size]
            tokens, mask = left_padded_tokens(model, batch_ids)
            lengths = [len(ids) for ids in batch_ids]
            captured: dict[int, torch.Tensor] = {}

            def capture(activation: torch.Tensor, hook: Any) -> None:
                # Realigned so that each text starts at position 0, where `rows` indexes it.
                captured[lookup[hook.name]] = align_left_padded(activation.detach().to("cpu"), lengths, max(lengths), hook.name)

            model.run_with_hooks(tokens, attention_mask=mask, return_type=None, fwd_hooks=[(name, capture) for name in names.values()])
            for layer, tensor in captured.items():
                features[layer][start : start + len(batch_ids)] = _pool(tensor, rows[start : start + batch_size])
    return features


def encoder_features(
    encoder: EncoderModel, inputs: ProbeInputs, layers: Sequence[int], hook: str, position: str, *, batch_size: int = 32
) -> dict[int, np.ndarray]:
    """Return {layer: float64 [n_texts, d_model]} from an encoder's hidden states, right-padded with an attention mask."""
    check_hook_and_position(hook, position, encoder=True)
    offset = 0 if hook == "resid_pre" else 1
    rows = inputs.positions(position)
    features = {layer: np.empty((len(rows), encoder.cfg.d_model)) for layer in layers}
    pad_id = encoder.tokenizer.pad_token_id if encoder.tokenizer.pad_token_id is not None else 0
    device = encoder.cfg.device
    with torch.no_grad():
        for start in range(0, len(rows), batch_size):
            batch_ids = inputs.token_ids[start : start + batch_size]
            width = max(len(ids) for ids in batch_ids)
            tokens = torch.full((len(batch_ids), width), int(pad_id), dtype=torch.long)
            mask = torch.zeros((len(batch_ids), width), dtype=torch.long)
            for row, ids in enumerate(batch_ids):
                tokens[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
                mask[row, : len(ids)] = 1
            output = encoder.model(input_ids=tokens.to(device), attention_mask=mask.to(device), output_hidden_states=True)
            for layer in layers:
                features[layer][start : start + len(batch_ids)] = _pool(output.hidden_states[layer + offset], rows[start : start + batch_size])
    return features


def nnsight_features(
    lm: NnsightLM,
    inputs: ProbeInputs,
    layers: Sequence[int],
    hook: str,
    position: str,
    probe_features: ProbeFeaturesFunction,
    *,
    batch_size: int = 32,
    n_texts: int | None = None,
) -> dict[int, np.ndarray]:
    """Return {layer: float64 [n_texts, d_model]} from the nnsight script's trace function, in left-padded batches.

    `probe_features(lm, batch, layers, hook, position, n_prefix)` reads the hook, pools
    the position with the attention mask and centres each vector over d_model (the
    view TransformerLens gives with its centred weights). `n_prefix` is the number of
    special tokens before each text's own tokens (1 with a prepended BOS, else 0).
    There is no activation cache on this backend. `n_texts` limits the run to the
    first texts (the float32 recheck).
    """
    check_hook_and_position(hook, position)
    total = len(inputs.token_ids) if n_texts is None else min(n_texts, len(inputs.token_ids))
    starts = {start for start, _ in inputs.spans}
    if len(starts) != 1:
        raise ValueError("every text must have the same number of special tokens before its own tokens")
    n_prefix = starts.pop()
    features = {layer: np.empty((total, lm.cfg.d_model)) for layer in layers}
    for start in range(0, total, batch_size):
        rows = inputs.token_ids[start : min(start + batch_size, total)]
        batch = pad_batch(lm, rows)
        returned = probe_features(lm, batch, list(layers), hook, position, n_prefix)
        for layer in layers:
            value = returned[layer]
            if tuple(value.shape) != (len(rows), lm.cfg.d_model):
                raise ValueError(
                    f"the trace function returned features of shape {tuple(value.shape)} at layer {layer}; "
                    f"expected [batch={len(rows)}, d_model={lm.cfg.d_model}]"
                )
            features[layer][start : start + len(rows)] = value.detach().to("cpu").double().numpy()
    return features


# ---------------------------------------------------------------------------------------
# Probes and cross-validation


def make_probe(regularization_c: float = 1.0, max_iter: int = 2000, seed: int = 0) -> Any:
    """Return an unfitted Pipeline(StandardScaler, LogisticRegression with an L2 penalty)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline(
        [
            ("scale", StandardScaler()),
            ("logistic", LogisticRegression(C=regularization_c, max_iter=max_iter, random_state=seed)),
        ]
    )


def fold_splits(labels: np.ndarray, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return the (train, test) index arrays of seeded stratified k-fold cross-validation."""
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [(train, test) for train, test in splitter.split(np.zeros((len(labels), 1)), labels)]


def heldout_accuracies(
    features: np.ndarray,
    labels: np.ndarray,
    splits: Sequence[tuple[np.ndarray, np.ndarray]],
    regularization_c: float = 1.0,
    max_iter: int = 2000,
    seed: int = 0,
) -> np.ndarray:
    """Fit a fresh probe on each training fold and return its accuracy on the matching held-out fold."""
    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    scores = np.empty(len(splits))
    # One BLAS thread: these problems are small. On a shared two-core machine, two threads took
    # 0.11 s per fit of 160 x 384 features against 0.005 s for one.
    with threadpool_limits(limits=1), warnings.catch_warnings():
        # A training fold the probe separates perfectly can stop on max_iter with this warning; the
        # held-out score is still valid.
        warnings.simplefilter("ignore", ConvergenceWarning)
        for index, (train, test) in enumerate(splits):
            probe = make_probe(regularization_c, max_iter, seed)
            probe.fit(features[train], labels[train])
            scores[index] = float(np.mean(probe.predict(features[test]) == labels[test]))
    return scores


def majority_accuracies(labels: np.ndarray, splits: Sequence[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Return the accuracy on each held-out fold of always predicting the training fold's most frequent class."""
    scores = np.empty(len(splits))
    for index, (train, test) in enumerate(splits):
        values, counts = np.unique(labels[train], return_counts=True)
        scores[index] = float(np.mean(labels[test] == values[int(np.argmax(counts))]))
    return scores


@dataclass
class SeedDesign:
    """One seed's labels, permuted control labels and folds, shared by every layer."""

    seed: int
    labels: np.ndarray
    control: np.ndarray  # the control task: labels permuted among this seed's examples
    null: np.ndarray  # a second, independent permutation: the real labels' stand-in for the null selectivity
    splits: list[tuple[np.ndarray, np.ndarray]]
    control_splits: list[tuple[np.ndarray, np.ndarray]]
    null_splits: list[tuple[np.ndarray, np.ndarray]]


def seed_design(labels: np.ndarray, folds: int, seed: int) -> SeedDesign:
    """Draw the two label permutations of a seed and its stratified folds, all from `seed`."""
    rng = np.random.default_rng(seed)
    control = labels[rng.permutation(len(labels))]
    null = labels[rng.permutation(len(labels))]
    return SeedDesign(
        seed, labels, control, null, fold_splits(labels, folds, seed), fold_splits(control, folds, seed), fold_splits(null, folds, seed)
    )


@dataclass
class LayerScores:
    """Per (seed, fold) accuracies at one layer, each [n_seeds, folds]."""

    heldout: np.ndarray
    control: np.ndarray
    null: np.ndarray

    @property
    def selectivity(self) -> np.ndarray:
        return self.heldout - self.control

    @property
    def null_selectivity(self) -> np.ndarray:
        return self.null - self.control


def score_layer(
    features: np.ndarray, groups: Sequence[np.ndarray], designs: Sequence[SeedDesign], regularization_c: float, max_iter: int
) -> LayerScores:
    """Return the held-out, control and null accuracies of one layer's features, per seed and fold."""
    heldout, control, null = [], [], []
    for rows, design in zip(groups, designs):
        x = features[rows]
        heldout.append(heldout_accuracies(x, design.labels, design.splits, regularization_c, max_iter, design.seed))
        control.append(heldout_accuracies(x, design.control, design.control_splits, regularization_c, max_iter, design.seed))
        null.append(heldout_accuracies(x, design.null, design.null_splits, regularization_c, max_iter, design.seed))
    return LayerScores(np.array(heldout), np.array(control), np.array(null))


def corrected_t_interval(
    values: np.ndarray,
    test_train_ratio: float,
    confidence: float = CONFIDENCE,
    bounds: tuple[float, float] = (-math.inf, math.inf),
) -> tuple[float, float, float]:
    """Return (mean, lo, hi): the corrected resampled t interval of Nadeau & Bengio (2003).

    `values` are J cross-validation scores (all seeds and folds). The standard error is
    sqrt((1/J + test_train_ratio) * s^2) with the sample variance s^2, and the quantile
    is Student's t with J - 1 degrees of freedom. With zero variance the interval is the
    mean. The interval is cut to `bounds`, the range the score can take (accuracy 0..1,
    selectivity -1..1).
    """
    from scipy.stats import t as student_t

    array = np.asarray(values, dtype=np.float64).ravel()
    value = float(array.mean())
    if array.size < 2:
        return value, value, value
    half = float(student_t.ppf(0.5 + confidence / 2, array.size - 1)) * math.sqrt((1 / array.size + test_train_ratio) * float(array.var(ddof=1)))
    return value, max(value - half, bounds[0]), min(value + half, bounds[1])


def bag_of_tokens(inputs: ProbeInputs) -> np.ndarray:
    """Return count features: how often each token id occurs among each text's own tokens (special tokens excluded)."""
    vocabulary = sorted({token for ids, (start, stop) in zip(inputs.token_ids, inputs.spans) for token in ids[start:stop]})
    column = {token: index for index, token in enumerate(vocabulary)}
    counts = np.zeros((len(inputs.token_ids), len(vocabulary)))
    for row, (ids, (start, stop)) in enumerate(zip(inputs.token_ids, inputs.spans)):
        for token in ids[start:stop]:
            counts[row, column[token]] += 1
    return counts


def probed_token_one_hot(inputs: ProbeInputs, position: str) -> np.ndarray:
    """Return one-hot features of the token read at a single-token position ("first" or "last")."""
    tokens = [ids[indices[0]] for ids, indices in zip(inputs.token_ids, inputs.positions(position))]
    vocabulary = sorted(set(tokens))
    column = {token: index for index, token in enumerate(vocabulary)}
    one_hot = np.zeros((len(tokens), len(vocabulary)))
    for row, token in enumerate(tokens):
        one_hot[row, column[token]] = 1.0
    return one_hot


# ---------------------------------------------------------------------------------------
# The probe: files in, results file out


def run_probing(
    config: ProbingConfig, project_root: str | os.PathLike[str], probe_features: ProbeFeaturesFunction | None = None
) -> Path:
    """Run the probing probe, write results/probe/<probe_id>.json and its plot, and return the JSON path.

    The settings, the labels file, each seed's classes against the folds, the hook for
    the model kind and the layers are all checked before any forward pass. A failed
    check raises ValueError and writes no results file.

    Backend nnsight runs decoders only, because encoders run in Hugging Face directly.
    The model loads with `nnsight_backend.load_nnsight_lm`, and `probe_features`, the
    trace function of the generated script, reads one centred vector per text and
    layer from left-padded batches (`nnsight_features`).
    There is no activation cache on this backend. Examples, folds, probes, controls,
    baselines, intervals, the plot and the results file are the same code as for
    transformer_lens. With `recheck_float32` > 0 and a dtype other than float32, the
    first recheck_float32 texts of the first seed are read again in float32 and the
    results gain a `precision_check`.
    """
    _validate_config(config)
    check_backend_settings(config)
    if config.backend == "nnsight" and probe_features is None:
        raise ValueError("backend 'nnsight' needs the script's trace function: call run_probing(config, root, probe_features=...)")
    root = Path(project_root).resolve()
    return run_with_events(
        intervention="probing",
        probe_id=config.probe_id,
        events_path=resolve_in_project(config.events_path, root),
        script_path=config.script_path,
        body=lambda log, started: _run(config, root, log, started, probe_features),
        milestones=("model.loaded", "probing.activations", "probing.fit"),
    )


def _draw_examples(config: ProbingConfig, log: EventLog, root: Path) -> tuple[list[list[LabeledText]], int]:
    records = load_labeled_texts(resolve_in_project(config.labels_path, root), require_labels=True)
    check_classes_for_folds(records, config.folds, source=config.labels_path)
    draws = sample_per_seed(records, config.n_examples, config.seeds, config.labels_path)
    n_used = len(draws[0])
    if n_used < config.n_examples:
        warn_small_dataset(log, config.labels_path, len(records), config.n_examples, n_used, len(config.seeds))
    for seed, draw in zip(config.seeds, draws):
        check_classes_for_folds(draw, config.folds, source=f"{config.labels_path} (the {n_used} examples drawn for seed {seed})")
    return draws, n_used


def _run(config: ProbingConfig, root: Path, log: EventLog, started: float, probe_features: ProbeFeaturesFunction | None) -> Path:
    draws, n_used = _draw_examples(config, log, root)
    examples = [example for draw in draws for example in draw]
    groups, offset = [], 0
    for draw in draws:
        groups.append(np.arange(offset, offset + len(draw)))
        offset += len(draw)

    model_id = resolve_model_id(config.model_id, root)
    encoder = encoder_config(model_id) is not None
    nnsight = config.backend == "nnsight"
    if encoder and nnsight:
        raise ValueError(
            f"model {config.model_id!r} is an encoder, which runs in Hugging Face directly and not on the nnsight "
            "backend; set the probe up with --backend transformer_lens or auto"
        )
    check_hook_and_position(config.hook, config.position, encoder=encoder)
    load_started = time.perf_counter()
    if encoder:
        model: Any = load_encoder(model_id, config.dtype, config.device, trust_remote_code=config.trust_remote_code)
    elif nnsight:
        model = load_for_config(config, model_id, nnsight_roles(config.hook))
    else:
        model = load_hooked_model(model_id, dtype=config.dtype, device=config.device, trust_remote_code=config.trust_remote_code)
    load_ms = (time.perf_counter() - load_started) * 1000
    layers = resolve_layers(model.cfg.n_layers, config.hook, config.layers)
    texts = [example.text for example in examples]
    inputs = encoder_inputs(model, texts, examples) if encoder else hooked_inputs(model, texts, examples)
    if not encoder and not nnsight:
        check_hookable(model, config.hook, layers)
    if nnsight:
        fingerprint = nnsight_fingerprint(model, model_id)
    else:
        fingerprint = weights_fingerprint(model.model if encoder else model)
    log.emit(
        "model.loaded",
        duration_ms=load_ms,
        model_id=config.model_id,
        model_kind="encoder" if encoder else "hooked_transformer",
        backend=config.backend,
        n_layers=model.cfg.n_layers,
        weights_sha256=fingerprint,
    )

    classes = sorted({example.label for example in examples})
    index_of = {label: index for index, label in enumerate(classes)}
    labels = np.array([index_of[example.label] for example in examples])
    designs = [seed_design(labels[rows], config.folds, int(seed)) for rows, seed in zip(groups, config.seeds)]

    features_started = time.perf_counter()
    if encoder:
        features = encoder_features(model, inputs, layers, config.hook, config.position, batch_size=config.batch_size)
    elif nnsight:
        assert probe_features is not None
        features = nnsight_features(model, inputs, layers, config.hook, config.position, probe_features, batch_size=config.batch_size)
    else:
        cache = CacheSettings(resolve_in_project(config.cache_dir, root), log, config.model_id, fingerprint)
        features = hooked_features(model, inputs, layers, config.hook, config.position, cache=cache, batch_size=config.batch_size)
    log.emit(
        "probing.activations",
        duration_ms=(time.perf_counter() - features_started) * 1000,
        hook=config.hook,
        position=config.position,
        layers=layers,
        n_texts=len(texts),
        cached=not encoder and not nnsight,
    )

    fit_started = time.perf_counter()
    scores = [score_layer(features[layer], groups, designs, config.regularization_c, config.max_iter) for layer in layers]
    d_model = next(iter(features.values())).shape[1]
    random_scores = _random_feature_scores(groups, designs, d_model, config)
    baselines = _token_baselines(inputs, groups, designs, config)
    log.emit("probing.fit", duration_ms=(time.perf_counter() - fit_started) * 1000, n_layers=len(layers), folds=config.folds)

    ratio = 1.0 / (config.folds - 1)
    summary = {name: [] for name in ("selectivity", "heldout", "control", "null")}
    for layer_scores in scores:
        summary["selectivity"].append(corrected_t_interval(layer_scores.selectivity, ratio, bounds=DIFFERENCE_RANGE))
        summary["heldout"].append(corrected_t_interval(layer_scores.heldout, ratio, bounds=ACCURACY_RANGE))
        summary["control"].append(corrected_t_interval(layer_scores.control, ratio, bounds=ACCURACY_RANGE))
        summary["null"].append(corrected_t_interval(layer_scores.null_selectivity, ratio, bounds=DIFFERENCE_RANGE))
    selectivity = np.array([value for value, _, _ in summary["selectivity"]])
    best_row = int(np.argmax(selectivity))
    best_layer = layers[best_row]
    best = scores[best_row]
    values_per_seed = [float(value) for value in best.selectivity.mean(axis=1)]
    majority = float(np.mean([majority_accuracies(design.labels, design.splits) for design in designs]))
    random_value = float(random_scores.mean())
    effect_size = _effect_size(best.selectivity.ravel(), best.null_selectivity.ravel())

    def pairs(name: str) -> tuple[list[float], list[list[float]]]:
        return [value for value, _, _ in summary[name]], [[lo, hi] for _, lo, hi in summary[name]]

    values, intervals = pairs("selectivity")
    counts = class_counts(examples)
    position_detail = _position_detail(config.position, encoder, bool(not encoder and prepends_bos(model)))
    explanations = _alternative_explanations(config, layers, best_row, summary, baselines, majority, n_used)
    explanations = list(dict.fromkeys(explanations + [str(text).strip() for text in config.alternative_explanations]))

    secondary = {}
    for name, key in (("heldout_accuracy", "heldout"), ("control_accuracy", "control"), ("null_selectivity", "null")):
        secondary_values, secondary_intervals = pairs(key)
        secondary[name] = {"values_per_layer": secondary_values, "ci_per_layer": secondary_intervals}
    components = [
        {"name": f"L{layer} {config.hook} selectivity", "value": value, "ci_95": interval}
        for layer, value, interval in zip(layers, values, intervals)
    ]
    plot_path = _plot(root, config, layers, summary, majority, baselines["bag_of_tokens"]["mean"])
    _, best_lo, best_hi = summary["selectivity"][best_row]
    results = {
        "schema_version": SCHEMA_VERSION,
        "probe_id": config.probe_id,
        "intervention": "probing",
        "model_id": config.model_id,
        "status": decide_status(n_used, config.seeds),
        "hypothesis": config.hypothesis,
        "n_examples": n_used,
        "seeds": [int(seed) for seed in config.seeds],
        "layers": layers,
        "metric": PRIMARY_METRIC,
        "primary_metric": PRIMARY_METRIC,
        "values_per_layer": values,
        "ci_per_layer": intervals,
        "values_per_seed": values_per_seed,
        "mean": float(selectivity[best_row]),
        "ci_95": [best_lo, best_hi],
        "best_layer": best_layer,
        "shuffled_control_mean": float(summary["null"][best_row][0]),
        "random_baseline": random_value,
        "noise_floor": noise_floor(values_per_seed),
        "effect_size": effect_size,
        "majority_class_baseline": majority,
        "token_baselines": baselines,
        "hook": config.hook,
        "position": config.position,
        "position_detail": position_detail,
        "folds": int(config.folds),
        "labels_path": config.labels_path,
        "classes": counts,
        "n_features": int(d_model),
        "model_kind": "encoder" if encoder else "hooked_transformer",
        "probe_classifier": (
            f"scikit-learn Pipeline(StandardScaler, LogisticRegression(C={config.regularization_c}, penalty L2, "
            f"lbfgs, max_iter={config.max_iter})), fitted on the training folds only"
        ),
        "layer_semantics": _layer_semantics(config.hook, encoder, model.cfg.n_layers)
        + (NNSIGHT_SEMANTICS if nnsight else "")
        + " "
        + position_detail,
        "secondary_metrics": secondary,
        "components": components,
        "ci_method": _ci_method(config, len(config.seeds), best_layer, len(examples)),
        "alternative_explanations_not_ruled_out": explanations,
        "artifacts": [plot_path.relative_to(root).as_posix()],
        "provenance": probe_provenance(config, root, log, model, fingerprint, started),
        "backend": config.backend,
    }
    if nnsight and needs_precision_check(config):
        assert probe_features is not None
        results["precision_check"] = _precision_check(config, model_id, inputs, groups[0], layers, features, probe_features, log)
    return write_json_atomic(resolve_in_project(config.results_dir, root) / f"{config.probe_id}.json", results)


def _precision_check(
    config: ProbingConfig,
    model_id: str,
    inputs: ProbeInputs,
    first_seed_rows: np.ndarray,
    layers: list[int],
    features: dict[int, np.ndarray],
    probe_features: ProbeFeaturesFunction,
    log: EventLog,
) -> dict[str, Any]:
    """Read the first recheck_float32 texts of the first seed again in float32 and compare their features.

    The per-example value is the relative error of each text's feature vector at each
    layer, ||x - x_float32|| / ||x_float32||, compared with 0 (the float32 run's own
    error): a vector norm, because residual streams of large models have outlier
    dimensions far larger than the rest, whose absolute errors would swamp a per-feature
    comparison.
    """
    started = time.perf_counter()
    n = min(config.recheck_float32, len(first_seed_rows))
    rows = [int(row) for row in first_seed_rows[:n]]
    sample = ProbeInputs([inputs.token_ids[row] for row in rows], [inputs.spans[row] for row in rows])
    reference_lm = load_for_config(config, model_id, nnsight_roles(config.hook), dtype="float32")
    reference = nnsight_features(reference_lm, sample, layers, config.hook, config.position, probe_features, batch_size=config.batch_size)
    del reference_lm
    errors = []
    for layer in layers:
        norms = np.linalg.norm(reference[layer], axis=1)
        # A vector of zeros has no relative error, so its absolute error is used.
        errors.append(np.linalg.norm(features[layer][rows] - reference[layer], axis=1) / np.where(norms > 0, norms, 1.0))
    run_values = np.stack(errors)
    reference_values = np.zeros_like(run_values)
    record = precision_check(
        run_values,
        reference_values,
        metric=PRECISION_METRIC,
        dtype=config.dtype,
        tolerance=FEATURE_TOLERANCE,
        n_examples=n,
    )
    log.emit(
        "precision.checked",
        duration_ms=(time.perf_counter() - started) * 1000,
        n_examples=record["n_examples"],
        max_abs_diff=record["max_abs_diff"],
        within_tolerance=record["within_tolerance"],
    )
    return record


def check_hookable(model: Any, hook: str, layers: Sequence[int]) -> None:
    """Raise ValueError when a TransformerLens model lacks `hook` at one of `layers` (resid_mid and mlp_out of attn-only models)."""
    for layer in layers:
        name = hook_name(hook, layer, model.cfg.n_layers)
        if name not in model.hook_dict:
            raise ValueError(f"hook {hook!r} does not exist in this model ({name} is missing); attn-only models have no resid_mid or mlp_out")


def _random_feature_scores(groups: Sequence[np.ndarray], designs: Sequence[SeedDesign], width: int, config: ProbingConfig) -> np.ndarray:
    """Return the selectivity of the same probe on standard-normal features of the hook's width, per seed and fold.

    Each value averages `NOISE_DRAWS` independent draws of the noise: one draw's selectivity
    has a spread of about 0.2 at 64 texts per seed, too wide for a baseline.
    """
    values = []
    for rows, design in zip(groups, designs):
        draws = []
        for draw in range(NOISE_DRAWS):
            noise = np.random.default_rng([design.seed, 1, draw]).standard_normal((len(rows), width))
            real = heldout_accuracies(noise, design.labels, design.splits, config.regularization_c, config.max_iter, design.seed)
            control = heldout_accuracies(noise, design.control, design.control_splits, config.regularization_c, config.max_iter, design.seed)
            draws.append(real - control)
        values.append(np.mean(draws, axis=0))
    return np.array(values)


def _token_baselines(inputs: ProbeInputs, groups: Sequence[np.ndarray], designs: Sequence[SeedDesign], config: ProbingConfig) -> dict[str, Any]:
    """Return the held-out accuracy of the same probe on surface features of the texts, without the model."""
    ratio = 1.0 / (config.folds - 1)
    feature_sets = {"bag_of_tokens": bag_of_tokens(inputs)}
    if config.position != "mean":
        feature_sets["probed_token"] = probed_token_one_hot(inputs, config.position)
    baselines = {}
    for name, features in feature_sets.items():
        accuracies = np.array(
            [
                heldout_accuracies(features[rows], design.labels, design.splits, config.regularization_c, config.max_iter, design.seed)
                for rows, design in zip(groups, designs)
            ]
        )
        value, lo, hi = corrected_t_interval(accuracies, ratio, bounds=ACCURACY_RANGE)
        baselines[name] = {"mean": value, "ci_95": [lo, hi]}
    return baselines


def _effect_size(real: np.ndarray, null: np.ndarray) -> float:
    try:
        return cohens_d(real, null)
    except ValueError:
        # Zero variance with different means: report the raw difference of means instead.
        return float(real.mean() - null.mean())


def _position_detail(position: str, encoder: bool, bos: bool) -> str:
    if position == "last":
        where = "the last token of the text (before [SEP])" if encoder else "the last token of the text"
        return f"Position \"last\": each text is read at {where}; padding is never read."
    if position == "first":
        if encoder:
            return "Position \"first\": each text is read at position 0, the [CLS] token, which attends to the whole text."
        if bos:
            return (
                "Position \"first\": each text is read at position 0, the BOS token; a causal model's BOS sees no text, "
                "so its activation is the same for every text and the probe can only reach the majority baseline."
            )
        return "Position \"first\": each text is read at position 0, its first token, which sees no later token."
    if encoder:
        excluded = "[CLS] and [SEP] excluded"
    elif bos:
        excluded = "the prepended BOS excluded"
    else:
        excluded = "no special tokens"
    return f"Position \"mean\": each text is the mean over its own tokens ({excluded}); padding is never read."


def _layer_semantics(hook: str, encoder: bool, n_layers: int) -> str:
    if encoder:
        if hook == "resid_pre":
            return (
                f"Encoder hidden states: layer L is hidden_states[L], the residual stream entering block L; L = 0 is the "
                f"embedding output and L = {n_layers} the output of the last block. The model normalises after each "
                "sublayer (post-LN), so each vector is layer-normalised."
            )
        return (
            "Encoder hidden states: layer L is hidden_states[L + 1], the residual stream leaving block L (post-LN, "
            "so layer-normalised)."
        )
    names = {
        "resid_pre": "the residual stream entering block L (blocks.L.hook_resid_pre); L = n_layers is the final residual stream (blocks.{n_layers-1}.hook_resid_post)",
        "resid_mid": "the residual stream between block L's attention and MLP (blocks.L.hook_resid_mid)",
        "resid_post": "the residual stream leaving block L (blocks.L.hook_resid_post)",
        "attn_out": "block L's attention output (blocks.L.hook_attn_out)",
        "mlp_out": "block L's MLP output (blocks.L.hook_mlp_out)",
    }
    return f"TransformerLens hook: layer L is {names[hook]}."


def _ci_method(config: ProbingConfig, n_seeds: int, best_layer: int, n_total: int) -> str:
    j = n_seeds * config.folds
    return (
        f"Probing classifier: {config.probe_id} reads hook {config.hook} at position {config.position!r}. Each of "
        f"{n_seeds} seed(s) draws its own examples ({n_total} in all, none shared between seeds) and runs stratified "
        f"{config.folds}-fold cross-validation (scikit-learn StratifiedKFold, shuffled with the seed). Held-out "
        "accuracy: a probe fitted on the training folds (StandardScaler and L2 logistic regression in one Pipeline) "
        "scored on the held-out fold; training accuracy is not used. Control task: the same procedure on the seed's "
        "labels permuted at random (numpy Generator seeded with the seed), which keeps the class balance and breaks "
        "the text-label link. selectivity = held-out accuracy - control accuracy per (seed, fold). Intervals: "
        f"corrected resampled t intervals (Nadeau & Bengio 2003) over the {j} seed x fold values, standard error "
        f"sqrt((1/{j} + 1/{config.folds - 1}) s^2), Student's t with {j - 1} degrees of freedom, cut to the range of the score; seeds use disjoint "
        "examples, so the correction is conservative across seeds. values_per_layer: mean selectivity per layer. "
        f"mean, ci_95 and values_per_seed: selectivity at layer {best_layer}, the layer with the largest mean "
        "selectivity; that layer is chosen on the same data, so mean is optimistic for it. noise_floor: sample "
        "standard deviation of values_per_seed. shuffled_control_mean: the null selectivity at that layer, the same "
        "procedure with the real labels replaced by a second independent permutation (so it should be near 0). "
        "effect_size: Cohen's d of the per (seed, fold) selectivity against that null selectivity at the same "
        "layer. random_baseline: mean selectivity of the same probe on standard-normal random features of the "
        f"hook's width, averaged over {NOISE_DRAWS} draws (a probe that can only fit noise). majority_class_baseline: "
        "accuracy of answering the training fold's most frequent class, which can fall below chance because the "
        "held-out fold then holds fewer texts of that class. token_baselines: held-out accuracy of the same probe on surface "
        "features without the model: counts of each token in the text (bag_of_tokens) and, for a single-token "
        "position, the identity of the probed token (probed_token). secondary_metrics give held-out accuracy, "
        "control accuracy and null selectivity per layer with the same intervals."
    )


def _alternative_explanations(
    config: ProbingConfig,
    layers: list[int],
    best_row: int,
    summary: dict[str, list[tuple[float, float, float]]],
    baselines: dict[str, Any],
    majority: float,
    n_used: int,
) -> list[str]:
    """Write the alternative explanations from this run's numbers."""
    layer = layers[best_row]
    selectivity, lo, hi = summary["selectivity"][best_row]
    accuracy = summary["heldout"][best_row][0]
    control = summary["control"][best_row][0]
    texts = [
        f"A linear probe reads the label from layer {layer} ({config.hook}) with held-out accuracy {accuracy:.2f} "
        f"against {control:.2f} on permuted labels (selectivity {selectivity:.2f}, 95% interval [{lo:.2f}, {hi:.2f}]). "
        "That shows the information is linearly decodable there, not that the model uses it: a causal test, such as "
        "ablating or patching along the probe direction, is needed for that (Belinkov 2022; Ravichander et al. 2021)."
    ]

    bag = baselines["bag_of_tokens"]["mean"]
    if bag >= accuracy - 0.05:
        texts.append(
            f"A probe on token counts alone, without the model, reaches {bag:.2f} held-out accuracy against the "
            f"model's {accuracy:.2f}: the label can be read from which tokens the text contains, so the probe may "
            "report a lexical cue that any layer carries rather than the property the hypothesis names."
        )
    else:
        gain = accuracy - majority
        share = min(max((bag - majority) / gain, 0.0), 1.0) if gain > 0 else 0.0
        texts.append(
            f"Token counts alone, without the model, reach {bag:.2f} held-out accuracy against the model's "
            f"{accuracy:.2f} (majority class {majority:.2f}), so about {share:.0%} of the probe's gain over the majority "
            "class is already available from which words occur; other surface features of these texts (their length, "
            "word order, where particular words stand) were not tested and may also correlate with the label."
        )

    if "probed_token" in baselines:
        token = baselines["probed_token"]["mean"]
        texts.append(
            f"The identity of the probed token alone gives {token:.2f} held-out accuracy (majority class "
            f"{majority:.2f}); where that is close to the probe's accuracy, the probe may be reading the token rather "
            "than the context built around it."
        )

    texts.append(
        f"The control permutes labels per example, so it measures chance ({control:.2f} at layer {layer}, majority "
        f"class {majority:.2f}), not how much a probe of this capacity could memorise; Hewitt & Liang's per-type "
        "control, or a probe on a randomly initialised model of the same shape, would give a stricter baseline, and a "
        "more expressive probe (an MLP) could find information a linear one misses."
    )

    if lo <= 0.0:
        texts.append(
            f"Even the best layer's interval [{lo:.2f}, {hi:.2f}] includes 0, so these {n_used} examples "
            "per seed do not show that any layer encodes the label; more examples may."
        )
    elif len(layers) > 1:
        texts.append(
            f"Layer {layer} is the best of {len(layers)} layers on the same data, so its selectivity is optimistic; "
            "differences between layers can also come from how spread out each layer's vectors are (anisotropy, "
            "outlier dimensions), which standardisation reduces but does not remove."
        )
    return texts


def _plot(
    root: Path, config: ProbingConfig, layers: list[int], summary: dict[str, list[tuple[float, float, float]]], majority: float, bag: float
) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (accuracy_axis, selectivity_axis) = plt.subplots(1, 2, figsize=(11, 4))
    x = np.arange(len(layers))
    for axis, entries in (
        (accuracy_axis, (("heldout", "held-out accuracy", "tab:blue"), ("control", "control (permuted labels)", "tab:orange"))),
        (selectivity_axis, (("selectivity", "selectivity", "tab:green"), ("null", "null selectivity (second permutation)", "tab:gray"))),
    ):
        for key, label, color in entries:
            values = np.array([value for value, _, _ in summary[key]])
            lows = np.array([lo for _, lo, _ in summary[key]])
            highs = np.array([hi for _, _, hi in summary[key]])
            axis.plot(x, values, marker="o", color=color, label=label)
            axis.fill_between(x, lows, highs, color=color, alpha=0.2)
        axis.set_xticks(x, [str(layer) for layer in layers])
        axis.set_xlabel(f"layer ({config.hook})")
    accuracy_axis.axhline(majority, color="black", linestyle="--", linewidth=1, label="majority class")
    accuracy_axis.axhline(bag, color="tab:purple", linestyle=":", linewidth=1.5, label="token counts, no model")
    accuracy_axis.set_ylabel("accuracy on held-out folds")
    accuracy_axis.set_ylim(0, 1.05)
    selectivity_axis.axhline(0.0, color="black", linewidth=0.8)
    selectivity_axis.set_ylabel("held-out - control accuracy")
    accuracy_axis.legend(fontsize=8)
    selectivity_axis.legend(fontsize=8)
    read_at = {"last": "last token", "first": "first token", "mean": "mean over the text's tokens"}[config.position]
    figure.suptitle(f"Probing ({read_at}, 95% corrected t intervals): {config.probe_id}")
    figure.tight_layout()
    return save_figure_atomic(figure, resolve_in_project(config.results_dir, root) / f"{config.probe_id}.png")
