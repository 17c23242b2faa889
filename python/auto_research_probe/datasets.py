"""Prompt datasets: the prompts JSONL file, seeded sampling and clean/corrupted pairs.

The prompts file has one JSON object per line, `{"prompt": str, "answer": str}`, with
`answer` optional. With an answer, the correct token is the first token of the
answer, predicted after the whole prompt. Without one, the correct token is the
prompt's last token, predicted from the tokens before it. Blank lines are skipped
and other keys are ignored.

Activation patching (Meng et al. 2022, "Locating and Editing Factual Associations in
GPT"; Wang et al. 2023, "Interpretability in the Wild") swaps activations between a
clean and a corrupted prompt position by position, so the two prompts of a pair must
have the same number of tokens. `clean_corrupted_pair_dataset` rejects pairs that
differ unless the caller chooses an alignment.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .jsonl import read_jsonl_records

ALIGN_MODES = ("left_pad", "truncate_left")


@dataclass(frozen=True)
class PromptExample:
    """One line of a prompts file: the prompt, the optional answer and the 1-based line number."""

    prompt: str
    answer: str | None
    line_number: int


def load_prompts_jsonl(path: str | os.PathLike[str]) -> list[PromptExample]:
    """Read a prompts JSONL file, raising ValueError with the line number of the first invalid line."""
    source = Path(path)
    examples = []
    for source, line_number, record in read_jsonl_records(path, "prompts"):
        examples.append(_parse_record(record, source, line_number))

    if not examples:
        raise ValueError(f"{source}: no prompts found; expected one JSON object per line such as {{\"prompt\": \"...\"}}")
    return examples


def _parse_record(record: Any, source: Path, line_number: int) -> PromptExample:
    where = f"{source}:{line_number}"
    if not isinstance(record, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(record).__name__}")
    if "prompt" not in record:
        raise ValueError(f"{where}: missing key \"prompt\" (keys found: {sorted(record)})")

    prompt = record["prompt"]
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError(f"{where}: \"prompt\" must be a non-empty string, got {prompt!r}")

    answer = record.get("answer")
    if answer is not None and (not isinstance(answer, str) or answer == ""):
        raise ValueError(f"{where}: \"answer\" must be a non-empty string when present, got {answer!r}")
    return PromptExample(prompt=prompt, answer=answer, line_number=line_number)


def sample_examples(examples: Sequence[Any], n: int, seed: int) -> list[Any]:
    """Draw `n` examples without replacement, in an order chosen by `seed`.

    When the pool has fewer than `n` examples, every example is returned once in a
    seeded order, so the caller gets fewer than `n` and should report the count it
    got. Drawing with replacement instead would repeat examples and make bootstrap
    intervals too narrow.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if len(examples) == 0:
        raise ValueError("cannot sample from an empty list of examples")

    rng = np.random.default_rng(seed)
    count = min(n, len(examples))
    indices = rng.choice(len(examples), size=count, replace=False)
    return [examples[int(index)] for index in indices]


