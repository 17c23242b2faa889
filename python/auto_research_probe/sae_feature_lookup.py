"""SAE feature lookup: which sparse features fire at one hook point, and on what.

Activations. Every text of the labels file that a seed draws is run through the model.
The probe reads one hook point of one block, `blocks.L.hook_<hook>` with hook one of
resid_post, resid_pre, resid_mid, attn_out and mlp_out, through the activation cache,
so a rerun does no forward pass. Texts run in left-padded batches with an attention
mask, so each text's activations are those of a run on its own. Every real token is
used and no padding position is. The BOS token, when the model prepends one, is left
out, because its activation is the same vector for every text (causal attention lets
position 0 see only itself).

The SAE. With `sae_path`, a folder in sae-lens's on-disk format (`cfg.json` and
`sae_weights.safetensors`) is loaded with sae-lens's `SAE.load_from_disk`, which reads
the weights with safetensors; nothing is unpickled. Its input width `d_in` and, when
the config records one, its hook name are checked against the model's hook before
any activation is computed. Without `sae_path`, a small SAE is trained here with plain
PyTorch and saved in the same format under `results/probe/<probe_id>_sae/`, then
read back with sae-lens, so the analysed SAE is exactly the saved one.

Training (the defaults of `SaeFeatureLookupConfig`):
- architecture: ReLU SAE, f = ReLU((x - b_dec) W_enc + b_enc), x_hat = f W_dec + b_dec
  (sae-lens's "standard" architecture);
- width: `sae_width`, or 4 x d_model when None;
- input scaling: activations are multiplied by c = sqrt(d_in / E||x - mean(x)||^2), so
  the centred squared norm is d_in on average and one L1 coefficient suits any hook;
  c is folded into the saved weights (W_enc * c, W_dec / c, b_dec / c), so the saved
  SAE takes raw activations and gives the same feature activations;
- loss: mean over tokens of ||x - x_hat||^2 (summed over dimensions) plus
  `l1_coefficient` (1.0) times the mean L1 norm of f, with the rows of W_dec
  renormalised to unit norm after every step (so the penalty equals the L1 norm of the
  feature activations scaled by decoder norms);
- initialisation: W_dec rows random unit vectors, W_enc = W_dec transposed, b_enc = 0,
  b_dec = the mean of the scaled training activations;
- optimiser: Adam, learning rate 3e-3, 2000 steps of 256 tokens drawn with
  replacement. All random draws come from a torch Generator seeded with
  `sae_train_seed` (0). Dead features are not resampled, so the dead fraction is
  reported as training left it.
The last `holdout_fraction` (0.2) of each seed's texts is held out of training: whole
texts, so no text has tokens on both sides. Reconstruction is measured on those
held-out tokens (on every token for a loaded SAE, which never saw these texts).

Reconstruction quality:
- explained variance 1 - sum ||x - x_hat||^2 / sum ||x - mean(x)||^2 over the
  evaluation tokens (mean over the same tokens);
- mean L0: the mean number of features with f > 0 per evaluation token;
- dead fraction: the share of features with f > 0 on none of the analysed tokens;
- spliced loss: the mean next-token cross-entropy on the evaluation texts, clean, with
  the hook's activation replaced by the SAE's reconstruction at every non-BOS position,
  and with it replaced by zeros; loss recovered = (zero - spliced) / (zero - clean).
Feature density is the share of analysed tokens on which a feature is active.

Associations. A text's score for a feature is its activation at the text's last
token (`text_position` "last"). The other choices are "max" and "mean" over the text's
tokens. For a label, texts with that label are the positives and labelled texts
without it the negatives; each feature gets the AUROC of its scores (Mann-Whitney,
ties count one half; 0.5 is chance, 1 means every positive text scores higher), the
difference of means and the point-biserial correlation. The features are ranked by
AUROC. For a target token, the units are token positions, the positives the positions
whose token is the target. With no target_label, every label value of the file is a
target (with two values, only the second in sorted order, the positive class); with
no labels, only the token association and each feature's top tokens are reported.

Statistics and controls. Each seed draws its own texts (`datasets.sample_per_seed`);
one SAE is trained on the training texts of all seeds and the top feature is chosen
over all texts, as activation patching chooses its top head. `values_per_seed` is
that feature's AUROC on each seed's texts alone, and `noise_floor` their sample
standard deviation. Intervals are percentile bootstraps that resample texts (for
token positions too, so positions of one text stay together), `n_bootstrap`
resamples, numpy seed `bootstrap_seed`. The permuted-label control repeats the whole
selection with the labels (or the target-token indicator) permuted within each seed,
`n_permutations` times: `shuffled_control_mean` is the mean AUROC of the best feature
under permutation, which is what choosing the best of d_sae features gives by chance.
`effect_size` is Cohen's d of the top feature's score, positives against negatives.
The primary metric is the top feature's AUROC for the first label target, else for
the target token. With neither, it is the explained variance, and its control the
explained variance after shuffling feature activations across tokens.

NOTE: the feature activations of every analysed token are held in memory
(n_tokens x d_sae floats) and ranked per feature; that suits the texts of a probe
(thousands of tokens), not a training corpus. Tested on CPU only.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .cache import cache_activations, hook_name, left_padded_tokens
from .datasets import position_ids_from_mask, sample_per_seed, warn_small_dataset
from .events import EventLog
from .labels import LabeledText, class_counts, load_labeled_texts
from .models import load_hooked_model, prepends_bos, resolve_model_id, tokenize_prompt, weights_fingerprint
from .probe_run import check_run_settings, probe_provenance, resolve_in_project, run_with_events, save_figure_atomic
from .results import SCHEMA_VERSION, decide_status, write_bytes_atomic, write_json_atomic
from .stats import bootstrap_ratio_ci, cohens_d, noise_floor

HOOKS = ("resid_post", "resid_pre", "resid_mid", "attn_out", "mlp_out")
TEXT_POSITIONS = ("last", "max", "mean")
SAE_CFG_FILENAME = "cfg.json"
SAE_WEIGHTS_FILENAME = "sae_weights.safetensors"
DEFAULT_WIDTH_MULTIPLIER = 4
POOR_EXPLAINED_VARIANCE = 0.8

LABEL_METRIC = "top_feature_label_auroc"
TOKEN_METRIC = "top_feature_token_auroc"
VARIANCE_METRIC = "explained_variance"


@dataclass
class SaeFeatureLookupConfig:
    """Settings of one SAE feature lookup probe; relative paths are resolved against the project root.

    `labels_path` is a JSONL file of `{"text": ..., "label": ...}` lines, labels optional.
    `sae_path` is a folder in sae-lens's format, or None to train an SAE of `sae_width`
    features (None: 4 x d_model). `target_label` and `target_token` name what to look
    up; see the module docstring for what happens when they are None.
    """

    probe_id: str
    model_id: str
    labels_path: str
    layer: int = 0
    hook: str = "resid_post"
    sae_path: str | None = None
    sae_width: int | None = None
    target_label: str | int | bool | None = None
    target_token: str | None = None
    top_k: int = 10
    n_examples: int = 64
    seeds: tuple[int, ...] | list[int] = (0, 1, 2)
    dtype: str = "float32"
    device: str | None = None
    hypothesis: str = ""
    alternative_explanations: tuple[str, ...] | list[str] = ()
    text_position: str = "last"
    n_features_reported: int = 16
    n_associated_features: int = 10
    context_tokens: int = 8
    holdout_fraction: float = 0.2
    l1_coefficient: float = 1.0
    train_steps: int = 2000
    train_batch_size: int = 256
    learning_rate: float = 3e-3
    sae_train_seed: int = 0
    batch_size: int = 32
    n_bootstrap: int = 10_000
    n_permutations: int = 1000
    results_dir: str = "results/probe"
    cache_dir: str = "cache/activations"
    events_path: str = "cache/events.jsonl"
    script_path: str | None = None
    bootstrap_seed: int = 0
    # Python code shipped with the model runs only when this is True (probe setup --trust-remote-code).
    trust_remote_code: bool = False


# ---------------------------------------------------------------------------------------
# Training and saving an SAE (no model, no files except save_sae)


@dataclass
class TrainedSae:
    """A ReLU SAE in raw activation space: f = ReLU((x - b_dec) W_enc + b_enc), x_hat = f W_dec + b_dec.

    `input_scale` is the factor c the training inputs were multiplied by; it is already
    folded into the weights. `training` contains the hyperparameters and final losses.
    """

    W_enc: torch.Tensor
    b_enc: torch.Tensor
    W_dec: torch.Tensor
    b_dec: torch.Tensor
    input_scale: float
    training: dict[str, Any] = field(default_factory=dict)

    @property
    def d_in(self) -> int:
        return int(self.W_enc.shape[0])

    @property
    def d_sae(self) -> int:
        return int(self.W_enc.shape[1])

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.W_enc.dtype)
        return torch.relu((x - self.b_dec) @ self.W_enc + self.b_enc)

    def decode(self, features: torch.Tensor) -> torch.Tensor:
        return features @ self.W_dec + self.b_dec


def train_sae(
    activations: torch.Tensor,
    d_sae: int,
    *,
    l1_coefficient: float = 1.0,
    steps: int = 2000,
    batch_size: int = 256,
    learning_rate: float = 3e-3,
    seed: int = 0,
) -> TrainedSae:
    """Train a ReLU SAE on activations of shape [n_tokens, d_in] with the recipe of the module docstring."""
    if activations.ndim != 2 or activations.shape[0] < 2:
        raise ValueError(f"activations must have shape [n_tokens >= 2, d_in], got {tuple(activations.shape)}")
    if d_sae < 1:
        raise ValueError(f"the SAE width must be at least 1, got {d_sae}")
    if steps < 1 or batch_size < 1 or learning_rate <= 0 or l1_coefficient < 0:
        raise ValueError("steps and batch_size must be at least 1, learning_rate positive and l1_coefficient >= 0")
    x = activations.detach().to(torch.float32)
    n, d_in = x.shape
    device = x.device
    centred_power = float((x - x.mean(dim=0)).pow(2).sum(dim=-1).mean())
    if not math.isfinite(centred_power) or centred_power <= 0:
        raise ValueError("the activations do not vary (or are not finite), so there is nothing for an SAE to learn")
    scale = math.sqrt(d_in / centred_power)
    scaled = x * scale

    generator = torch.Generator().manual_seed(int(seed))
    decoder = torch.randn(d_sae, d_in, generator=generator).to(device)
    decoder /= decoder.norm(dim=1, keepdim=True)
    W_dec = decoder.clone().requires_grad_(True)
    W_enc = decoder.T.clone().contiguous().requires_grad_(True)
    b_enc = torch.zeros(d_sae, device=device, requires_grad=True)
    b_dec = scaled.mean(dim=0).clone().requires_grad_(True)
    optimiser = torch.optim.Adam([W_enc, b_enc, W_dec, b_dec], lr=learning_rate)

    started = time.perf_counter()
    with torch.enable_grad():
        for _ in range(steps):
            batch = scaled[torch.randint(0, n, (batch_size,), generator=generator).to(device)]
            features = torch.relu((batch - b_dec) @ W_enc + b_enc)
            reconstruction = features @ W_dec + b_dec
            mse = (reconstruction - batch).pow(2).sum(dim=-1).mean()
            l1 = features.sum(dim=-1).mean()
            loss = mse + l1_coefficient * l1
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            with torch.no_grad():
                W_dec /= W_dec.norm(dim=1, keepdim=True).clamp(min=1e-12)

    with torch.no_grad():
        features = torch.relu((scaled - b_dec) @ W_enc + b_enc)
        reconstruction = features @ W_dec + b_dec
        final_mse = float((reconstruction - scaled).pow(2).sum(dim=-1).mean())
        final_l1 = float(features.sum(dim=-1).mean())
        trained = TrainedSae(
            W_enc=(W_enc * scale).detach().clone(),
            b_enc=b_enc.detach().clone(),
            W_dec=(W_dec / scale).detach().clone(),
            b_dec=(b_dec / scale).detach().clone(),
            input_scale=scale,
        )
    trained.training = {
        "trainer": "auto_research_probe plain PyTorch ReLU SAE",
        "d_sae": d_sae,
        "l1_coefficient": l1_coefficient,
        "steps": steps,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "optimizer": "Adam",
        "seed": int(seed),
        "n_training_tokens": n,
        "input_scale": scale,
        "decoder_rows": "unit norm in the scaled space, renormalised after every step",
        "final_mse_scaled": final_mse,
        "final_l1_scaled": final_l1,
        "duration_s": round(time.perf_counter() - started, 3),
    }
    return trained


def _sae_lens_version() -> str:
    try:
        version = metadata.version("sae-lens")
    except metadata.PackageNotFoundError:
        version = "6.0.0"
    # sae-lens treats a config without a 6.x version as an older format and renames its keys.
    return version if version.split(".")[0].isdigit() and int(version.split(".")[0]) >= 6 else "6.0.0"


def save_sae(
    sae: TrainedSae,
    folder: str | os.PathLike[str],
    *,
    hook_name: str,
    model_name: str,
    prepend_bos: bool,
    context_size: int,
) -> tuple[Path, Path]:
    """Write `sae` as sae-lens's "standard" SAE: sae_weights.safetensors, then cfg.json, each atomically.

    The config is the one sae-lens 6 writes for a StandardSAE (`d_in`, `d_sae`, `dtype`,
    `device`, `apply_b_dec_to_input`, `normalize_activations`, `reshape_activations`,
    `architecture`, `metadata`), so `SAE.load_from_disk(folder)` reads it back. The config
    is written last: a folder with weights and no config is an unfinished write.
    Returns (weights path, config path).
    """
    from safetensors.torch import save as safetensors_bytes

    target = Path(folder)
    tensors = {
        "W_enc": sae.W_enc.detach().to("cpu", torch.float32).contiguous(),
        "b_enc": sae.b_enc.detach().to("cpu", torch.float32).contiguous(),
        "W_dec": sae.W_dec.detach().to("cpu", torch.float32).contiguous(),
        "b_dec": sae.b_dec.detach().to("cpu", torch.float32).contiguous(),
    }
    weights_path = write_bytes_atomic(target / SAE_WEIGHTS_FILENAME, safetensors_bytes(tensors))
    config = {
        "d_in": sae.d_in,
        "d_sae": sae.d_sae,
        "dtype": "float32",
        "device": "cpu",
        "apply_b_dec_to_input": True,
        "normalize_activations": "none",
        "reshape_activations": "none",
        "architecture": "standard",
        "metadata": {
            "sae_lens_version": _sae_lens_version(),
            "sae_lens_training_version": None,
            "model_name": model_name,
            "hook_name": hook_name,
            "hook_head_index": None,
            "prepend_bos": bool(prepend_bos),
            "context_size": int(context_size),
            "trained_by": "auto_research_probe.sae_feature_lookup",
            "training": sae.training,
        },
    }
    config_path = write_json_atomic(target / SAE_CFG_FILENAME, config)
    return weights_path, config_path


def read_sae_config(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check an SAE folder's cfg.json without loading weights; raise ValueError naming what is missing."""
    path = Path(folder)
    if not path.is_dir():
        raise ValueError(f"SAE folder not found: {path}; give a folder with {SAE_CFG_FILENAME} and {SAE_WEIGHTS_FILENAME} (sae-lens's format)")
    missing = [name for name in (SAE_CFG_FILENAME, SAE_WEIGHTS_FILENAME) if not (path / name).is_file()]
    if missing:
        raise ValueError(
            f"SAE folder {path} has no {' and no '.join(missing)}; sae-lens's on-disk format needs "
            f"{SAE_CFG_FILENAME} and {SAE_WEIGHTS_FILENAME}"
        )
    try:
        config = json.loads((path / SAE_CFG_FILENAME).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path / SAE_CFG_FILENAME} is not valid JSON: {error}") from error
    if not isinstance(config, dict):
        raise ValueError(f"{path / SAE_CFG_FILENAME} does not hold a JSON object")
    for key in ("d_in", "d_sae"):
        value = config.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{path / SAE_CFG_FILENAME}: {key} must be a positive integer, got {value!r}")
    return config


