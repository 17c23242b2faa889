"""Steps every probe shares: paths under the project root, the settings checks, the event
wrapper around a run, and atomic writes of pages and plots.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from .events import EventLog, make_run_id
from .results import build_provenance, validate_probe_id, write_bytes_atomic


def resolve_in_project(path: str | os.PathLike[str], project_root: Path) -> Path:
    """Return `path` when it is absolute, else `path` under `project_root`."""
    candidate = Path(path)
    return candidate if candidate.is_absolute() else project_root / candidate


def check_run_settings(
    probe_id: str,
    n_examples: int,
    seeds: Sequence[int],
    *,
    batch_size: int | None = None,
    n_bootstrap: int | None = None,
) -> None:
    """Raise ValueError naming the value when the probe id, example count, seeds or sizes are invalid."""
    validate_probe_id(probe_id)
    if n_examples < 1:
        raise ValueError(f"n_examples must be at least 1, got {n_examples}")
    if not seeds:
        raise ValueError("seeds is empty: give at least one seed")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds contains duplicates: {list(seeds)}")
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if n_bootstrap is not None and n_bootstrap < 1:
        raise ValueError(f"n_bootstrap must be at least 1, got {n_bootstrap}")


def run_with_events(
    *,
    intervention: str,
    probe_id: str,
    events_path: Path,
    script_path: str | None,
    body: Callable[[EventLog, float], Path],
    milestones: Sequence[str] = (),
) -> Path:
    """Call `body(log, started)` between `probe.start` and `probe.end` events and return its path.

    An exception from `body` is logged as `probe.error` with its duration and raised again.
    Each event in `milestones`, then `probe.end`, is also reported as a progress step.
    """
    log = EventLog(events_path, make_run_id(script_path), milestones=(*milestones, "probe.end"))
    started = time.perf_counter()
    log.emit("probe.start", probe_id=probe_id, intervention=intervention)
    try:
        with exit_cleanly_on_sigterm():
            results_path = body(log, started)
    except Exception as error:
        log.error("probe.error", error, duration_ms=(time.perf_counter() - started) * 1000, probe_id=probe_id)
        raise
    log.emit("probe.end", duration_ms=(time.perf_counter() - started) * 1000, probe_id=probe_id, results=str(results_path))
    return results_path


@contextlib.contextmanager
def exit_cleanly_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into `SystemExit(143)` while the block runs, so cleanup code runs before the exit.

    `probe run` stops a script with SIGTERM when it is interrupted (Ctrl-C). By default
    Python then dies at once. Raised as an exception, the signal lets the `except
    BaseException` and `finally` blocks of the atomic writes and the cache remove their
    temporary files first. The exit status stays 143 (128 + SIGTERM). Outside the main
    thread, or when a handler other than the default one is installed, nothing changes.
    """
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def terminate(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def save_figure_atomic(figure: Any, target: Path, dpi: int = 120) -> Path:
    """Render a matplotlib figure as PNG, write it to `target` atomically and close the figure."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    try:
        figure.savefig(buffer, format="png", dpi=dpi)
    finally:
        plt.close(figure)
    return write_bytes_atomic(target, buffer.getvalue())


def probe_provenance(config: Any, root: Path, log: EventLog, model: Any, weights_sha256: str, started: float) -> dict[str, Any]:
    """Build a results file's provenance from a probe config with `script_path`, `model_id` and `dtype`.

    The model id is recorded as the script writes it: a resolved path would pin this
    machine's folders. `remote` and `device_map` come from the config when it has them
    (the nnsight settings), else False and None. `remote` is true only for a run on
    NDIF (`remote is True`), not for "local", which serialises each request but runs
    it here. An nnsight run also records `module_paths`, the resolved module path of
    each role (`NnsightLM.paths`, MODULE_PATHS overrides included).
    """
    provenance = build_provenance(
        script_path=config.script_path,
        project_root=root,
        run_id=log.run_id,
        model_id=config.model_id,
        weights_sha256=weights_sha256,
        dtype=config.dtype,
        device=str(model.cfg.device),
        duration_s=time.perf_counter() - started,
    )
    provenance["remote"] = getattr(config, "remote", False) is True
    provenance["device_map"] = getattr(config, "device_map", None)
    if getattr(config, "backend", "transformer_lens") == "nnsight":
        provenance["module_paths"] = dict(model.paths)
    return provenance