def sample_per_seed(examples: Sequence[Any], n: int, seeds: Sequence[int], source: str = "the file") -> list[list[Any]]:
    """Draw up to `n` examples for each seed so that no example is drawn under two seeds.

    Seeds are replications: the same example under two seeds would count twice in the
    pooled statistics and make the intervals too narrow. Seed i draws with
    `sample_examples`'s rule from the examples the earlier seeds left, in seed order, so
    the first seed's draw equals `sample_examples(examples, n, seeds[0])`. When the pool
    has fewer than `n * len(seeds)` examples, every seed gets `len(examples) // len(seeds)`
    of them; the caller reports that smaller count as its n_examples.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if not seeds:
        raise ValueError("seeds is empty: give at least one seed")
    if len(examples) < len(seeds):
        raise ValueError(
            f"{source} has {len(examples)} example(s) but {len(seeds)} seeds, and each seed needs examples of its "
            "own; add examples or use fewer seeds"
        )
    count = min(n, len(examples) // len(seeds))
    remaining = list(range(len(examples)))
    draws = []
    for seed in seeds:
        positions = np.random.default_rng(seed).choice(len(remaining), size=count, replace=False)
        chosen = [remaining[int(position)] for position in positions]
        taken = set(chosen)
        remaining = [index for index in remaining if index not in taken]
        draws.append([examples[index] for index in chosen])
    return draws


def warn_small_dataset(log: Any, source: str, available: int, requested: int, used: int, n_seeds: int) -> None:
    """Report on stderr and in the event log that each seed got fewer examples than requested."""
    message = (
        f"warning: {source} has {available} example(s), so each of the {n_seeds} seed(s) gets {used} distinct "
        f"example(s) instead of the {requested} requested; a result needs at least 64 per seed"
    )
    print(message, file=sys.stderr, flush=True)
    log.emit("dataset.small", level="warning", requested=requested, available=available, used=used, n_seeds=n_seeds)


@dataclass(frozen=True)
class PairDataset:
    """Token ids of clean/corrupted prompt pairs, padded on the left to one length.

    All tensors have shape [batch, pos]. Prompts shorter than the longest one are
    left-padded with `pad_token_id`, so position -1 is every prompt's last token.
    Left padding shifts absolute positions, so pass the matching attention mask and
    position ids to the forward pass. Without `align="left_pad"` the two prompts of
    a pair have the same length, so their masks are equal.
    """

    clean_tokens: Any
    corrupted_tokens: Any
    clean_attention_mask: Any
    corrupted_attention_mask: Any
    clean_position_ids: Any
    corrupted_position_ids: Any
    lengths: list[int]
    align: str | None
    pad_token_id: int


def clean_corrupted_pair_dataset(
    prompts_clean: Sequence[Any],
    prompts_corrupted: Sequence[Any],
    tokenizer: Any = None,
    align: str | None = None,
    prepend_bos: bool | None = None,
    pad_token_id: int | None = None,
) -> PairDataset:
    """Tokenize clean/corrupted prompt pairs and check that each pair has one length.

    Prompts are strings (then `tokenizer` is required: a Hugging Face tokenizer or a
    HookedTransformer) or lists of token ids. `prepend_bos` defaults to the
    HookedTransformer's `cfg.default_prepend_bos`, else False. A BOS token is never
    added twice.

    `align` decides what happens when the two prompts of a pair tokenize to
    different lengths:

    - None (default): raise ValueError naming the pairs and their lengths.
    - "left_pad": pad the shorter prompt on the left, so the final tokens line up.
      The padding positions are masked out in `attention_mask`.
    - "truncate_left": drop tokens from the start of the longer prompt (after a
      leading BOS token, which is kept), so the final tokens line up. This removes
      context from the longer prompt.
    """
    if align is not None and align not in ALIGN_MODES:
        raise ValueError(f"align {align!r} is invalid: expected None or one of {', '.join(ALIGN_MODES)}")
    if len(prompts_clean) != len(prompts_corrupted):
        raise ValueError(
            f"got {len(prompts_clean)} clean prompts but {len(prompts_corrupted)} corrupted prompts; "
            "pairs must match one to one"
        )
    if len(prompts_clean) == 0:
        raise ValueError("no prompt pairs given")

    hf_tokenizer, bos_default = _unwrap_tokenizer(tokenizer)
    if prepend_bos is None:
        prepend_bos = bos_default
    clean_ids = [_to_token_ids(prompt, hf_tokenizer, prepend_bos, "prompts_clean", i) for i, prompt in enumerate(prompts_clean)]
    corrupted_ids = [
        _to_token_ids(prompt, hf_tokenizer, prepend_bos, "prompts_corrupted", i) for i, prompt in enumerate(prompts_corrupted)
    ]

    mismatched = [
        (index, len(clean), len(corrupted))
        for index, (clean, corrupted) in enumerate(zip(clean_ids, corrupted_ids))
        if len(clean) != len(corrupted)
    ]
    if mismatched and align is None:
        shown = ", ".join(f"pair {index}: {a} vs {b} tokens" for index, a, b in mismatched[:5])
        raise ValueError(
            f"{len(mismatched)} of {len(clean_ids)} pairs tokenize to different lengths ({shown}); "
            "rewrite the prompts so each pair has the same token count, or pass "
            "align='left_pad' or align='truncate_left'"
        )
    if align == "truncate_left":
        bos_id = getattr(hf_tokenizer, "bos_token_id", None) if prepend_bos else None
        for index, _, _ in mismatched:
            clean_ids[index], corrupted_ids[index] = _truncate_pair_left(clean_ids[index], corrupted_ids[index], bos_id)

    if pad_token_id is None:
        pad_token_id = default_pad_id(hf_tokenizer)
    width = max(max(len(ids) for ids in clean_ids), max(len(ids) for ids in corrupted_ids))
    clean_tokens, clean_mask = left_pad(clean_ids, width, pad_token_id)
    corrupted_tokens, corrupted_mask = left_pad(corrupted_ids, width, pad_token_id)

    return PairDataset(
        clean_tokens=clean_tokens,
        corrupted_tokens=corrupted_tokens,
        clean_attention_mask=clean_mask,
        corrupted_attention_mask=corrupted_mask,
        clean_position_ids=position_ids_from_mask(clean_mask),
        corrupted_position_ids=position_ids_from_mask(corrupted_mask),
        lengths=[max(len(a), len(b)) for a, b in zip(clean_ids, corrupted_ids)],
        align=align,
        pad_token_id=pad_token_id,
    )


def _unwrap_tokenizer(tokenizer: Any) -> tuple[Any, bool]:
    if tokenizer is None:
        return None, False
    model_cfg = getattr(tokenizer, "cfg", None)
    if model_cfg is not None and hasattr(tokenizer, "tokenizer"):
        return tokenizer.tokenizer, bool(getattr(model_cfg, "default_prepend_bos", False))
    return tokenizer, False


def _to_token_ids(prompt: Any, tokenizer: Any, prepend_bos: bool, name: str, index: int) -> list[int]:
    if isinstance(prompt, str):
        if tokenizer is None:
            raise ValueError(f"{name}[{index}] is a string but no tokenizer was given; pass tokenizer= or token ids")
        ids = list(tokenizer(prompt, add_special_tokens=False)["input_ids"])
        bos_id = getattr(tokenizer, "bos_token_id", None)
        if prepend_bos:
            if bos_id is None:
                raise ValueError("prepend_bos is True but the tokenizer has no bos_token_id")
            if not ids or ids[0] != bos_id:
                ids = [bos_id] + ids
    else:
        try:
            ids = [int(token) for token in (prompt.tolist() if hasattr(prompt, "tolist") else prompt)]
        except (TypeError, ValueError) as error:
            raise ValueError(f"{name}[{index}] must be a string or a sequence of token ids, got {type(prompt).__name__}") from error
    if not ids:
        raise ValueError(f"{name}[{index}] tokenizes to no tokens")
    return ids


def _truncate_pair_left(clean: list[int], corrupted: list[int], bos_id: int | None) -> tuple[list[int], list[int]]:
    target = min(len(clean), len(corrupted))

    def cut(ids: list[int]) -> list[int]:
        if len(ids) == target:
            return ids
        if bos_id is not None and ids[0] == bos_id:
            if target < 2:
                raise ValueError(f"cannot truncate {ids} to {target} token(s) and keep its BOS token")
            return [ids[0]] + ids[len(ids) - target + 1 :]
        return ids[len(ids) - target :]

    return cut(clean), cut(corrupted)


def default_pad_id(tokenizer: Any) -> int:
    """Return the tokenizer's pad token id, else its end-of-text id, else 0.

    Padding positions are masked, so any id in the vocabulary would do.
    """
    if tokenizer is None:
        return 0
    for name in ("pad_token_id", "eos_token_id"):
        value = getattr(tokenizer, name, None)
        if value is not None:
            return int(value)
    return 0


def position_ids_from_mask(mask: Any) -> Any:
    """Return position ids [batch, pos] that count only the attended tokens of each row of `mask`.

    The first real token of a row gets position 0, as it would when the row runs
    alone. Padding positions get 0 too, which TransformerLens 3.5 also uses for them
    (`get_offset_position_ids`). Pass these with the attention mask of a left-padded
    batch: without them a row shorter than the batch reads the position embeddings
    of later positions.
    """
    return (mask.cumsum(dim=-1) - 1).clamp(min=0)


def left_pad(rows: list[list[int]], width: int, pad_token_id: int) -> tuple[Any, Any]:
    """Left-pad token id rows to `width` and return (tokens, attention_mask), both long tensors [batch, width].

    Each row's tokens end at position width - 1, and the mask is 1 on them and 0 on
    the `pad_token_id` positions before them. Raises ValueError when a row is longer
    than `width`.
    """
    import torch

    longest = max((len(ids) for ids in rows), default=0)
    if longest > width:
        raise ValueError(f"width {width} is less than the longest row's {longest} tokens, so pass a width of at least {longest}")
    tokens = torch.full((len(rows), width), pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for index, ids in enumerate(rows):
        if not ids:
            continue
        tokens[index, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
        mask[index, width - len(ids) :] = 1
    return tokens, mask
