"""Line splitting for the JSON Lines input files (prompts, pairs, labelled texts).

`str.splitlines` also breaks at U+2028, U+2029, U+0085, form feed and other separators,
which JSON allows unescaped inside a string, so a prompt that contains one would be cut in
two. Java's setup check splits at CR LF, CR and LF only; so does this module.
"""

from __future__ import annotations

import re

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def jsonl_lines(text: str) -> list[str]:
    """Split `text` into lines at CR LF, CR and LF, and nowhere else."""
    return _LINE_BREAK.split(text)
