"""Event lines for the research workspace's `events.jsonl`.

Each line is one JSON object with `event`, `level` (debug, info, warning or error),
`ts` (ISO 8601 in UTC), `run_id` (`YYYYMMDD-HHMMSS-<sha7>-<hash6>`) and
`duration_ms`. Error lines add `error_type` and `error_message`. The auto-research
plugin reads these lines, so the field names are fixed.

Values of secret environment variables (API keys, tokens, passwords) are replaced
with `[redacted]` wherever they appear in a string field, so a line never contains
the `NDIF_API_KEY` or `HF_TOKEN` value even when an exception message quotes it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

LEVELS = ("debug", "info", "warning", "error")
RUN_ID_ENV = "AUTO_RESEARCH_RUN_ID"
# Prefix of the progress lines a probe prints on stderr; `probe run` turns each into one
# progress line per script instead of passing it through.
PROGRESS_MARKER = "@auto-research-progress "

RUN_ID_PATTERN = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{7}-[0-9a-f]{6}$")

_SECRET_ENV_NAMES = ("NDIF_API_KEY", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HUGGINGFACE_TOKEN")
_SECRET_NAME_PATTERN = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD)$")
# Short values such as "1" or "true" are flags, not secrets, and redacting them would
# mangle ordinary text.
_MIN_SECRET_LENGTH = 8
_REDACTED = "[redacted]"


def utc_timestamp() -> str:
    """Return the current time as ISO 8601 in UTC with millisecond precision."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def make_run_id(script_path: str | os.PathLike[str] | None = None) -> str:
    """Return the run id from `AUTO_RESEARCH_RUN_ID`, or make a new one.

    A new id is `YYYYMMDD-HHMMSS-<sha7>-<hash6>`. It starts with the UTC start time.
    `sha7` is the first 7 hex digits of the sha256 of the script file (zeros without
    one), and `hash6` is 6 random hex digits so two runs in the same second differ.
    """
    from_env = os.environ.get(RUN_ID_ENV)
    if from_env:
        if not RUN_ID_PATTERN.match(from_env):
            raise ValueError(
                f"{RUN_ID_ENV}={from_env!r} is invalid: expected YYYYMMDD-HHMMSS-<7 hex>-<6 hex>, "
                "for example 20261204-153000-1a2b3c4-5d6e7f; unset it to get a new run id"
            )
        return from_env

    script_sha7 = "0000000"
    if script_path is not None and Path(script_path).is_file():
        script_sha7 = hashlib.sha256(Path(script_path).read_bytes()).hexdigest()[:7]
    started = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{started}-{script_sha7}-{secrets.token_hex(3)}"


def _secret_values() -> list[str]:
    values = []
    for name, value in os.environ.items():
        if name in _SECRET_ENV_NAMES or _SECRET_NAME_PATTERN.search(name):
            if len(value) >= _MIN_SECRET_LENGTH:
                values.append(value)
    # Longest first, so a secret that contains another one is replaced whole.
    return sorted(values, key=len, reverse=True)


def _redact(value: Any, secrets_to_hide: list[str]) -> Any:
    if isinstance(value, str):
        for secret in secrets_to_hide:
            value = value.replace(secret, _REDACTED)
        return value
    if isinstance(value, dict):
        return {key: _redact(item, secrets_to_hide) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact(item, secrets_to_hide) for item in value]
    return value


class EventLog:
    """Appender of event lines to one `events.jsonl` file for one run.

    With `path=None` every call is a no-op, so library code can log unconditionally.
    """

    def __init__(self, path: str | os.PathLike[str] | None, run_id: str | None = None, milestones: Sequence[str] = ()) -> None:
        """Open the log; each event named in `milestones` is also reported as progress, in that order."""
        self.path = Path(path) if path is not None else None
        self.run_id = run_id if run_id is not None else make_run_id()
        self.milestones = tuple(milestones)
        if not RUN_ID_PATTERN.match(self.run_id):
            raise ValueError(f"run_id {self.run_id!r} is invalid: expected YYYYMMDD-HHMMSS-<7 hex>-<6 hex>")

    def emit(self, event: str, level: str = "info", duration_ms: float = 0.0, **fields: Any) -> dict[str, Any] | None:
        """Append one event line and return the record written, or None without a path.

        The plugin reads `duration_ms` as a number on every line, so a point event such as
        `probe.start` records 0.
        """
        if level not in LEVELS:
            raise ValueError(f"level {level!r} is invalid: expected one of {', '.join(LEVELS)}")
        if event in self.milestones:
            # Before the milestone's own line, so that probe.end stays the last line of a run.
            self.progress(event, self.milestones.index(event) + 1, len(self.milestones))
        if self.path is None:
            return None

        record: dict[str, Any] = {
            "event": event,
            "level": level,
            "ts": utc_timestamp(),
            "run_id": self.run_id,
            "duration_ms": round(float(duration_ms), 3),
        }
        for key, value in fields.items():
            if key in record:
                raise ValueError(f"field {key!r} is reserved in event lines")
            record[key] = value
        record = _redact(record, _secret_values())

        line = json.dumps(record, ensure_ascii=False, default=str, sort_keys=False)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One write call per line, on a file opened with O_APPEND, so that lines appended by
        # processes at the same time do not interleave (on a local file system).
        data = (line + "\n").encode("utf-8")
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            written = os.write(descriptor, data)
            while written < len(data):
                written += os.write(descriptor, data[written:])
        finally:
            os.close(descriptor)
        return record

    def progress(self, step: str, done: int, total: int) -> None:
        """Write a `progress` event and print it on stderr as one marked line for `probe run`."""
        self.emit("progress", level="debug", step=step, done=int(done), total=int(total))
        payload = json.dumps({"step": step, "done": int(done), "total": int(total)})
        print(PROGRESS_MARKER + payload, file=sys.stderr, flush=True)

    def error(self, event: str, error: BaseException, duration_ms: float = 0.0, **fields: Any) -> dict[str, Any] | None:
        """Append an error line with `error_type` and `error_message` taken from `error`."""
        return self.emit(
            event,
            level="error",
            duration_ms=duration_ms,
            error_type=type(error).__name__,
            error_message=str(error),
            **fields,
        )
