"""Labelled texts: the JSONL file that probing classifiers and SAE feature lookup read.

One JSON object per line, `{"text": str, "label": str | int | bool}`. Blank lines are
skipped and other keys are ignored. Probing needs a label on every line; SAE feature
lookup accepts lines without one (it then reports token associations only). Labels
are kept as strings ("1" and 1 are the same class), so the classes of a results
file read the same whatever JSON type the file used.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .jsonl import read_jsonl_records


@dataclass(frozen=True)
class LabeledText:
    """One line of a labels file: the text, its label as a string (or None) and the 1-based line number."""

    text: str
    label: str | None
    line_number: int


def load_labeled_texts(path: str | os.PathLike[str], require_labels: bool = True) -> list[LabeledText]:
    """Read a labels JSONL file, raising ValueError that names the file and line of the first invalid line."""
    source = Path(path)
    examples = []
    for source, line_number, record in read_jsonl_records(path, "labels"):
        examples.append(_parse_record(record, source, line_number, require_labels))
    if not examples:
        raise ValueError(f"{source}: no texts found; expected one JSON object per line such as "
                         "{\"text\": \"...\", \"label\": \"...\"}")
    return examples


def _parse_record(record: Any, source: Path, line_number: int, require_labels: bool) -> LabeledText:
    where = f"{source}:{line_number}"
    if not isinstance(record, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(record).__name__}")
    if "text" not in record:
        raise ValueError(f"{where}: missing key \"text\" (keys found: {sorted(record)})")
    text = record["text"]
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{where}: \"text\" must be a non-empty string, got {text!r}")

    if "label" not in record or record["label"] is None:
        if require_labels:
            problem = "missing key \"label\"" if "label" not in record else "\"label\" is null"
            raise ValueError(f"{where}: {problem}; probing needs a label on every line (keys found: {sorted(record)})")
        return LabeledText(text=text, label=None, line_number=line_number)
    return LabeledText(text=text, label=_label_string(record["label"], where), line_number=line_number)


def _label_string(label: Any, where: str) -> str:
    # bool before int: True is an int in Python, and "true" must not become "1".
    if isinstance(label, bool):
        return "true" if label else "false"
    if isinstance(label, int):
        return str(label)
    if isinstance(label, str) and label.strip():
        return label
    raise ValueError(f"{where}: \"label\" must be a non-empty string, an integer or a boolean, got {label!r}")


def class_counts(examples: Sequence[LabeledText]) -> dict[str, int]:
    """Counts per label, in sorted label order; lines without a label are not counted."""
    counts = Counter(example.label for example in examples if example.label is not None)
    return {label: counts[label] for label in sorted(counts)}


def check_classes_for_folds(examples: Sequence[LabeledText], folds: int, source: str = "the labels file") -> dict[str, int]:
    """Check that stratified k-fold cross-validation can run, and return the class counts.

    Needs at least two classes, and at least `folds` examples in every class, so that
    each held-out fold contains every class.
    """
    if folds < 2:
        raise ValueError(f"folds must be at least 2 for held-out accuracy, got {folds}")
    counts = class_counts(examples)
    if len(counts) < 2:
        only = next(iter(counts), None)
        raise ValueError(f"{source} has one class only ({only!r}); a probe needs at least two labels to tell apart")
    small = {label: count for label, count in counts.items() if count < folds}
    if small:
        listed = ", ".join(f"{label!r}: {count}" for label, count in small.items())
        raise ValueError(f"{source} has fewer examples than folds ({folds}) in class(es) {listed}; "
                         f"add examples or pass fewer folds")
    return counts