def sae_config_hook_name(config: dict[str, Any]) -> str | None:
    """Return the hook name an SAE config records (sae-lens 6 metadata, or the older top-level keys), or None."""
    meta = config.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("hook_name"), str):
        return meta["hook_name"]
    for key in ("hook_name", "hook_point"):
        if isinstance(config.get(key), str):
            return config[key]
    return None


def check_sae_matches_hook(config: dict[str, Any], folder: Path, expected_hook: str, hook_width: int) -> None:
    """Raise ValueError when the SAE's input width or recorded hook differs from the hook it is applied to."""
    if config["d_in"] != hook_width:
        raise ValueError(
            f"the SAE in {folder} takes inputs of width d_in={config['d_in']}, but the model's hook {expected_hook} "
            f"has width {hook_width}; use an SAE trained on this hook, or leave sae_path empty to train one"
        )
    if config.get("reshape_activations") == "hook_z":
        raise ValueError(f"the SAE in {folder} was trained on attention hook_z outputs, not on {expected_hook}")
    recorded = sae_config_hook_name(config)
    if recorded is not None and recorded != expected_hook:
        raise ValueError(
            f"the SAE in {folder} was trained on hook {recorded!r}, but this probe reads {expected_hook!r}; "
            "choose the matching layer and hook, or an SAE trained on this hook"
        )


