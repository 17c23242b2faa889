"""Generate python/demo/pairs.jsonl: clean/corrupted induction pairs for the demo model.

    uv run --extra attention python python/demo/make_demo_pairs.py

Each line is {"clean", "corrupted", "answer", "wrong_answer"} for activation and path
patching. A span of 10 distinct words s0..s9 is followed by its first 5 words again:

    clean:      s0 s1 s2 s3 s4 s5 s6 s7 s8 s9 s0 s1 s2 s3 s4   answer " s5"
    corrupted:  s0 s1 s2 s3 s7 s5 s6 s4 s8 s9 s0 s1 s2 s3 s4   wrong_answer " s8"

In the corrupted prompt s4 and s7 swap places in the first copy only, so the word
after the earlier s4 is s8: an induction circuit now predicts s8 instead of s5. Both
prompts contain the same words in the same number of tokens; they differ only in
which token precedes s5 and s8 in the first copy. That is the information the
previous-token head in layer 0 writes and the induction heads in layer 1 read through
their keys, so patching should find the effect there.

Prompts are space-joined words without `<|bos|>` (TransformerLens prepends it), and
answers have a leading space. The output is the same for the same seed and vocabulary.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import induction_task

DEMO_DIR = Path(__file__).resolve().parent
DEFAULT_MODEL_DIR = DEMO_DIR / "induction-demo-model"
DEFAULT_PAIRS_PATH = DEMO_DIR / "pairs.jsonl"
N_PAIRS = 512
PAIRS_SEED = 2025
SPAN_LENGTH = 10
N_REPEATED = 5
# Positions in the span whose words swap in the corrupted prompt's first copy.
SWAPPED = (4, 7)


def make_pairs(n_pairs: int = N_PAIRS, seed: int = PAIRS_SEED) -> list[dict[str, str]]:
    """Return `n_pairs` clean/corrupted pairs built from `induction_task.WORDS`."""
    rng = np.random.default_rng(seed)
    first, second = SWAPPED
    pairs = []
    for _ in range(n_pairs):
        span = induction_task.sample_span(rng, induction_task.WORDS, SPAN_LENGTH)
        swapped = list(span)
        swapped[first], swapped[second] = swapped[second], swapped[first]
        repeated = span[:N_REPEATED]
        pairs.append(
            {
                "clean": " ".join(span + repeated),
                "corrupted": " ".join(swapped + repeated),
                "answer": " " + span[N_REPEATED],
                "wrong_answer": " " + span[second + 1],
            }
        )
    return pairs


def check_pairs(pairs: list[dict[str, str]], tokenizer) -> None:
    """Raise ValueError unless every answer is one known token and both prompts have one length without BOS or UNK."""
    for line_number, pair in enumerate(pairs, start=1):
        for key in ("answer", "wrong_answer"):
            ids = tokenizer.encode(pair[key], add_special_tokens=False)
            if len(ids) != 1 or ids[0] == tokenizer.unk_token_id:
                raise ValueError(f"line {line_number}: {key} {pair[key]!r} tokenizes to {ids}, expected one word token")
        clean_ids = tokenizer.encode(pair["clean"], add_special_tokens=False)
        corrupted_ids = tokenizer.encode(pair["corrupted"], add_special_tokens=False)
        if len(clean_ids) != len(corrupted_ids):
            raise ValueError(f"line {line_number}: clean has {len(clean_ids)} tokens, corrupted {len(corrupted_ids)}")
        for ids in (clean_ids, corrupted_ids):
            if tokenizer.bos_token_id in ids or tokenizer.unk_token_id in ids:
                raise ValueError(f"line {line_number}: a prompt contains BOS or UNK")


def write_pairs(model_dir: Path, pairs_path: Path) -> None:
    """Generate the pairs, check them against the tokenizer saved in `model_dir`, write JSONL."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    pairs = make_pairs()
    check_pairs(pairs, tokenizer)
    lines = [json.dumps(pair, ensure_ascii=False) + "\n" for pair in pairs]
    pairs_path.write_text("".join(lines), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model-dir",
        type=Path,
        default=DEFAULT_MODEL_DIR,
        help="model folder whose tokenizer is used to check every pair",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_PAIRS_PATH, help="JSONL file to write")
    args = parser.parse_args()
    write_pairs(args.model_dir, args.out)
    print(f"wrote {N_PAIRS} pairs to {args.out}")


if __name__ == "__main__":
    main()
