"""Repeated-span task, word-level tokenizer and head scores for the induction demo model.

The demo model learns one task: every training sequence is `<|bos|>`, random words, a
span of distinct words, a few random words, then the same span again. Tokens in the second
copy can only be predicted by copying from the first copy. The induction circuit that solves
this has two heads. A previous-token head in layer 0 writes the previous token A into each
position. An induction head in layer 1 reads that through its keys (K-composition), so it
attends from a later A to the token that followed the earlier A and copies it
(Elhage et al. 2021, "A Mathematical Framework for Transformer Circuits";
Olsson et al. 2022, "In-context Learning and Induction Heads").

The training script, the prompts generator and the evaluation share this module, so all
three use the same vocabulary, sequence format and score definitions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np
import torch
from jaxtyping import Float, Int

BOS_TOKEN = "<|bos|>"
EOS_TOKEN = "<|eos|>"
PAD_TOKEN = "<|pad|>"
UNK_TOKEN = "<|unk|>"
T = TypeVar("T")

SPECIAL_TOKENS = [BOS_TOKEN, EOS_TOKEN, PAD_TOKEN, UNK_TOKEN]

# 200 made-up two-syllable words ("baba", "bafe", ...): every 24th of the 4,900
# consonant-vowel-consonant-vowel words, in alphabetical order. A vocabulary this large
# makes "predict any word seen earlier" a poor strategy (about ln 12 nats against ln 200),
# so the cheap way to the repeated copy is the induction circuit. Each word is a single
# token of the word-level tokenizer, so a prompt of words maps one-to-one onto token ids.
_SYLLABLES = [consonant + vowel for consonant in "bdfgklmnprstvz" for vowel in "aeiou"]
WORDS = [first + second for first in _SYLLABLES for second in _SYLLABLES][::24][:200]

MIN_SPAN_LENGTH = 6
MAX_SPAN_LENGTH = 12
MAX_PREFIX_LENGTH = 8
MAX_GAP_LENGTH = 4
# Share of training sequences that alternate two words ("a b a b ..."). Predicting them
# rewards attending to the token before the previous one, so layer 0 forms a
# previous-token head early in training. The induction heads in layer 1 then form on top
# of it through K-composition.
ALTERNATING_FRACTION = 0.3
MIN_ALTERNATING_LENGTH = 8
MAX_ALTERNATING_LENGTH = 40
MAX_SEQUENCE_LENGTH = 64


def build_tokenizer():
    """Build the word-level tokenizer: special tokens get ids 0-3 and `WORDS` ids 4 onward.

    The tokenizer does not add `<|bos|>` itself, because TransformerLens prepends BOS when it
    tokenizes a string. Callers that feed token ids straight to the Hugging Face model add
    BOS themselves.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {token: index for index, token in enumerate(SPECIAL_TOKENS + WORDS)}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK_TOKEN))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    # The WordPiece decoder joins tokens with single spaces. No word starts with "##" and
    # cleanup is off, so decoding is exactly " ".join(tokens).
    backend.decoder = decoders.WordPiece(prefix="##", cleanup=False)
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=BOS_TOKEN,
        eos_token=EOS_TOKEN,
        pad_token=PAD_TOKEN,
        unk_token=UNK_TOKEN,
        model_max_length=MAX_SEQUENCE_LENGTH,
    )


def word_token_ids(tokenizer) -> list[int]:
    """Return the token id of each entry of `WORDS`, in order."""
    return tokenizer.convert_tokens_to_ids(WORDS)


def sample_span(rng: np.random.Generator, words: Sequence[T], length: int) -> list[T]:
    """Sample `length` distinct items of `words` (token ids or strings) in random order."""
    if not 1 <= length <= len(words):
        raise ValueError(f"span length must be in [1, {len(words)}], got {length}")
    indices = rng.choice(len(words), size=length, replace=False)
    return [words[index] for index in indices]