def load_sae(folder: str | os.PathLike[str], device: str = "cpu") -> Any:
    """Load an SAE folder with sae-lens's `SAE.load_from_disk` (safetensors, no unpickling)."""
    read_sae_config(folder)
    from safetensors import SafetensorError
    from sae_lens import SAE

    try:
        sae = SAE.load_from_disk(str(folder), device=device)
    except (KeyError, TypeError, ValueError, RuntimeError, SafetensorError) as error:
        # RuntimeError: weights whose shapes do not match the config (torch's load_state_dict).
        raise ValueError(f"sae-lens cannot read the SAE in {folder}: {type(error).__name__}: {error}") from error
    sae.eval()
    sae.requires_grad_(False)
    return sae


def encode_in_chunks(sae: Any, activations: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
    """Return sae.encode(activations) as float32 on the CPU, computed `chunk` rows at a time."""
    parts = []
    device = next(sae.parameters()).device
    with torch.no_grad():
        for start in range(0, activations.shape[0], chunk):
            parts.append(sae.encode(activations[start : start + chunk].to(device)).float().cpu())
    return torch.cat(parts) if parts else torch.zeros(0, 0)


def decode_in_chunks(sae: Any, features: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
    """Return sae.decode(features) as float32 on the CPU, computed `chunk` rows at a time."""
    parts = []
    parameter = next(sae.parameters())
    with torch.no_grad():
        for start in range(0, features.shape[0], chunk):
            parts.append(sae.decode(features[start : start + chunk].to(parameter.device, parameter.dtype)).float().cpu())
    return torch.cat(parts)


# ---------------------------------------------------------------------------------------
# Metrics on arrays


def reconstruction_metrics(x: torch.Tensor, x_hat: torch.Tensor, features: torch.Tensor) -> dict[str, float]:
    """Compute the explained variance, MSE, mean L0 and dead fraction of one set of tokens.

    `x`, `x_hat`: [n_tokens, d_in]; `features`: [n_tokens, d_sae]. Explained variance is
    1 - sum ||x - x_hat||^2 / sum ||x - mean(x)||^2; mse is the mean over tokens of
    ||x - x_hat||^2; mean_l0 the mean count of features > 0 per token; dead_fraction
    the share of features that are > 0 on no token.
    """
    x = x.double()
    x_hat = x_hat.double()
    residual = (x - x_hat).pow(2).sum()
    total = (x - x.mean(dim=0)).pow(2).sum()
    if float(total) == 0.0:
        raise ValueError("the activations do not vary, so explained variance is undefined")
    active = features > 0
    return {
        "explained_variance": float(1.0 - residual / total),
        "mse": float(residual / x.shape[0]),
        "mean_l0": float(active.sum(dim=1).double().mean()),
        "dead_fraction": float((~active.any(dim=0)).double().mean()),
    }


def _average_ranks(values: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(values, axis=0)


def auroc_per_feature(scores: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """Return the AUROC of each column of `scores` [n, n_features] for telling positive rows from the others.

    The Mann-Whitney form with average ranks, so a tie between a positive and a negative
    counts one half; equal to scikit-learn's roc_auc_score column by column.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim == 1:
        scores = scores[:, None]
    positive = np.asarray(positive, dtype=bool)
    n_pos = int(positive.sum())
    n_neg = positive.size - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f"AUROC needs positives and negatives, got {n_pos} and {n_neg}")
    ranks = _average_ranks(scores)
    return (ranks[positive].sum(axis=0) - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def permutation_max_auroc(
    scores: np.ndarray, positive: np.ndarray, n_permutations: int, seed: int, groups: np.ndarray | None = None
) -> np.ndarray:
    """Return the best feature's AUROC under each of `n_permutations` random permutations of `positive`.

    Ranks do not change when labels move, so each permutation is one sum of rank rows.
    With `groups`, labels are permuted within each group (the seeds) only.
    """
    scores = np.asarray(scores, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    n_pos = int(positive.sum())
    n_neg = positive.size - n_pos
    ranks = _average_ranks(scores)
    rng = np.random.default_rng(seed)
    maxima = np.empty(n_permutations)
    group_ids = np.zeros(positive.size, dtype=np.int64) if groups is None else np.asarray(groups)
    members = [np.flatnonzero(group_ids == g) for g in np.unique(group_ids)]
    chunk = max(1, 2_000_000 // max(positive.size, 1))
    for start in range(0, n_permutations, chunk):
        stop = min(start + chunk, n_permutations)
        masks = np.zeros((stop - start, positive.size))
        for row in range(stop - start):
            for index in members:
                masks[row, index] = positive[index][rng.permutation(index.size)]
        rank_sums = masks @ ranks
        maxima[start:stop] = ((rank_sums - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)).max(axis=1)
    return maxima


def bootstrap_association(
    score: np.ndarray,
    positive: np.ndarray,
    cluster: np.ndarray,
    *,
    n_bootstrap: int,
    seed: int,
) -> dict[str, list[float]]:
    """Return percentile 95% intervals of one feature's AUROC and difference of means, resampling clusters.

    `score`, `positive` and `cluster` have one entry per unit (a text or a token
    position). The clusters (texts) are drawn with replacement, and each unit counts as
    often as its cluster was drawn. Resamples without positives or without negatives are
    dropped.
    The weighted AUROC of a resample is computed from the units sorted once by score:
    for each positive, the weight of negatives below its score plus half the weight of
    negatives tied with it.
    """
    score = np.asarray(score, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    order = np.argsort(score, kind="stable")
    values, is_positive = score[order], positive[order]
    cluster_ids, unit_cluster = np.unique(np.asarray(cluster)[order], return_inverse=True)
    tie_start = np.searchsorted(values, values, side="left")
    tie_end = np.searchsorted(values, values, side="right")
    n_clusters, n_units = cluster_ids.size, values.size
    rng = np.random.default_rng(seed)
    aurocs, differences = [], []
    chunk = max(1, 2_000_000 // max(n_units, n_clusters))
    for first in range(0, n_bootstrap, chunk):
        rows = min(chunk, n_bootstrap - first)
        draws = rng.integers(0, n_clusters, size=(rows, n_clusters)) + (np.arange(rows) * n_clusters)[:, None]
        counts = np.bincount(draws.ravel(), minlength=rows * n_clusters).reshape(rows, n_clusters)
        weights = counts[:, unit_cluster].astype(np.float64)
        positive_weights = weights * is_positive
        negative_weights = weights - positive_weights
        total_positive = positive_weights.sum(axis=1)
        total_negative = negative_weights.sum(axis=1)
        cumulative = np.concatenate([np.zeros((rows, 1)), np.cumsum(negative_weights, axis=1)], axis=1)
        below = cumulative[:, tie_start]
        tied = cumulative[:, tie_end] - below
        with np.errstate(divide="ignore", invalid="ignore"):
            auroc = (positive_weights * (below + 0.5 * tied)).sum(axis=1) / (total_positive * total_negative)
            difference = positive_weights @ values / total_positive - negative_weights @ values / total_negative
        valid = (total_positive > 0) & (total_negative > 0)
        aurocs.append(auroc[valid])
        differences.append(difference[valid])
    aurocs_all, differences_all = np.concatenate(aurocs), np.concatenate(differences)
    if aurocs_all.size < n_bootstrap / 2:
        raise ValueError("most bootstrap resamples lack positives or negatives; add examples of the rarer class")
    return {
        "auroc": [float(v) for v in np.quantile(aurocs_all, [0.025, 0.975])],
        "mean_difference": [float(v) for v in np.quantile(differences_all, [0.025, 0.975])],
    }


def _widen(interval: Sequence[float], value: float) -> list[float]:
    return [min(float(interval[0]), value), max(float(interval[1]), value)]


def _point_biserial(score: np.ndarray, positive: np.ndarray) -> float:
    if np.std(score) == 0 or positive.all() or not positive.any():
        return 0.0
    return float(np.corrcoef(score, positive.astype(np.float64))[0, 1])


def _effect_size(positives: np.ndarray, negatives: np.ndarray) -> float:
    if positives.size < 2 or negatives.size < 2:
        return float(positives.mean() - negatives.mean()) if positives.size and negatives.size else 0.0
    try:
        return cohens_d(positives, negatives)
    except ValueError:
        # Zero variance with different means: the raw difference of means instead.
        return float(positives.mean() - negatives.mean())


def association(
    scores: np.ndarray,
    positive: np.ndarray,
    cluster: np.ndarray,
    *,
    n_top: int,
    n_bootstrap: int,
    n_permutations: int,
    seed: int,
    groups: np.ndarray | None = None,
) -> dict[str, Any]:
    """Rank features by AUROC for `positive`, with intervals for the top `n_top` and a permutation control.

    `scores` [n_units, n_features]; `cluster` groups units for the bootstrap (texts);
    `groups` restricts the label permutation to within groups (seeds). Returns the AUROC
    of every feature (`auroc`), the top features with their statistics (`top`), and the
    permutation null of the best feature's AUROC (`null_max_auroc`, one per permutation).
    """
    scores = np.asarray(scores, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    aurocs = auroc_per_feature(scores, positive)
    pos_means = scores[positive].mean(axis=0)
    neg_means = scores[~positive].mean(axis=0)
    # Ties in AUROC are broken by the larger difference of means, then the lower index.
    order = np.lexsort((np.arange(aurocs.size), -(pos_means - neg_means), -aurocs))
    top = []
    for rank, feature in enumerate(order[:n_top]):
        feature = int(feature)
        column = scores[:, feature]
        intervals = bootstrap_association(column, positive, cluster, n_bootstrap=n_bootstrap, seed=seed + rank)
        difference = float(pos_means[feature] - neg_means[feature])
        top.append(
            {
                "feature": feature,
                "auroc": float(aurocs[feature]),
                "auroc_ci_95": _widen(intervals["auroc"], float(aurocs[feature])),
                "mean_positive": float(pos_means[feature]),
                "mean_negative": float(neg_means[feature]),
                "mean_difference": difference,
                "mean_difference_ci_95": _widen(intervals["mean_difference"], difference),
                "point_biserial_r": _point_biserial(column, positive),
                "cohens_d": _effect_size(column[positive], column[~positive]),
            }
        )
    null = permutation_max_auroc(scores, positive, n_permutations, seed, groups) if n_permutations > 0 else np.zeros(0)
    return {"auroc": aurocs, "top": top, "null_max_auroc": null}


# ---------------------------------------------------------------------------------------
# The probe


@dataclass
class _Tokens:
    """The analysed token positions of all texts, flattened in text order."""

    ids: list[list[int]]
    start: int
    text_of: np.ndarray
    position_of: np.ndarray
    token_of: np.ndarray
    offsets: np.ndarray  # Rows offsets[t] to offsets[t + 1] - 1 are the positions of text t.


def _validate_config(config: SaeFeatureLookupConfig) -> None:
    check_run_settings(config.probe_id, config.n_examples, config.seeds, batch_size=config.batch_size, n_bootstrap=config.n_bootstrap)
    if config.hook not in HOOKS:
        raise ValueError(f"unknown hook {config.hook!r}: choose one of {', '.join(HOOKS)}")
    if isinstance(config.layer, bool) or not isinstance(config.layer, (int, np.integer)) or config.layer < 0:
        raise ValueError(f"layer must be one block index >= 0, got {config.layer!r}")
    if config.text_position not in TEXT_POSITIONS:
        raise ValueError(f"unknown text_position {config.text_position!r}: choose one of {', '.join(TEXT_POSITIONS)}")
    if config.sae_width is not None and (isinstance(config.sae_width, bool) or int(config.sae_width) < 1):
        raise ValueError(f"sae_width must be a positive integer or None, got {config.sae_width!r}")
    for name in ("top_k", "n_features_reported", "n_associated_features", "train_steps", "train_batch_size"):
        if int(getattr(config, name)) < 1:
            raise ValueError(f"{name} must be at least 1, got {getattr(config, name)}")
    if config.context_tokens < 0 or config.n_permutations < 0:
        raise ValueError("context_tokens and n_permutations must be >= 0")
    if not 0.0 < config.holdout_fraction < 1.0:
        raise ValueError(f"holdout_fraction must be strictly between 0 and 1, got {config.holdout_fraction}")
    if config.target_token is not None and (not isinstance(config.target_token, str) or config.target_token == ""):
        raise ValueError(f"target_token must be a non-empty string or None, got {config.target_token!r}")


def run_sae_feature_lookup(config: SaeFeatureLookupConfig, project_root: str | os.PathLike[str]) -> Path:
    """Run the SAE feature lookup probe, write results/probe/<probe_id>.json and its plot, and return the JSON path.

    Without `sae_path` the trained SAE is also written to results/probe/<probe_id>_sae/.
    Invalid input raises ValueError before the activations are computed.
    """
    _validate_config(config)
    root = Path(project_root).resolve()
    return run_with_events(
        intervention="sae_feature_lookup",
        probe_id=config.probe_id,
        events_path=resolve_in_project(config.events_path, root),
        script_path=config.script_path,
        body=lambda log, started: _run(config, root, log, started),
        milestones=("model.loaded", "sae.activations", "sae.trained", "sae.spliced_loss"),
    )


def _label_targets(config: SaeFeatureLookupConfig, pool: Sequence[LabeledText]) -> list[str]:
    counts = class_counts(pool)
    if config.target_label is not None:
        # Labels are read as strings, and a JSON true as "true" (labels.py).
        target = str(config.target_label).lower() if isinstance(config.target_label, bool) else str(config.target_label)
        if target not in counts:
            found = ", ".join(repr(label) for label in counts) or "none"
            raise ValueError(f"target_label {target!r} is not a label in {config.labels_path} (labels found: {found})")
        if len(counts) < 2:
            raise ValueError(
                f"every labelled text in {config.labels_path} has label {target!r}; an association needs texts without it too"
            )
        return [target]
    if len(counts) < 2:
        return []
    labels = list(counts)
    return [labels[1]] if len(labels) == 2 else labels


def _check_seed_classes(draws: list[list[LabeledText]], seeds: Sequence[int], targets: list[str], source: str) -> None:
    for seed, chosen in zip(seeds, draws):
        labelled = [example.label for example in chosen if example.label is not None]
        for target in targets:
            n_pos = sum(label == target for label in labelled)
            if n_pos == 0 or n_pos == len(labelled):
                raise ValueError(
                    f"seed {seed} drew {len(labelled)} labelled text(s) from {source}, {n_pos} with label {target!r}; "
                    "each seed needs texts with and without the target label, so add examples or raise n_examples"
                )


def _resolve_target_token(model: Any, token: str) -> int:
    tokenizer = model.tokenizer
    ids = list(tokenizer(token, add_special_tokens=False)["input_ids"])
    unk = getattr(tokenizer, "unk_token_id", None)
    if len(ids) == 1 and (ids[0] != unk or token == tokenizer.unk_token):
        return int(ids[0])
    vocabulary = tokenizer.get_vocab()
    if token in vocabulary:
        return int(vocabulary[token])
    if len(ids) == 1:
        raise ValueError(f"target_token {token!r} is not in the tokenizer's vocabulary (it maps to the unknown token)")
    pieces = tokenizer.convert_ids_to_tokens(ids)
    raise ValueError(f"target_token {token!r} is not a single token: the tokenizer splits it into {len(ids)} tokens {pieces}")


def _tokenize(model: Any, texts: Sequence[LabeledText], source: str) -> _Tokens:
    start = 1 if prepends_bos(model) else 0
    ids = []
    for example in texts:
        token_ids = tokenize_prompt(model, example.text)
        if len(token_ids) <= start:
            raise ValueError(f"{source}:{example.line_number}: the text has no tokens after BOS")
        if len(token_ids) > model.cfg.n_ctx:
            raise ValueError(
                f"{source}:{example.line_number}: the text has {len(token_ids)} tokens, more than the model's context of {model.cfg.n_ctx}"
            )
        ids.append(token_ids)
    lengths = np.array([len(token_ids) - start for token_ids in ids])
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    return _Tokens(
        ids=ids,
        start=start,
        text_of=np.repeat(np.arange(len(ids)), lengths),
        position_of=np.concatenate([np.arange(start, len(token_ids)) for token_ids in ids]),
        token_of=np.concatenate([np.asarray(token_ids[start:]) for token_ids in ids]),
        offsets=offsets,
    )


def _text_scores(features: np.ndarray, tokens: _Tokens, position: str) -> np.ndarray:
    if position == "last":
        return features[tokens.offsets[1:] - 1]
    if position == "max":
        return np.maximum.reduceat(features, tokens.offsets[:-1], axis=0)
    sums = np.add.reduceat(features, tokens.offsets[:-1], axis=0)
    return sums / np.diff(tokens.offsets)[:, None]


def spliced_losses(model: Any, token_ids: Sequence[Sequence[int]], hook: str, replace: Any, start: int, batch_size: int = 32) -> dict[str, Any]:
    """Return the mean next-token cross-entropy of the texts: clean, with `replace(activation)` at the hook, and with zeros there.

    The hook's activation is replaced at every position from `start` on (BOS is kept), and
    only predictions made from those positions are averaged. `replace` gets the selected
    positions' activations as one [n_positions, d] tensor. Texts run left-padded with an
    attention mask (`cache.left_padded_tokens`), so each text's losses are those of a
    run on its own, and padding positions are neither replaced nor averaged.
    """
    totals = {"clean": 0.0, "sae": 0.0, "zero_ablation": 0.0}
    count = 0

    with torch.no_grad():
        for first in range(0, len(token_ids), batch_size):
            tokens, mask = left_padded_tokens(model, token_ids[first : first + batch_size])
            # Positions counted within each text, so `start` skips the same tokens as in a run on its own.
            replaced = (position_ids_from_mask(mask) >= start) & mask.bool()
            # The prediction made at a replaced position p is scored. Its target p + 1 is a
            # real token, because the padding is on the left.
            scored = replaced[:, :-1].cpu()

            def splice(activation: torch.Tensor, hook: Any) -> torch.Tensor:
                patched = activation.clone()
                patched[replaced] = replace(activation[replaced]).to(activation.dtype)
                return patched

            def zero(activation: torch.Tensor, hook: Any) -> torch.Tensor:
                patched = activation.clone()
                patched[replaced] = 0
                return patched

            targets = tokens[:, 1:]
            for name, hooks in (("clean", []), ("sae", [(hook, splice)]), ("zero_ablation", [(hook, zero)])):
                logits = model.run_with_hooks(tokens, attention_mask=mask, fwd_hooks=hooks)
                log_probs = torch.log_softmax(logits[:, :-1].double(), dim=-1)
                losses = -log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1).cpu()
                totals[name] += float(losses[scored].sum())
            count += int(scored.sum())
    if count == 0:
        return {"n_predictions": 0}
    means = {name: total / count for name, total in totals.items()}
    gap = means["zero_ablation"] - means["clean"]
    return {
        "clean": means["clean"],
        "sae": means["sae"],
        "zero_ablation": means["zero_ablation"],
        "loss_increase": means["sae"] - means["clean"],
        "fraction_recovered": (means["zero_ablation"] - means["sae"]) / gap if gap > 0 else None,
        "n_predictions": count,
    }


def _run(config: SaeFeatureLookupConfig, root: Path, log: EventLog, started: float) -> Path:
    source = config.labels_path
    pool = load_labeled_texts(resolve_in_project(config.labels_path, root), require_labels=False)
    targets = _label_targets(config, pool)
    draws = sample_per_seed(pool, config.n_examples, config.seeds, source)
    n_used = len(draws[0])
    _check_seed_classes(draws, config.seeds, targets, source)
    training = config.sae_path is None
    if training and n_used < 2:
        raise ValueError(f"training an SAE needs at least 2 texts per seed (one held out), got {n_used}")
    sae_folder = resolve_in_project(config.sae_path, root) if config.sae_path is not None else None
    sae_config = read_sae_config(sae_folder) if sae_folder is not None else None

    load_started = time.perf_counter()
    model = load_hooked_model(
        resolve_model_id(config.model_id, root), dtype=config.dtype, device=config.device, trust_remote_code=config.trust_remote_code
    )
    load_ms = (time.perf_counter() - load_started) * 1000
    n_layers = model.cfg.n_layers
    if not 0 <= config.layer < n_layers:
        raise ValueError(f"layer {config.layer} is out of range: blocks of this {n_layers}-layer model are 0..{n_layers - 1}")
    if getattr(model.cfg, "attn_only", False) and config.hook in ("resid_mid", "mlp_out"):
        raise ValueError(f"this model has no MLP layers (attn_only), so hook {config.hook!r} does not exist")
    name = hook_name(config.hook, config.layer, n_layers)
    width = int(model.cfg.d_model)
    if sae_config is not None:
        check_sae_matches_hook(sae_config, sae_folder, name, width)
    d_sae = int(sae_config["d_sae"]) if sae_config is not None else int(config.sae_width or DEFAULT_WIDTH_MULTIPLIER * width)

    fingerprint = weights_fingerprint(model)
    log.emit(
        "model.loaded",
        duration_ms=load_ms,
        model_id=config.model_id,
        n_layers=n_layers,
        d_model=width,
        prepend_bos=prepends_bos(model),
        weights_sha256=fingerprint,
    )
    if n_used < config.n_examples:
        warn_small_dataset(log, source, len(pool), config.n_examples, n_used, len(config.seeds))
    device = str(model.cfg.device)
    if sae_folder is not None:
        # Loaded before any activation, so that unreadable weights fail early.
        sae = load_sae(sae_folder, device=device)
        if int(sae.cfg.d_in) != width:
            raise ValueError(f"the SAE loaded from {sae_folder} has d_in={sae.cfg.d_in}, but the hook {name} has width {width}")

    texts = [example for chosen in draws for example in chosen]
    seed_of_text = np.repeat(np.arange(len(config.seeds)), n_used)
    tokens = _tokenize(model, texts, source)
    target_token_id = None
    if config.target_token is not None:
        target_token_id = _resolve_target_token(model, config.target_token)
        for row, seed in enumerate(config.seeds):
            if not np.any(tokens.token_of[seed_of_text[tokens.text_of] == row] == target_token_id):
                raise ValueError(
                    f"target_token {config.target_token!r} does not occur in the texts seed {seed} drew from {source}; "
                    "each seed needs texts that contain it"
                )

    # Held-out texts: the last share of each seed's draw, which is in random order already.
    n_held = min(n_used - 1, max(1, int(round(config.holdout_fraction * n_used)))) if training else 0
    held_out_text = np.zeros(len(texts), dtype=bool)
    for row in range(len(config.seeds)):
        held_out_text[row * n_used + n_used - n_held : (row + 1) * n_used] = True

    activation_started = time.perf_counter()
    cached = cache_activations(
        model,
        tokens.ids,
        [config.layer],
        config.hook,
        resolve_in_project(config.cache_dir, root),
        batch_size=config.batch_size,
        model_id=config.model_id,
        weights_sha256=fingerprint,
        event_log=log,
    )[config.layer]
    x = cached[torch.as_tensor(tokens.text_of), torch.as_tensor(tokens.position_of)].float()
    del cached
    log.emit("sae.activations", duration_ms=(time.perf_counter() - activation_started) * 1000, n_tokens=int(x.shape[0]), hook=name)

    results_dir = resolve_in_project(config.results_dir, root)
    artifacts: list[Path] = []
    if training:
        train_started = time.perf_counter()
        train_rows = ~held_out_text[tokens.text_of]
        trained = train_sae(
            x[torch.as_tensor(train_rows)].to(device),
            d_sae,
            l1_coefficient=config.l1_coefficient,
            steps=config.train_steps,
            batch_size=config.train_batch_size,
            learning_rate=config.learning_rate,
            seed=config.sae_train_seed,
        )
        sae_folder = results_dir / f"{config.probe_id}_sae"
        artifacts.extend(
            save_sae(
                trained,
                sae_folder,
                hook_name=name,
                model_name=config.model_id,
                prepend_bos=prepends_bos(model),
                context_size=int(model.cfg.n_ctx),
            )
        )
        log.emit("sae.trained", duration_ms=(time.perf_counter() - train_started) * 1000, d_sae=d_sae, path=str(sae_folder))
        # The analysed SAE is the one on disk, read back through sae-lens.
        sae = load_sae(sae_folder, device=device)

    features = encode_in_chunks(sae, x)
    reconstruction = decode_in_chunks(sae, features)
    eval_rows = held_out_text[tokens.text_of] if training else np.ones(x.shape[0], dtype=bool)
    eval_texts = np.flatnonzero(held_out_text) if training else np.arange(len(texts))
    summary = _reconstruction_summary(x, reconstruction, features, eval_rows, tokens, seed_of_text, config)
    splice_started = time.perf_counter()
    summary["spliced_loss"] = spliced_losses(
        model,
        [tokens.ids[t] for t in eval_texts],
        name,
        lambda activation: sae.decode(sae.encode(activation)),
        tokens.start,
        config.batch_size,
    )
    log.emit("sae.spliced_loss", duration_ms=(time.perf_counter() - splice_started) * 1000, **{
        key: value for key, value in summary["spliced_loss"].items() if isinstance(value, (int, float))
    })

    feature_array = features.numpy().astype(np.float64)
    density = (feature_array > 0).mean(axis=0)
    strings = _token_strings(model, tokens)
    text_scores = _text_scores(feature_array, tokens, config.text_position)

    label_blocks = []
    for index, target in enumerate(targets):
        labelled = np.array([example.label is not None for example in texts])
        positive = np.array([example.label == target for example in texts])[labelled]
        found = association(
            text_scores[labelled],
            positive,
            np.flatnonzero(labelled),
            n_top=config.n_associated_features,
            n_bootstrap=config.n_bootstrap,
            n_permutations=config.n_permutations,
            seed=config.bootstrap_seed + 1000 * index,
            groups=seed_of_text[labelled],
        )
        label_blocks.append(_association_block("label", target, found, positive, seed_of_text[labelled], text_scores[labelled], config))

    token_block = None
    if target_token_id is not None:
        positive = tokens.token_of == target_token_id
        found = association(
            feature_array,
            positive,
            tokens.text_of,
            n_top=config.n_associated_features,
            n_bootstrap=config.n_bootstrap,
            n_permutations=config.n_permutations,
            seed=config.bootstrap_seed + 500,
            groups=seed_of_text[tokens.text_of],
        )
        token_block = _association_block("token", config.target_token, found, positive, seed_of_text[tokens.text_of], feature_array, config)

    reported = _reported_features(feature_array, density, label_blocks, token_block, config)
    feature_rows = [_feature_entry(feature, feature_array, density, tokens, strings, texts, seed_of_text, config) for feature in reported]

    plot_path = _plot(root, config, density, feature_array.shape[0], label_blocks[0] if label_blocks else token_block, summary)
    artifacts.append(plot_path)

    if label_blocks:
        primary_block, metric = label_blocks[0], LABEL_METRIC
    elif token_block is not None:
        primary_block, metric = token_block, TOKEN_METRIC
    else:
        primary_block, metric = None, VARIANCE_METRIC

    if primary_block is not None:
        top = primary_block["top_features"][0]
        value, interval = top["auroc"], top["auroc_ci_95"]
        values_per_seed = primary_block["top_feature_auroc_per_seed"]
        shuffled_mean = primary_block["permutation_control"]["max_auroc_mean"]
        effect_size = top["cohens_d"]
        random_baseline = 0.5
        components = [
            {"name": f"feature {row['feature']} ({primary_block['kind']} {primary_block['target']!s})", "value": row["auroc"], "ci_95": row["auroc_ci_95"]}
            for row in primary_block["top_features"]
        ]
        top_feature = {"feature": top["feature"], "kind": primary_block["kind"], "target": primary_block["target"], "auroc": value, "ci_95": interval}
    else:
        value, interval = summary["explained_variance"], summary["explained_variance_ci_95"]
        values_per_seed = summary["explained_variance_per_seed"]
        shuffled_mean = summary["shuffled_codes_explained_variance"]
        effect_size = summary["shuffled_codes_effect_size"]
        random_baseline = 0.0
        components = None
        top_feature = None

    secondary = {
        "mean_l0": {"values_per_layer": [summary["mean_l0"]], "ci_per_layer": [summary["mean_l0_ci_95"]]},
    }
    if metric != VARIANCE_METRIC:
        secondary["explained_variance"] = {
            "values_per_layer": [summary["explained_variance"]],
            "ci_per_layer": [summary["explained_variance_ci_95"]],
        }

    sae_info = {
        "source": "trained" if training else "loaded",
        "path": _relative(sae_folder, root),
        "architecture": str(sae.cfg.architecture()),
        "d_in": int(sae.cfg.d_in),
        "d_sae": int(sae.cfg.d_sae),
        "hook_name": sae_config_hook_name(json.loads((sae_folder / SAE_CFG_FILENAME).read_text(encoding="utf-8"))),
        "training": trained.training if training else None,
        "n_training_texts": int((~held_out_text).sum()) if training else None,
    }
    explanations = _alternative_explanations(summary, sae_info, primary_block, density, texts, tokens, config) + [
        str(text).strip() for text in config.alternative_explanations
    ]
    explanations = list(dict.fromkeys(text for text in explanations if text))

    results: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "probe_id": config.probe_id,
        "intervention": "sae_feature_lookup",
        "model_id": config.model_id,
        "status": decide_status(n_used, config.seeds),
        "hypothesis": config.hypothesis,
        "n_examples": n_used,
        "seeds": [int(seed) for seed in config.seeds],
        "layers": [int(config.layer)],
        "metric": metric,
        "primary_metric": metric,
        "values_per_layer": [value],
        "ci_per_layer": [interval],
        "values_per_seed": values_per_seed,
        "mean": value,
        "ci_95": interval,
        "shuffled_control_mean": shuffled_mean,
        "random_baseline": random_baseline,
        "noise_floor": noise_floor(values_per_seed),
        "effect_size": effect_size,
        "secondary_metrics": secondary,
        "hook_name": name,
        "layer_semantics": (
            f"Layer L is transformer block L; the SAE reads blocks.L.hook_{config.hook} at layer {config.layer}, "
            + ("every token after the BOS token, which is left out." if tokens.start else "every token (no BOS is prepended).")
        ),
        "text_position": config.text_position,
        "top_feature": top_feature,
        "n_tokens": int(x.shape[0]),
        "sae": sae_info,
        "reconstruction": summary,
        "feature_density": _density_summary(density, feature_array.shape[0]),
        "label_associations": label_blocks,
        "token_association": token_block,
        "features": feature_rows,
        "ci_method": _ci_method(config, metric, training, n_held, len(texts), d_sae),
        "alternative_explanations_not_ruled_out": explanations,
        "artifacts": [_relative(path, root) for path in artifacts],
        "provenance": probe_provenance(config, root, log, model, fingerprint, started),
        # The nnsight backend runs the logit lens, activation patching and probing only.
        "backend": "transformer_lens",
    }
    if components:
        results["components"] = components
    return write_json_atomic(results_dir / f"{config.probe_id}.json", results)


def _relative(path: Path, root: Path) -> str:
    try:
        return Path(path).resolve().relative_to(root).as_posix()
    except ValueError:
        return Path(path).resolve().as_posix()


def _reconstruction_summary(
    x: torch.Tensor,
    reconstruction: torch.Tensor,
    features: torch.Tensor,
    eval_rows: np.ndarray,
    tokens: _Tokens,
    seed_of_text: np.ndarray,
    config: SaeFeatureLookupConfig,
) -> dict[str, Any]:
    rows = torch.as_tensor(eval_rows)
    x_eval, r_eval, f_eval = x[rows].double(), reconstruction[rows].double(), features[rows]
    overall = reconstruction_metrics(x_eval, r_eval, f_eval)
    overall["dead_fraction"] = float((~(features > 0).any(dim=0)).double().mean())

    # Per-text sums, for intervals that resample whole texts.
    texts = tokens.text_of[eval_rows]
    mean = x_eval.mean(dim=0)
    error = (x_eval - r_eval).pow(2).sum(dim=1).numpy()
    spread = (x_eval - mean).pow(2).sum(dim=1).numpy()
    l0 = (f_eval > 0).sum(dim=1).double().numpy()
    ids, inverse = np.unique(texts, return_inverse=True)
    error_t = np.bincount(inverse, weights=error)
    spread_t = np.bincount(inverse, weights=spread)
    l0_t = np.bincount(inverse, weights=l0)
    count_t = np.bincount(inverse).astype(np.float64)
    ratio_lo, ratio_hi = bootstrap_ratio_ci(error_t, spread_t, n_bootstrap=config.n_bootstrap, seed=config.bootstrap_seed)
    l0_lo, l0_hi = bootstrap_ratio_ci(l0_t, count_t, n_bootstrap=config.n_bootstrap, seed=config.bootstrap_seed)

    per_seed = []
    for row in range(len(config.seeds)):
        mask = seed_of_text[texts] == row
        per_seed.append(float(1.0 - error[mask].sum() / (x_eval[torch.as_tensor(mask)] - x_eval[torch.as_tensor(mask)].mean(dim=0)).pow(2).sum()))

    # Control: each token decoded from another evaluation token's feature activations.
    rng = np.random.default_rng(config.bootstrap_seed)
    permutation = torch.as_tensor(rng.permutation(x_eval.shape[0]))
    shuffled = r_eval[permutation]
    shuffled_error = (x_eval - shuffled).pow(2).sum(dim=1).numpy()
    return {
        "explained_variance": overall["explained_variance"],
        "explained_variance_ci_95": _widen([1.0 - ratio_hi, 1.0 - ratio_lo], overall["explained_variance"]),
        "explained_variance_per_seed": per_seed,
        "mse": overall["mse"],
        "mean_l0": overall["mean_l0"],
        "mean_l0_ci_95": _widen([l0_lo, l0_hi], overall["mean_l0"]),
        "dead_fraction": overall["dead_fraction"],
        "n_dead": int((~(features > 0).any(dim=0)).sum()),
        "n_eval_tokens": int(x_eval.shape[0]),
        "n_eval_texts": int(ids.size),
        "evaluation_split": (
            "held-out texts, never used in training" if eval_rows.sum() < eval_rows.size else "every analysed token (a loaded SAE)"
        ),
        "shuffled_codes_explained_variance": float(1.0 - shuffled_error.sum() / spread.sum()),
        "shuffled_codes_effect_size": _effect_size(shuffled_error, error),
    }


def _association_block(
    kind: str,
    target: str,
    found: dict[str, Any],
    positive: np.ndarray,
    seed_rows: np.ndarray,
    scores: np.ndarray,
    config: SaeFeatureLookupConfig,
) -> dict[str, Any]:
    top = found["top"]
    feature = top[0]["feature"]
    per_seed = []
    for row in range(len(config.seeds)):
        mask = seed_rows == row
        per_seed.append(float(auroc_per_feature(scores[mask, feature], positive[mask])[0]))
    null = found["null_max_auroc"]
    observed = top[0]["auroc"]
    control = {
        "n_permutations": int(null.size),
        "max_auroc_mean": float(null.mean()) if null.size else 0.5,
        "max_auroc_p95": float(np.quantile(null, 0.95)) if null.size else 0.5,
        "p_value": float((1 + np.sum(null >= observed)) / (1 + null.size)) if null.size else 1.0,
        "within_seeds": True,
    }
    aurocs = found["auroc"]
    return {
        "kind": kind,
        "target": target,
        "unit": "text" if kind == "label" else "token position",
        "n_positive": int(positive.sum()),
        "n_negative": int((~positive).sum()),
        "top_features": top,
        "top_feature_auroc_per_seed": per_seed,
        "permutation_control": control,
        "n_features_above_null_p95": int(np.sum(aurocs > control["max_auroc_p95"])),
    }


def _reported_features(
    features: np.ndarray, density: np.ndarray, label_blocks: list[dict], token_block: dict | None, config: SaeFeatureLookupConfig
) -> list[int]:
    mean_activation = features.mean(axis=0)
    live = np.flatnonzero(density > 0)
    by_activation = live[np.argsort(-mean_activation[live], kind="stable")][: config.n_features_reported]
    chosen = [int(feature) for feature in by_activation]
    for block in [*label_blocks, *([token_block] if token_block else [])]:
        for row in block["top_features"][:5]:
            if row["feature"] not in chosen and density[row["feature"]] > 0:
                chosen.append(row["feature"])
    return chosen


def _token_strings(model: Any, tokens: _Tokens) -> dict[int, str]:
    distinct = sorted({token for ids in tokens.ids for token in ids})
    return {token: model.tokenizer.decode([token]) for token in distinct}


def _feature_entry(
    feature: int,
    features: np.ndarray,
    density: np.ndarray,
    tokens: _Tokens,
    strings: dict[int, str],
    texts: Sequence[LabeledText],
    seed_of_text: np.ndarray,
    config: SaeFeatureLookupConfig,
) -> dict[str, Any]:
    column = features[:, feature]
    order = np.argsort(-column, kind="stable")[: config.top_k]
    examples = []
    for row in order:
        if column[row] <= 0:
            break
        text, position = int(tokens.text_of[row]), int(tokens.position_of[row])
        ids = tokens.ids[text]
        examples.append(
            {
                "activation": float(column[row]),
                "token": strings[ids[position]],
                "context": [strings[token] for token in ids[max(0, position - config.context_tokens) : position]],
                "position": position,
                "line_number": texts[text].line_number,
                "label": texts[text].label,
                "seed": int(config.seeds[seed_of_text[text]]),
            }
        )
    mass = np.bincount(tokens.token_of, weights=column)
    counts = np.bincount(tokens.token_of)
    total = float(column.sum())
    top_tokens = []
    for token in np.argsort(-mass, kind="stable")[:5]:
        if mass[token] <= 0:
            break
        top_tokens.append(
            {
                "token": strings[int(token)],
                "share_of_activation": float(mass[token] / total),
                "mean_activation": float(mass[token] / counts[token]),
                "count": int(counts[token]),
            }
        )
    return {
        "feature": feature,
        "density": float(density[feature]),
        "mean_activation": float(column.mean()),
        "max_activation": float(column.max()),
        "top_tokens": top_tokens,
        "top_examples": examples,
    }


def _density_summary(density: np.ndarray, n_tokens: int) -> dict[str, Any]:
    live = density[density > 0]
    low = math.floor(math.log10(1.0 / n_tokens))
    edges = np.linspace(low, 0.0, 4 * -low + 1) if low < 0 else np.array([0.0, 0.0])
    counts = np.histogram(np.log10(live), bins=edges)[0] if live.size and low < 0 else np.zeros(max(edges.size - 1, 1))
    return {
        "per_feature": [round(float(value), 6) for value in density],
        "log10_bin_edges": [float(edge) for edge in edges],
        "histogram_counts": [int(count) for count in counts],
        "n_dead": int((density == 0).sum()),
        "median_live_density": float(np.median(live)) if live.size else 0.0,
        "n_tokens": int(n_tokens),
    }


def _alternative_explanations(
    summary: dict[str, Any],
    sae_info: dict[str, Any],
    block: dict[str, Any] | None,
    density: np.ndarray,
    texts: Sequence[LabeledText],
    tokens: _Tokens,
    config: SaeFeatureLookupConfig,
) -> list[str]:
    """Write the alternative explanations from this run's numbers."""
    ev = summary["explained_variance"]
    splice = summary.get("spliced_loss", {})
    splice_text = ""
    if splice.get("n_predictions"):
        splice_text = (
            f" Splicing the reconstruction into the model changes the next-token loss from {splice['clean']:.3f} to "
            f"{splice['sae']:.3f} nats (zero ablation: {splice['zero_ablation']:.3f})."
        )
        if splice["fraction_recovered"] is None:
            splice_text += (
                " Zeroing the hook does not raise the loss on these texts, so the spliced loss cannot show whether the "
                "reconstruction keeps what the model uses here."
            )
    texts_out = []
    if ev < POOR_EXPLAINED_VARIANCE:
        texts_out.append(
            f"The SAE's reconstruction is poor: it explains {ev:.2f} of the variance of the evaluation tokens "
            f"(mean L0 {summary['mean_l0']:.1f}).{splice_text} Its features may describe the SAE's approximation more than "
            "what the model represents, and what the features miss sits in the reconstruction error."
        )
    else:
        texts_out.append(
            f"The SAE explains {ev:.2f} of the variance of the evaluation tokens, so {1 - ev:.2f} stays in its error "
            f"term.{splice_text} Information that matters for the question may live in that error rather than in any feature."
        )
    dead = summary["dead_fraction"]
    if sae_info["source"] == "trained":
        texts_out.append(
            f"This is one SAE of {sae_info['d_sae']} features from one initialisation (seed {config.sae_train_seed}), "
            f"trained on {sae_info['training']['n_training_tokens']} tokens; {dead:.0%} of its features never fire. "
            "Another seed, width or sparsity penalty can split one feature into several or merge several into one "
            "(feature splitting, Bricken et al. 2023), so the identity of the top feature is not stable evidence on its own."
        )
    else:
        texts_out.append(
            f"The loaded SAE ({sae_info['d_sae']} features, {dead:.0%} never firing on these {tokens.text_of.size} "
            "tokens) was trained on other text; features that fire rarely on these texts may be reported with few examples, "
            "and a different SAE of the same hook may carve the space differently."
        )
    if block is None:
        texts_out.append(
            "Explained variance measures reconstruction, not whether the features mean anything or whether the model "
            "uses them; read the top examples before naming a feature."
        )
        return texts_out

    top = block["top_features"][0]
    control = block["permutation_control"]
    unit = "texts" if block["kind"] == "label" else "token positions"
    texts_out.append(
        f"Feature {top['feature']} was chosen as the best of {sae_info['d_sae']} features on the same {unit} it is scored on "
        f"(AUROC {top['auroc']:.2f}); with the {'labels' if block['kind'] == 'label' else 'token indicator'} permuted, the best "
        f"feature reaches {control['max_auroc_mean']:.2f} on average (95th percentile {control['max_auroc_p95']:.2f}, "
        f"p = {control['p_value']:.3f}). A margin this size can still shrink on new texts."
    )
    if block["kind"] == "label":
        lengths = np.diff(tokens.offsets).astype(np.float64)
        labelled = [i for i, example in enumerate(texts) if example.label is not None]
        positive = np.array([texts[i].label == block["target"] for i in labelled])
        r = _point_biserial(lengths[labelled], positive)
        texts_out.append(
            f"The association is correlational: feature {top['feature']} may track something that co-occurs with label "
            f"{block['target']!r} rather than the property itself, such as the identity of the {config.text_position} token "
            f"or the text length (the label's point-biserial correlation with token count is {r:.2f} here)."
        )
    else:
        texts_out.append(
            f"A feature that fires on the token {block['target']!r} may only read the token's identity, which the "
            f"embedding already carries (most plainly at early layers); it says the SAE has a token feature, not that "
            "the model computes anything about the token in context."
        )
    return texts_out


def _ci_method(config: SaeFeatureLookupConfig, metric: str, training: bool, n_held: int, n_texts: int, d_sae: int) -> str:
    head = {
        LABEL_METRIC: (
            "mean: AUROC of the top feature (the best of the SAE's features by AUROC) for telling texts with the target "
            f"label from labelled texts without it, using each text's feature activation at its {config.text_position} "
            "token(s), over the texts of all seeds; values_per_seed: that feature's AUROC on each seed's texts alone; "
        ),
        TOKEN_METRIC: (
            "mean: AUROC of the top feature for telling positions whose token is the target token from all other "
            "positions (BOS left out), over the texts of all seeds; values_per_seed: that feature's AUROC on each seed's texts; "
        ),
        VARIANCE_METRIC: (
            "mean: explained variance 1 - sum||x - x_hat||^2 / sum||x - mean x||^2 of the SAE on the evaluation tokens "
            "of all seeds; values_per_seed: the same on each seed's evaluation tokens; "
        ),
    }[metric]
    if metric == VARIANCE_METRIC:
        controls = (
            "shuffled_control_mean: explained variance when each evaluation token is decoded from another token's feature "
            "activations (a random permutation); random_baseline: 0, predicting the mean; effect_size: Cohen's d of the "
            "per-token squared error, shuffled against real. "
        )
    else:
        controls = (
            f"shuffled_control_mean: the mean over {config.n_permutations} permutations (within seeds) of the best "
            "feature's AUROC with the target indicator permuted, i.e. the whole selection repeated by chance; "
            "random_baseline: 0.5, the AUROC of a single feature unrelated to the target; effect_size: Cohen's d of the "
            "top feature's activation, positives against negatives. "
        )
    split = (
        f"The SAE ({d_sae} features) was trained here on {n_texts - n_held * len(config.seeds)} texts; the last "
        f"{n_held} text(s) of each seed's draw were held out and give the reconstruction numbers."
        if training
        else f"The SAE ({d_sae} features) was loaded from disk; reconstruction numbers use every analysed token."
    )
    return (
        head
        + f"noise_floor: their sample standard deviation (0 with one seed). Intervals: percentile bootstrap, {config.n_bootstrap} "
        f"resamples of whole texts (token positions of one text stay together), numpy seed {config.bootstrap_seed}; "
        "intervals that miss their point estimate are widened to include it. Explained variance and mean L0 intervals "
        "are paired bootstraps of ratios of per-text sums. "
        + controls
        + split
    )


def _plot(root: Path, config: SaeFeatureLookupConfig, density: np.ndarray, n_tokens: int, block: dict | None, summary: dict) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    live = density[density > 0]
    axis = axes[0]
    if live.size:
        low = math.floor(math.log10(1.0 / n_tokens))
        axis.hist(np.log10(live), bins=np.linspace(low, 0.0, 4 * -low + 1) if low < 0 else 10, color="#4477aa")
    axis.set_xlabel("log10 feature density (share of tokens with activation > 0)")
    axis.set_ylabel("features")
    axis.set_title(
        f"feature density: {int((density == 0).sum())} of {density.size} dead, "
        f"EV {summary['explained_variance']:.2f}, L0 {summary['mean_l0']:.1f}",
        fontsize=10,
    )

    axis = axes[1]
    if block is not None:
        rows = block["top_features"]
        names = [str(row["feature"]) for row in rows]
        values = np.array([row["auroc"] for row in rows])
        lows = values - np.array([row["auroc_ci_95"][0] for row in rows])
        highs = np.array([row["auroc_ci_95"][1] for row in rows]) - values
        axis.bar(range(len(rows)), values, yerr=[lows, highs], color="#228833", capsize=3)
        axis.axhline(block["permutation_control"]["max_auroc_p95"], color="#aa3377", linestyle="--", label="permuted: best feature, 95th pct")
        axis.axhline(0.5, color="grey", linestyle=":", label="chance")
        axis.set_xticks(range(len(rows)), names)
        axis.set_xlabel("feature")
        axis.set_ylabel("AUROC")
        axis.set_ylim(0.0, 1.05)
        axis.set_title(f"features most associated with {block['kind']} {block['target']!r}", fontsize=10)
        axis.legend(fontsize=8, loc="lower right")
    else:
        axis.axis("off")
        axis.text(0.5, 0.5, "no label or target token given", ha="center", va="center")
    figure.suptitle(f"SAE feature lookup: {config.probe_id}")
    figure.tight_layout()
    return save_figure_atomic(figure, resolve_in_project(config.results_dir, root) / f"{config.probe_id}.png")


__all__ = [
    "HOOKS",
    "SaeFeatureLookupConfig",
    "TrainedSae",
    "association",
    "auroc_per_feature",
    "bootstrap_association",
    "check_sae_matches_hook",
    "load_sae",
    "permutation_max_auroc",
    "read_sae_config",
    "reconstruction_metrics",
    "run_sae_feature_lookup",
    "save_sae",
    "spliced_losses",
    "train_sae",
]
