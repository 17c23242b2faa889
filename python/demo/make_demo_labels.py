"""Generate python/demo/labels.jsonl: labelled texts for probing the demo model.

    uv run --extra attention python python/demo/make_demo_labels.py

Each line is {"text": "w1 ... wn x", "label": "repeated" | "new"}: n distinct words of the
demo vocabulary (`induction_task.WORDS`), then a final word x. The label is "repeated"
when x already occurred among w1 .. w(n-1) (never wn, so x does not repeat the word just
before it) and "new" when it did not occur at all. Half the lines have each label, and
both classes share the same length distribution and, word for word, the same chance of
any word being the final one, so neither the length nor the identity of the final token
gives the label away. Reading it at the last position needs attention to earlier
positions: the token embedding alone (resid_pre of block 0) carries nothing about it.
The demo model has no head in block 0 that matches equal tokens, while its induction
head in block 1 attends from a repeated word to the word after its earlier occurrence,
so a probe should find the label in block 1's attention output and after it.

The output is the same for the same seed and vocabulary. Another probe (SAE feature
lookup) reads the same file, so the format stays {"text", "label"}.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import induction_task

DEMO_DIR = Path(__file__).resolve().parent
DEFAULT_LABELS_PATH = DEMO_DIR / "labels.jsonl"
N_TEXTS = 600
LABELS_SEED = 4040
MIN_WORDS = 4
MAX_WORDS = 12
REPEATED = "repeated"
NEW = "new"


def make_labels(n_texts: int = N_TEXTS, seed: int = LABELS_SEED) -> list[dict[str, str]]:
    """Return `n_texts` labelled texts, alternating "repeated" and "new" in a seeded order."""
    if n_texts < 2:
        raise ValueError(f"n_texts must be at least 2, got {n_texts}")
    rng = np.random.default_rng(seed)
    labels = np.array([REPEATED, NEW] * (n_texts // 2) + [REPEATED] * (n_texts % 2))
    rng.shuffle(labels)
    lines = []
    for label in labels:
        n_words = int(rng.integers(MIN_WORDS, MAX_WORDS + 1))
        # n + 1 distinct words: the text's n words and one word the text does not contain.
        words = induction_task.sample_span(rng, induction_task.WORDS, n_words + 1)
        text_words, unused = words[:n_words], words[n_words]
        if label == REPEATED:
            final = text_words[int(rng.integers(0, n_words - 1))]
        else:
            final = unused
        lines.append({"text": " ".join([*text_words, final]), "label": str(label)})
    return lines


def check_labels(lines: list[dict[str, str]]) -> None:
    """Raise ValueError when a line's label does not match its text."""
    for line_number, line in enumerate(lines, start=1):
        words = line["text"].split()
        repeated = words[-1] in words[:-2]
        if words[-1] == words[-2] or (line["label"] == REPEATED) != repeated or len(set(words[:-1])) != len(words) - 1:
            raise ValueError(f"line {line_number}: label {line['label']!r} does not match text {line['text']!r}")


def write_labels(path: Path, n_texts: int = N_TEXTS, seed: int = LABELS_SEED) -> None:
    """Generate, check and write the labels file."""
    lines = make_labels(n_texts, seed)
    check_labels(lines)
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_LABELS_PATH, help="JSONL file to write")
    parser.add_argument("--n-texts", type=int, default=N_TEXTS, help="number of lines")
    parser.add_argument("--seed", type=int, default=LABELS_SEED, help="seed of the generator")
    args = parser.parse_args()
    write_labels(args.out, args.n_texts, args.seed)
    print(f"wrote {args.n_texts} labelled texts to {args.out}")


if __name__ == "__main__":
    main()
