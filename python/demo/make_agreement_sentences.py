"""Generate python/demo/agreement.jsonl: English sentences labelled by the number of their subject.

    uv run --extra attention python python/demo/make_agreement_sentences.py

Each line is {"text": ..., "label": "singular" | "plural", "attractor": ...}, where label
is the grammatical number of the sentence's subject noun. `attractor` names the kind of
other noun the sentence contains (the labels loader ignores this key):

- "opposite" (half the lines): a noun of the other number inside a prepositional phrase,
  "the key to the cabinets" or "the keys to the cabinet". These sentences hold one
  singular and one plural noun, so which words occur does not tell the label; only
  which noun is the subject does.
- "same" (a quarter): a noun of the same number, "the keys to the cabinets".
- "none" (a quarter): the subject is the only noun.

In "same" and "none" sentences the label can be read from the words alone (is there a
plural noun?), so a probe on token counts without any model does well on the whole
file; results report that baseline, and the "opposite" lines alone test syntax.

Further, so that no fixed token position gives the label away:

- each noun pair is used both ways round, so a noun's identity does not tell the label;
- in about a third of the sentences with an attractor the prepositional phrase comes
  first ("Behind the houses, the dog slept."), so the subject is not always the first
  noun;
- an optional opening phrase and optional adjectives move the subject's position;
- determiners are ones that do not mark number (the, my, their, ...), and the verb is
  absent or does not agree (past tense, modal verbs), so no verb form carries the label.

The output is the same for the same seed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

DEMO_DIR = Path(__file__).resolve().parent
DEFAULT_OUT = DEMO_DIR / "agreement.jsonl"
N_SENTENCES = 640
SEED = 7
FRONTED_FRACTION = 0.33

NOUNS = [
    ("key", "keys"), ("cabinet", "cabinets"), ("dog", "dogs"), ("teacher", "teachers"), ("student", "students"),
    ("bottle", "bottles"), ("window", "windows"), ("painting", "paintings"), ("farmer", "farmers"),
    ("doctor", "doctors"), ("letter", "letters"), ("table", "tables"), ("car", "cars"), ("road", "roads"),
    ("friend", "friends"), ("neighbor", "neighbors"), ("box", "boxes"), ("bus", "buses"), ("church", "churches"),
    ("child", "children"), ("man", "men"), ("woman", "women"), ("mouse", "mice"), ("foot", "feet"),
    ("city", "cities"), ("baby", "babies"), ("story", "stories"), ("knife", "knives"), ("leaf", "leaves"),
    ("author", "authors"), ("player", "players"), ("singer", "singers"), ("engine", "engines"), ("lamp", "lamps"),
    ("book", "books"), ("garden", "gardens"), ("river", "rivers"), ("bridge", "bridges"), ("house", "houses"),
    ("horse", "horses"),
]
DETERMINERS = ["the", "the", "the", "my", "our", "your", "their", "his", "her"]
ADJECTIVES = ["old", "small", "new", "broken", "famous", "quiet", "red", "tired", "strange", "local"]
PREPOSITIONS = ["to", "near", "behind", "beside", "from", "with", "under", "for", "of", "next to", "above"]
FRONTING_PREPOSITIONS = ["Near", "Behind", "Beside", "Under", "Next to", "Above", "Across from"]
OPENERS = ["Yesterday,", "In the morning,", "As expected,", "Apparently,", "Last winter,", "According to the report,", "Suddenly,"]
# Past tense and modal verbs do not agree with the subject in English.
PREDICATES = [
    "fell over", "looked strange", "vanished", "stayed there", "worked late", "will arrive soon", "can wait",
    "might help", "had gone", "seemed fine", "moved slowly", "disappeared again", "would stay", "got lost",
]


def _noun_phrase(rng: np.random.Generator, noun: str, adjective_chance: float = 0.4) -> str:
    determiner = DETERMINERS[int(rng.integers(len(DETERMINERS)))]
    if rng.random() < adjective_chance:
        return f"{determiner} {ADJECTIVES[int(rng.integers(len(ADJECTIVES)))]} {noun}"
    return f"{determiner} {noun}"


def make_sentences(n_sentences: int = N_SENTENCES, seed: int = SEED) -> list[dict[str, str]]:
    """Return `n_sentences` sentences, half with a singular and half with a plural subject, in a seeded order."""
    if n_sentences < 8 or n_sentences % 8:
        raise ValueError(f"n_sentences must be a multiple of 8, got {n_sentences}")
    rng = np.random.default_rng(seed)
    n_pairs = n_sentences // 2
    kinds = ["opposite"] * (n_pairs // 2) + ["same"] * (n_pairs // 4) + ["none"] * (n_pairs // 4)
    lines = []
    # Each draw of a noun pair gives two sentences of the same kind: one with a singular and one with a plural
    # subject, so every noun is as often a singular subject as a plural one.
    for kind in (kinds[int(index)] for index in rng.permutation(len(kinds))):
        first, second = (int(index) for index in rng.choice(len(NOUNS), size=2, replace=False))
        for number, label in ((0, "singular"), (1, "plural")):
            subject = NOUNS[first][number]
            if kind == "none":
                text = _sentence(rng, subject, None)
            else:
                attractor_number = 1 - number if kind == "opposite" else number
                text = _sentence(rng, subject, NOUNS[second][attractor_number])
            lines.append({"text": text, "label": label, "attractor": kind})
    order = rng.permutation(len(lines))
    return [lines[int(index)] for index in order]


def _sentence(rng: np.random.Generator, subject: str, attractor: str | None) -> str:
    predicate = PREDICATES[int(rng.integers(len(PREDICATES)))]
    if attractor is None:
        words = [_noun_phrase(rng, subject)]
    elif rng.random() < FRONTED_FRACTION:
        preposition = FRONTING_PREPOSITIONS[int(rng.integers(len(FRONTING_PREPOSITIONS)))]
        return f"{preposition} {_noun_phrase(rng, attractor)}, {_noun_phrase(rng, subject)} {predicate}."
    else:
        preposition = PREPOSITIONS[int(rng.integers(len(PREPOSITIONS)))]
        words = [_noun_phrase(rng, subject), preposition, _noun_phrase(rng, attractor)]
    if rng.random() < 0.4:
        words.insert(0, OPENERS[int(rng.integers(len(OPENERS)))])
    # A quarter of the sentences with an attractor are bare noun phrases without a verb.
    if attractor is None or rng.random() < 0.75:
        words.append(predicate)
    text = " ".join(words)
    return text[0].upper() + text[1:] + "."


def check_sentences(lines: list[dict[str, str]]) -> None:
    """Raise ValueError unless each sentence's nouns match its label and attractor kind, and the labels balance."""
    singular = {pair[0] for pair in NOUNS}
    plural = {pair[1] for pair in NOUNS}
    expected = {
        ("singular", "none"): (1, 0), ("plural", "none"): (0, 1),
        ("singular", "same"): (2, 0), ("plural", "same"): (0, 2),
        ("singular", "opposite"): (1, 1), ("plural", "opposite"): (1, 1),
    }
    for line_number, line in enumerate(lines, start=1):
        words = [word.strip(".,").lower() for word in line["text"].split()]
        counts = (sum(word in singular for word in words), sum(word in plural for word in words))
        if counts != expected[(line["label"], line["attractor"])]:
            raise ValueError(f"line {line_number}: the nouns of {line['text']!r} do not match {line['label']}/{line['attractor']}")
    for kind in ("none", "same", "opposite"):
        labels = [line["label"] for line in lines if line["attractor"] == kind]
        if labels.count("singular") != labels.count("plural"):
            raise ValueError(f"the labels of the {kind!r} sentences are not balanced")


def write_sentences(path: Path, n_sentences: int = N_SENTENCES, seed: int = SEED) -> None:
    """Generate, check and write the sentences."""
    lines = make_sentences(n_sentences, seed)
    check_sentences(lines)
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSONL file to write")
    parser.add_argument("--n-sentences", type=int, default=N_SENTENCES, help="number of lines (a multiple of 8)")
    parser.add_argument("--seed", type=int, default=SEED, help="seed of the generator")
    args = parser.parse_args()
    write_sentences(args.out, args.n_sentences, args.seed)
    print(f"wrote {args.n_sentences} sentences to {args.out}")


if __name__ == "__main__":
    main()
