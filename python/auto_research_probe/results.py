"""Results files: the atomic JSON writer, the provenance block and the status rule.

A results file (`results/probe/<probe_id>.json`, schema_version "1") is what the
auto-research plugin and the Java validator read. The statistics rule of the plugin
is that findings on few prompts are a hypothesis: a run is labelled "result" only
with at least 64 examples per seed and at least 3 distinct seeds, otherwise
"exploratory".
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

SCHEMA_VERSION = "1"
MIN_EXAMPLES_FOR_RESULT = 64
MIN_SEEDS_FOR_RESULT = 3
PROBE_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_]{0,79}$")
TRACKED_PACKAGES = ("torch", "transformer-lens", "transformers", "nnsight", "numpy")


def decide_status(n_examples: int, seeds: Sequence[int]) -> str:
    """Return "result" when n_examples >= 64 and there are >= 3 distinct seeds, else "exploratory"."""
    if n_examples >= MIN_EXAMPLES_FOR_RESULT and len(set(seeds)) >= MIN_SEEDS_FOR_RESULT:
        return "result"
    return "exploratory"


def validate_probe_id(probe_id: str) -> str:
    """Return `probe_id` unchanged, or raise ValueError when it does not match the contract pattern."""
    if not isinstance(probe_id, str) or not PROBE_ID_PATTERN.match(probe_id):
        raise ValueError(
            f"probe_id {probe_id!r} is invalid: use 1 to 80 characters of a-z, 0-9 and _, "
            "starting with a letter or digit"
        )
    return probe_id


def package_versions(names: Iterable[str] = TRACKED_PACKAGES) -> dict[str, str]:
    """Return the installed version of each distribution, or "not installed"."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Return the sha256 hex digest of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def build_provenance(
    *,
    script_path: str | os.PathLike[str] | None,
    project_root: str | os.PathLike[str],
    run_id: str,
    model_id: str,
    weights_sha256: str,
    dtype: str,
    device: str,
    duration_s: float,
    created_at: str | None = None,
) -> dict[str, Any]:
    """Build the `provenance` object of a results file.

    `script` is the script's path relative to `project_root` when it lies inside it,
    and `script_sha256` hashes the script's bytes as they were at the end of the run.
    Without a script file (an interactive session) both are empty strings.
    """
    script = ""
    script_sha256 = ""
    if script_path is not None and Path(script_path).is_file():
        resolved = Path(script_path).resolve()
        try:
            script = resolved.relative_to(Path(project_root).resolve()).as_posix()
        except ValueError:
            script = resolved.as_posix()
        script_sha256 = file_sha256(resolved)

    return {
        "created_at": created_at or datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "run_id": run_id,
        "script": script,
        "script_sha256": script_sha256,
        "package_versions": package_versions(),
        "model_id": model_id,
        "weights_sha256": weights_sha256,
        "dtype": dtype,
        "device": device,
        "duration_s": round(float(duration_s), 3),
    }


def _reject_non_finite(value: Any, where: str = "$") -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"results value at {where} is {value}: JSON has no NaN or infinity")
    if isinstance(value, dict):
        for key, item in value.items():
            _reject_non_finite(item, f"{where}.{key}")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _reject_non_finite(item, f"{where}[{index}]")


def readable_file_mode() -> int:
    """Return the mode a plain `open()` would give a new file under the current umask.

    `tempfile.mkstemp` creates files readable by their owner only; results, plots and cache
    entries are meant to be shared like any other file in the project.
    """
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write `data` to `path` so readers see either the old file or the whole new one.

    The bytes go to a temporary file in the same folder, which is flushed, fsynced and
    then moved over `path` with `os.replace` (atomic on POSIX and Windows within one file
    system). On any failure the temporary file is removed and `path` is left as it was.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp_name, readable_file_mode())
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return target


def write_json_atomic(path: str | os.PathLike[str], payload: Any) -> Path:
    """Write `payload` as JSON to `path` atomically, with `write_bytes_atomic`.

    The payload is serialised before any file is touched, so a value that is not JSON
    (NaN, an object) raises without creating anything.
    """
    _reject_non_finite(payload)
    text = json.dumps(payload, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    return write_bytes_atomic(path, text.encode("utf-8"))
