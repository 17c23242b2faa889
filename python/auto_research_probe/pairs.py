"""Clean/corrupted prompt pairs for activation and path patching.

A pairs file has one JSON object per line:
`{"clean": str, "corrupted": str, "answer": str, "wrong_answer": str}`. `answer` is the
correct next token after the clean prompt and `wrong_answer` the token that the
corrupted prompt supports. Blank lines are skipped and other keys are ignored.

The metric of one example is the logit difference at the last position,
`logit[answer] - logit[wrong_answer]` (Wang et al. 2023, "Interpretability in the
Wild"). Patching swaps activations between the two prompts position by position, so
the clean and the corrupted prompt of a pair must have the same number of tokens.
Different pairs may differ in length; `length_buckets` groups them so that each
forward pass runs on pairs of one length, without padding.

A patching effect is normalised as (patched - corrupted) / (clean - corrupted) over
batch means (a ratio of means), so 0 means the patch restores nothing and 1 means it
restores the whole clean-corrupted difference. When the clean and corrupted means are
equal, that ratio is undefined and `normalised_effect` raises ValueError.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from jaxtyping import Float, Int

from .jsonl import read_jsonl_records
from .models import tokenize_continuation, tokenize_prompt

PAIR_KEYS = ("clean", "corrupted", "answer", "wrong_answer")
# Relative tolerance below which the clean and corrupted mean logit differences count as
# equal: the denominator of the normalised effect is then numerical noise.
EQUAL_BASELINES_RTOL = 1e-6


@dataclass(frozen=True)
class PairRecord:
    """One line of a pairs file as written: the four strings and the 1-based line number."""

    clean: str
    corrupted: str
    answer: str
    wrong_answer: str
    line_number: int


@dataclass(frozen=True)
class PatchingPair:
    """One pair as model input: token ids (BOS included when the model prepends it) and answer ids."""

    clean_ids: list[int]
    corrupted_ids: list[int]
    answer_id: int
    wrong_id: int
    line_number: int


def load_pairs_jsonl(path: str | os.PathLike[str]) -> list[PairRecord]:
    """Read a pairs JSONL file, raising ValueError with the line number of the first invalid line.

    Each line needs the keys clean, corrupted, answer and wrong_answer, each a non-empty
    string. Token-level checks need the model's tokenizer and happen in `prepare_pairs`.
    """
    source = Path(path)
    records = []
    for source, line_number, record in read_jsonl_records(path, "pairs"):
        records.append(_parse_record(record, f"{source}:{line_number}", line_number))

    if not records:
        raise ValueError(
            f"{source}: no pairs found; expected one JSON object per line such as "
            '{"clean": "...", "corrupted": "...", "answer": " x", "wrong_answer": " y"}'
        )
    return records


def _parse_record(record: Any, where: str, line_number: int) -> PairRecord:
    if not isinstance(record, dict):
        raise ValueError(f"{where}: expected a JSON object with keys {', '.join(PAIR_KEYS)}, got {type(record).__name__}")
    missing = [key for key in PAIR_KEYS if key not in record]
    if missing:
        raise ValueError(
            f"{where}: missing key(s) {', '.join(repr(key) for key in missing)} (keys found: {sorted(record)}); "
            f"each line needs {', '.join(PAIR_KEYS)}"
        )
    for key in PAIR_KEYS:
        value = record[key]
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{where}: {key!r} must be a non-empty string, got {value!r}")
    return PairRecord(
        clean=record["clean"],
        corrupted=record["corrupted"],
        answer=record["answer"],
        wrong_answer=record["wrong_answer"],
        line_number=line_number,
    )


def _answer_token(model: Any, text: str, key: str, line_number: int) -> int:
    ids = tokenize_continuation(model, text)
    if len(ids) != 1:
        tokens = model.tokenizer.convert_ids_to_tokens(ids) if ids else []
        raise ValueError(
            f"pairs line {line_number}: {key} {text!r} tokenizes to {len(ids)} tokens {tokens} (ids {ids}); "
            "the logit difference compares single next tokens, so use a string that is one token "
            "(for byte-pair tokenizers usually with a leading space, such as ' Paris')"
        )
    unknown_id = getattr(model.tokenizer, "unk_token_id", None)
    if unknown_id is not None and ids[0] == unknown_id:
        raise ValueError(
            f"pairs line {line_number}: {key} {text!r} is not in the model's vocabulary "
            f"(it tokenizes to the unknown token {model.tokenizer.unk_token!r}); use a word the tokenizer knows"
        )
    return ids[0]


def prepare_pairs(model: Any, records: Sequence[PairRecord]) -> list[PatchingPair]:
    """Tokenize pairs for `model` and check them, raising ValueError on the first bad line.

    Prompts go through `tokenize_prompt` (BOS prepended once when the model expects it),
    answers through `tokenize_continuation` (no BOS). Each answer must be exactly one
    known token, the two answers must differ, and the clean and corrupted prompt must
    have the same number of tokens.
    """
    if not records:
        raise ValueError("no pairs given")
    pairs = []
    for record in records:
        line = record.line_number
        answer_id = _answer_token(model, record.answer, "answer", line)
        wrong_id = _answer_token(model, record.wrong_answer, "wrong_answer", line)
        if answer_id == wrong_id:
            raise ValueError(
                f"pairs line {line}: answer {record.answer!r} and wrong_answer {record.wrong_answer!r} are the same "
                f"token (id {answer_id}), so their logit difference is always 0; wrong_answer must be the token "
                "the corrupted prompt supports instead of the answer"
            )
        clean_ids = tokenize_prompt(model, record.clean)
        corrupted_ids = tokenize_prompt(model, record.corrupted)
        if len(clean_ids) != len(corrupted_ids):
            raise ValueError(
                f"pairs line {line}: clean prompt has {len(clean_ids)} tokens but corrupted prompt has "
                f"{len(corrupted_ids)}; patching swaps activations position by position, so rewrite the "
                "corrupted prompt to the same token length as the clean one"
            )
        n_ctx = getattr(model.cfg, "n_ctx", None)
        if n_ctx is not None and len(clean_ids) > n_ctx:
            raise ValueError(
                f"pairs line {line}: prompts have {len(clean_ids)} tokens, more than the model's context of {n_ctx}"
            )
        pairs.append(PatchingPair(clean_ids, corrupted_ids, answer_id, wrong_id, line))
    return pairs


def length_buckets(pairs: Sequence[PatchingPair]) -> list[list[int]]:
    """Group pair indices by token length: one list per length, lengths ascending, indices in input order."""
    buckets: dict[int, list[int]] = {}
    for index, pair in enumerate(pairs):
        buckets.setdefault(len(pair.clean_ids), []).append(index)
    return [buckets[length] for length in sorted(buckets)]


def pair_tensors(
    pairs: Sequence[PatchingPair], indices: Sequence[int] | None = None, device: Any = None
) -> tuple[Int[torch.Tensor, "batch pos"], Int[torch.Tensor, "batch pos"], Int[torch.Tensor, " batch"], Int[torch.Tensor, " batch"]]:
    """Return (clean_tokens, corrupted_tokens, answer_ids, wrong_ids) for pairs of one token length."""
    chosen = [pairs[index] for index in (range(len(pairs)) if indices is None else indices)]
    if not chosen:
        raise ValueError("no pairs selected")
    lengths = {len(pair.clean_ids) for pair in chosen}
    if len(lengths) != 1:
        raise ValueError(f"pairs of one batch must share one token length, got lengths {sorted(lengths)}; use length_buckets")
    clean = torch.tensor([pair.clean_ids for pair in chosen], dtype=torch.long, device=device)
    corrupted = torch.tensor([pair.corrupted_ids for pair in chosen], dtype=torch.long, device=device)
    answers = torch.tensor([pair.answer_id for pair in chosen], dtype=torch.long, device=device)
    wrongs = torch.tensor([pair.wrong_id for pair in chosen], dtype=torch.long, device=device)
    return clean, corrupted, answers, wrongs


def logit_diff(
    logits: Float[torch.Tensor, "batch pos d_vocab"],
    answer_ids: Int[torch.Tensor, " batch"],
    wrong_ids: Int[torch.Tensor, " batch"],
) -> Float[torch.Tensor, " batch"]:
    """Return logit[answer] - logit[wrong_answer] at the last position, per example."""
    if logits.dim() != 3 or answer_ids.dim() != 1 or wrong_ids.dim() != 1:
        raise ValueError(
            f"expected logits [batch, pos, d_vocab] and ids [batch], got {tuple(logits.shape)}, "
            f"{tuple(answer_ids.shape)} and {tuple(wrong_ids.shape)}"
        )
    if not logits.shape[0] == answer_ids.shape[0] == wrong_ids.shape[0]:
        raise ValueError(
            f"batch sizes differ: logits {logits.shape[0]}, answer_ids {answer_ids.shape[0]}, wrong_ids {wrong_ids.shape[0]}"
        )
    last = logits[:, -1, :]
    answer_logit = last.gather(-1, answer_ids.to(last.device)[:, None])[:, 0]
    wrong_logit = last.gather(-1, wrong_ids.to(last.device)[:, None])[:, 0]
    return answer_logit - wrong_logit


def check_baselines_differ(clean_mean: float, corrupted_mean: float) -> float:
    """Return clean_mean - corrupted_mean, raising ValueError when the two are equal within tolerance."""
    clean_mean = float(clean_mean)
    corrupted_mean = float(corrupted_mean)
    if not (math.isfinite(clean_mean) and math.isfinite(corrupted_mean)):
        raise ValueError(f"clean and corrupted logit differences must be finite, got {clean_mean} and {corrupted_mean}")
    denominator = clean_mean - corrupted_mean
    if not abs(denominator) >= EQUAL_BASELINES_RTOL * max(1.0, abs(clean_mean)):
        raise ValueError(
            f"clean and corrupted logit differences are equal ({clean_mean:.6g} and {corrupted_mean:.6g}): "
            "the corruption does not change the answer, so the patching effect is undefined; "
            "use corrupted prompts that make the model prefer wrong_answer (or at least change the logit difference)"
        )
    return denominator


def check_clear_gap(clean: Sequence[float], corrupted: Sequence[float], *, n_bootstrap: int = 10_000, seed: int = 0) -> None:
    """Raise ValueError unless the clean logit difference is clearly above the corrupted one.

    `answer` is the token the clean prompt supports and `wrong_answer` the one the corrupted
    prompt supports, so the per-pair gap clean - corrupted should be positive. Normalised
    effects divide by its mean, so a mean that is not positive, or whose percentile
    bootstrap 95% interval reaches zero, would turn noise into large effects.
    """
    from .stats import bootstrap_ci

    gaps = [float(a) - float(b) for a, b in zip(clean, corrupted)]
    mean_clean = sum(float(value) for value in clean) / len(gaps)
    mean_corrupted = sum(float(value) for value in corrupted) / len(gaps)
    mean_gap = mean_clean - mean_corrupted
    if mean_gap <= 0.0:
        raise ValueError(
            f"the corrupted prompts do not lower the logit difference logit(answer) - logit(wrong_answer): its mean is "
            f"{mean_clean:.4g} on the clean prompts and {mean_corrupted:.4g} on the corrupted ones. wrong_answer must be "
            "the token the corrupted prompt supports; check the pairs, or swap answer and wrong_answer"
        )
    lo, hi = bootstrap_ci(gaps, n_bootstrap=n_bootstrap, seed=seed)
    if lo <= 0.0:
        raise ValueError(
            f"the clean - corrupted gap in logit difference is not clearly above zero: mean {mean_gap:.4g}, 95% interval "
            f"[{lo:.4g}, {hi:.4g}] over {len(gaps)} pairs, so normalised effects would divide by noise; use corruptions "
            "that change the answer more, or more pairs"
        )


def normalised_effect(patched_mean: float, clean_mean: float, corrupted_mean: float) -> float:
    """Return (patched - corrupted) / (clean - corrupted); ValueError when clean and corrupted are equal."""
    denominator = check_baselines_differ(clean_mean, corrupted_mean)
    return (float(patched_mean) - float(corrupted_mean)) / denominator