def sample_training_sequence(
    rng: np.random.Generator, word_ids: list[int], bos_id: int
) -> list[int]:
    """Sample one training sequence.

    With probability `ALTERNATING_FRACTION`: BOS and two random words alternating. Otherwise:
    BOS, a random prefix, a span of random words, a random gap, the same span again. The
    random prefix and gap move the copies around, so attending by a fixed position offset
    does not replace the induction head. Words are drawn with replacement.
    """
    if rng.random() < ALTERNATING_FRACTION:
        first, second = sample_random_words(rng, word_ids, 2)
        length = int(rng.integers(MIN_ALTERNATING_LENGTH, MAX_ALTERNATING_LENGTH + 1))
        return [bos_id, *[first if index % 2 == 0 else second for index in range(length)]]
    span_length = int(rng.integers(MIN_SPAN_LENGTH, MAX_SPAN_LENGTH + 1))
    span = sample_random_words(rng, word_ids, span_length)
    prefix = sample_random_words(rng, word_ids, int(rng.integers(0, MAX_PREFIX_LENGTH + 1)))
    gap = sample_random_words(rng, word_ids, int(rng.integers(0, MAX_GAP_LENGTH + 1)))
    return [bos_id, *prefix, *span, *gap, *span]


def sample_random_words(rng: np.random.Generator, word_ids: list[int], length: int) -> list[int]:
    return [word_ids[int(index)] for index in rng.integers(0, len(word_ids), size=length)]


def pad_batch(
    sequences: list[list[int]], pad_id: int
) -> tuple[Int[torch.Tensor, "batch pos"], Int[torch.Tensor, "batch pos"]]:
    """Right-pad `sequences` and return (input_ids, labels), with label -100 on padding.

    Right padding needs no attention mask in a causal model: real tokens never attend to
    the padding after them.
    """
    max_length = max(len(sequence) for sequence in sequences)
    input_ids = torch.full((len(sequences), max_length), pad_id, dtype=torch.long)
    labels = torch.full((len(sequences), max_length), -100, dtype=torch.long)
    for row, sequence in enumerate(sequences):
        input_ids[row, : len(sequence)] = torch.tensor(sequence)
        labels[row, : len(sequence)] = torch.tensor(sequence)
    return input_ids, labels


def repeated_span_batch(
    rng: np.random.Generator, word_ids: list[int], bos_id: int, batch_size: int, span_length: int
) -> Int[torch.Tensor, "batch pos"]:
    """Sample `batch_size` sequences of BOS + span + the same span, with no prefix or gap.

    All rows share `span_length`, so the first copy sits at positions 1..span_length and
    the second copy at positions span_length+1..2*span_length.
    """
    rows = []
    for _ in range(batch_size):
        span = sample_span(rng, word_ids, span_length)
        rows.append([bos_id, *span, *span])
    return torch.tensor(rows, dtype=torch.long)


def previous_token_scores(
    pattern: Float[torch.Tensor, "batch head query_pos key_pos"],
) -> Float[torch.Tensor, "head"]:
    """Mean attention from each position i >= 1 to position i - 1, per head."""
    previous_token_attention = pattern.diagonal(offset=-1, dim1=-2, dim2=-1)
    return previous_token_attention.mean(dim=(0, -1))


def induction_scores(
    pattern: Float[torch.Tensor, "batch head query_pos key_pos"], span_length: int
) -> Float[torch.Tensor, "head"]:
    """Mean attention from each second-copy token to the token after its first occurrence, per head.

    `pattern` must come from `repeated_span_batch` sequences with this `span_length`. The
    query at position span_length + 1 + j has the same token as position 1 + j, so the
    induction target is key position 2 + j: a diagonal at offset -(span_length - 1).
    """
    expected_length = 1 + 2 * span_length
    if pattern.shape[-1] != expected_length:
        raise ValueError(
            f"pattern covers {pattern.shape[-1]} positions, but BOS + two spans of "
            f"{span_length} tokens is {expected_length}"
        )
    induction_attention = pattern.diagonal(offset=-(span_length - 1), dim1=-2, dim2=-1)
    # The diagonal starts at query span_length - 1; keep only the span_length queries of
    # the second copy.
    second_copy_attention = induction_attention[..., -span_length:]
    return second_copy_attention.mean(dim=(0, -1))
