"""Line splitting for the JSON Lines input files (prompts, pairs, labelled texts).

`str.splitlines` also breaks at U+2028, U+2029, U+0085, form feed and other separators,
which JSON allows unescaped inside a string, so a prompt that contains one would be cut in
two. Java's setup check splits at CR LF, CR and LF only; so does this module.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def jsonl_lines(text: str) -> list[str]:
    """Split `text` into lines at CR LF, CR and LF, and nowhere else."""
    return _LINE_BREAK.split(text)


def read_jsonl_records(path: str | os.PathLike[str], kind: str) -> Iterator[tuple[Path, int, Any]]:
    """Yield (file, 1-based line number, parsed JSON value) for each non-blank line of a JSONL file.

    `kind` names the file in errors, such as "prompts". A missing file, text that is not
    UTF-8 and a line that is not JSON raise ValueError naming the file and the line.
    """
    source = Path(path)
    if not source.is_file():
        raise ValueError(f"{kind} file not found: {source}")
    try:
        text = source.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{source}: not valid UTF-8 at byte {error.start}") from error
    for line_number, line in enumerate(jsonl_lines(text), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{source}:{line_number}: invalid JSON ({error.msg} at column {error.colno})") from error
        yield source, line_number, record
