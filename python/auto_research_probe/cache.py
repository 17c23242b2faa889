"""Activation cache on disk, keyed by everything that changes the tensors.

A cache entry is the activations of one hook point at a set of layers for one list
of prompts. The key is the sha256 of a canonical JSON object (sorted keys, no
whitespace) with the format version, the model id, the weights fingerprint, the
dtype, the token ids actually fed to the model, the layers and the hook point. Any
change to the weights, the tokenization (a BOS token, a new tokenizer) or the
selection gives a new key, so a stale entry is never returned.

On-disk format, version 2 (`FORMAT_VERSION`). An entry in the cache folder is

- one or more tensor shards `<key>.<i>.safetensors`, i = 0, 1, ..., one per batch of
  prompts in prompt order. Shard i contains one tensor `layer_<L>` per layer, with the
  batch's prompts on the first axis; and
- `<key>.json`, the metadata: `format_version` (2), `key`, `created_at` (ISO 8601
  UTC), `model_id`, `weights_sha256`, `dtype`, `hook_point`, `layers`, `n_prompts`,
  `files` (one object per shard, in order: `name`, `sha256`, `bytes`,
  `first_prompt`, `n_prompts`), `shapes` (`layer_<L>` -> the shape of the tensor
  with every shard concatenated) and `bytes` (the total of `files`).

Each shard is written to a temporary file `.<name>.<random>.tmp`, flushed, fsynced
and renamed into place; the metadata file is written the same way, last. Its rename
commits the entry: shards without a metadata file, temporary files and lock files
are not entries. A read checks the metadata against its file name and the request,
then every shard's size and sha256, before any tensor is used, and reads the tensors
memory-mapped with safetensors (`safe_open`); nothing is ever unpickled. A failed
check is logged as `cache.corrupt` and the entry is computed again.

Computing an entry runs under an exclusive `fcntl.flock` on `<key>.lock` (Linux and
other POSIX systems), and the lookup is repeated once the lock is held, so two
processes asking for the same key compute it once. The lock file is removed when
the lock is released.

A miss runs the model in batches: each batch is computed, written as its shard and
freed before the next one, so the memory a write needs does not grow with the
number of prompts. A batch of prompts of different lengths runs left-padded with an
attention mask and is stored realigned, each prompt from position 0 with zeros
after its end (`cache_activations` has the details). `iter_cached_batches` reads an
entry back one shard at a time; `cache_activations` concatenates the shards into one
tensor per layer.

A cache folder that cannot be written, or a write that fails (a full disk), raises
`CacheWriteError` naming the folder and what to do, before or instead of committing
anything: the probe stops rather than running uncached. Hits are still served from a
folder that is read-only.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple

import torch
from jaxtyping import Float
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from . import FORMAT_VERSION
from .datasets import default_pad_id, left_pad
from .events import EventLog
from .models import tokenize_prompt, weights_fingerprint
from .results import readable_file_mode

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows has no flock; writes are then not serialised.
    fcntl = None

BLOCK_HOOKS = ("resid_pre", "resid_mid", "resid_post", "attn_out", "mlp_out")
ATTENTION_HOOKS = ("q", "k", "v", "z", "pattern", "attn_scores", "result")
MLP_HOOKS = {"mlp_pre": "mlp.hook_pre", "mlp_post": "mlp.hook_post"}
# Hook names whose activations are [batch, head, query pos, key pos]. Every other
# TransformerLens hook is [batch, pos, ...].
QUERY_KEY_HOOK_SUFFIXES = ("hook_pattern", "hook_attn_scores")

_KEY_PATTERN = re.compile(r"^[0-9a-f]{64}$")
_HASH_CHUNK = 1 << 20


class CacheWriteError(OSError):
    """The activation cache folder cannot be written, or a write into it failed.

    Nothing is committed when this is raised: no metadata file of the entry exists and
    the shards and temporary files of the failed write are removed.
    """


class _CorruptEntry(ValueError):
    """Error raised when an entry's files fail a check. `path` is the file that failed."""

    def __init__(self, message: str, path: Path) -> None:
        super().__init__(message)
        self.path = path


def hook_name(hook_point: str, layer: int, n_layers: int) -> str:
    """Return the TransformerLens hook name for a short hook point at one layer.

    `resid_pre` at layer L < n_layers is `blocks.L.hook_resid_pre`. Layer n_layers is
    allowed for `resid_pre` only and means the final residual stream, the input of
    the final layer norm: `blocks.{n_layers - 1}.hook_resid_post`. A full hook name
    with a `{layer}` placeholder, such as `blocks.{layer}.ln1.hook_normalized`, is
    also accepted.
    """
    max_layer = n_layers if hook_point == "resid_pre" else n_layers - 1
    if not 0 <= layer <= max_layer:
        raise ValueError(f"layer {layer} is out of range for hook point {hook_point!r}: expected 0..{max_layer}")

    if hook_point == "resid_pre" and layer == n_layers:
        return f"blocks.{n_layers - 1}.hook_resid_post"
    if hook_point in BLOCK_HOOKS:
        return f"blocks.{layer}.hook_{hook_point}"
    if hook_point in ATTENTION_HOOKS:
        return f"blocks.{layer}.attn.hook_{hook_point}"
    if hook_point in MLP_HOOKS:
        return f"blocks.{layer}.{MLP_HOOKS[hook_point]}"
    if "{layer}" in hook_point:
        return hook_point.replace("{layer}", str(layer))
    known = ", ".join(BLOCK_HOOKS + ATTENTION_HOOKS + tuple(MLP_HOOKS))
    raise ValueError(f"hook point {hook_point!r} is unknown: use one of {known}, or a hook name containing {{layer}}")


def cache_key_fields(
    *,
    model_id: str,
    weights_sha256: str,
    dtype: str,
    token_ids: Sequence[Sequence[int]],
    layers: Sequence[int],
    hook_point: str,
) -> dict[str, Any]:
    """Return the JSON object whose canonical form is hashed into the cache key."""
    return {
        "format_version": FORMAT_VERSION,
        "model_id": model_id,
        "weights_sha256": weights_sha256,
        "dtype": dtype,
        "token_ids": [list(map(int, ids)) for ids in token_ids],
        "layers": [int(layer) for layer in layers],
        "hook_point": hook_point,
    }


def cache_key(fields: dict[str, Any]) -> str:
    """Return the sha256 hex digest of the canonical JSON of `fields`."""
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def _tokenize_all(model: Any, prompts: Sequence[Any]) -> list[list[int]]:
    token_ids = []
    for index, prompt in enumerate(prompts):
        if isinstance(prompt, str):
            ids = tokenize_prompt(model, prompt)
        elif isinstance(prompt, torch.Tensor):
            ids = [int(token) for token in prompt.reshape(-1).tolist()]
        else:
            ids = [int(token) for token in prompt]
        if not ids:
            raise ValueError(f"prompts[{index}] has no tokens")
        if len(ids) > model.cfg.n_ctx:
            raise ValueError(f"prompts[{index}] has {len(ids)} tokens, more than the model's context of {model.cfg.n_ctx}")
        token_ids.append(ids)
    return token_ids


def _model_id(model: Any, model_id: str | None) -> str:
    if model_id is not None:
        return model_id
    return str(getattr(model.cfg, "model_name", "") or type(model).__name__)


# ---------------------------------------------------------------------------------------
# Reading an entry


class CachedBatch(NamedTuple):
    """One shard of an entry: prompts first_prompt .. first_prompt + n_prompts - 1, one tensor per layer."""

    first_prompt: int
    n_prompts: int
    activations: dict[int, torch.Tensor]


@dataclass
class CacheEntry:
    """A committed entry whose metadata and shard checksums have been verified.

    Tensors are read from the shards memory-mapped, on demand: `batches()` one shard
    at a time, `rows()` only the rows asked for, `load()` everything concatenated.
    """

    folder: Path
    key: str
    metadata: dict[str, Any]
    layers: list[int] = field(init=False)

    def __post_init__(self) -> None:
        self.layers = [int(layer) for layer in self.metadata["layers"]]

    @property
    def hook_point(self) -> str:
        return str(self.metadata["hook_point"])

    @property
    def n_prompts(self) -> int:
        return int(self.metadata["n_prompts"])

    @property
    def bytes(self) -> int:
        return int(self.metadata["bytes"])

    @property
    def files(self) -> list[dict[str, Any]]:
        return list(self.metadata["files"])

    def batches(self) -> Iterator[CachedBatch]:
        """Yield the shards in prompt order, with only one shard open at a time."""
        # NOTE: the checksums were verified when the entry was looked up. A shard deleted
        # since then (`probe cache clear` during a run) makes this raise, not recompute.
        for info in self.metadata["files"]:
            with safe_open(str(self.folder / info["name"]), framework="pt", device="cpu") as handle:
                # A copy: a tensor backed by the mapping would change if the file were later
                # overwritten in place, and fault if it were truncated.
                tensors = {layer: handle.get_tensor(f"layer_{layer}").clone() for layer in self.layers}
            yield CachedBatch(int(info["first_prompt"]), int(info["n_prompts"]), tensors)

    def load(self) -> dict[int, torch.Tensor]:
        """Return one tensor per layer with every prompt, the shards concatenated."""
        parts: dict[int, list[torch.Tensor]] = {layer: [] for layer in self.layers}
        for batch in self.batches():
            for layer, tensor in batch.activations.items():
                parts[layer].append(tensor)
        return {layer: chunks[0] if len(chunks) == 1 else torch.cat(chunks, dim=0) for layer, chunks in parts.items()}

    def rows(self, rows: Sequence[int]) -> dict[int, torch.Tensor]:
        """Return the activations of the given prompt indices (in that order), reading only their shards' rows."""
        rows = [int(row) for row in rows]
        if not rows:
            raise ValueError("rows is empty")
        if min(rows) < 0 or max(rows) >= self.n_prompts:
            raise ValueError(f"rows must be in 0..{self.n_prompts - 1}, got {min(rows)}..{max(rows)}")
        files = self.metadata["files"]
        starts = [int(info["first_prompt"]) for info in files]

        # Runs of consecutive rows that lie in one shard are read with one slice.
        runs: list[tuple[int, int, int]] = []  # (shard, first row in shard, count)
        for row in rows:
            shard = _shard_of(starts, row)
            local = row - starts[shard]
            if runs and runs[-1][0] == shard and runs[-1][1] + runs[-1][2] == local:
                runs[-1] = (shard, runs[-1][1], runs[-1][2] + 1)
            else:
                runs.append((shard, local, 1))

        parts: dict[int, list[torch.Tensor]] = {layer: [] for layer in self.layers}
        with ExitStack() as stack:
            handles: dict[int, Any] = {}
            for shard, first, count in runs:
                if shard not in handles:
                    handles[shard] = stack.enter_context(safe_open(str(self.folder / files[shard]["name"]), framework="pt", device="cpu"))
                for layer in self.layers:
                    parts[layer].append(handles[shard].get_slice(f"layer_{layer}")[first : first + count].clone())
        return {layer: chunks[0] if len(chunks) == 1 else torch.cat(chunks, dim=0) for layer, chunks in parts.items()}


def _shard_of(starts: list[int], row: int) -> int:
    low, high = 0, len(starts) - 1
    while low < high:
        middle = (low + high + 1) // 2
        if starts[middle] <= row:
            low = middle
        else:
            high = middle - 1
    return low


def _file_sha256_and_size(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_HASH_CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _verify_entry(folder: Path, key: str, fields: dict[str, Any]) -> CacheEntry | None:
    """Return the verified entry, or None when no metadata file exists. Raise _CorruptEntry when a check fails."""
    metadata_path = folder / f"{key}.json"
    try:
        text = metadata_path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise _CorruptEntry(f"metadata file cannot be read: {error}", metadata_path) from error

    def fail(message: str, path: Path = metadata_path) -> _CorruptEntry:
        return _CorruptEntry(message, path)

    try:
        metadata = json.loads(text)
    except ValueError as error:
        raise fail(f"metadata file is not valid JSON: {error}") from error
    if not isinstance(metadata, dict):
        raise fail("metadata file does not hold a JSON object")
    if metadata.get("key") != key:
        raise fail(f"metadata key {metadata.get('key')!r} does not match the file name's key {key}")
    if metadata.get("format_version") != FORMAT_VERSION:
        raise fail(f"format_version {metadata.get('format_version')!r} is not {FORMAT_VERSION}")
    for name in ("model_id", "weights_sha256", "dtype", "layers", "hook_point"):
        if metadata.get(name) != fields[name]:
            raise fail(f"metadata {name} {metadata.get(name)!r} does not match the request's {fields[name]!r}")
    n_prompts = len(fields["token_ids"])
    if metadata.get("n_prompts") != n_prompts:
        raise fail(f"metadata n_prompts {metadata.get('n_prompts')!r} does not match the request's {n_prompts}")

    files = metadata.get("files")
    if not isinstance(files, list) or not files:
        raise fail("metadata files is not a non-empty list")
    expected_first = 0
    total_bytes = 0
    for index, info in enumerate(files):
        if not isinstance(info, dict):
            raise fail(f"files[{index}] is not an object")
        if info.get("name") != f"{key}.{index}.safetensors":
            raise fail(f"files[{index}].name {info.get('name')!r} is not {key}.{index}.safetensors")
        if info.get("first_prompt") != expected_first:
            raise fail(f"files[{index}].first_prompt {info.get('first_prompt')!r} is not {expected_first}")
        count, size, sha = info.get("n_prompts"), info.get("bytes"), info.get("sha256")
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise fail(f"files[{index}].n_prompts {count!r} is not a positive integer")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise fail(f"files[{index}].bytes {size!r} is not a byte count")
        if not isinstance(sha, str) or not _KEY_PATTERN.match(sha):
            raise fail(f"files[{index}].sha256 {sha!r} is not 64 hex digits")
        expected_first += count
        total_bytes += size
    if expected_first != n_prompts:
        raise fail(f"the shards contain {expected_first} prompts, not n_prompts {n_prompts}")
    if metadata.get("bytes") != total_bytes:
        raise fail(f"metadata bytes {metadata.get('bytes')!r} is not the shards' total {total_bytes}")

    names = [f"layer_{layer}" for layer in fields["layers"]]
    shapes = metadata.get("shapes")
    if not isinstance(shapes, dict) or sorted(shapes) != sorted(names):
        raise fail(f"metadata shapes does not list exactly {names}")
    for info in files:
        path = folder / info["name"]
        try:
            size = path.stat().st_size
        except OSError as error:
            raise fail(f"shard cannot be read: {error}", path) from error
        if size != info["bytes"]:
            raise fail(f"shard has {size} bytes, the metadata records {info['bytes']} (truncated or replaced)", path)
        try:
            actual, _ = _file_sha256_and_size(path)
        except OSError as error:
            raise fail(f"shard cannot be read: {error}", path) from error
        if actual != info["sha256"]:
            raise fail(f"shard sha256 {actual} does not match the recorded {info['sha256']}", path)
        try:
            with safe_open(str(path), framework="pt", device="cpu") as handle:
                keys = sorted(handle.keys())
                found = {name: list(handle.get_slice(name).get_shape()) for name in keys}
        except (OSError, SafetensorError) as error:
            raise fail(f"shard is not a readable safetensors file: {error}", path) from error
        if keys != sorted(names):
            raise fail(f"shard contains tensors {keys}, expected {sorted(names)}", path)
        for name, shape in found.items():
            expected = shapes[name]
            if not isinstance(expected, list) or shape[:1] != [info["n_prompts"]] or shape[1:] != expected[1:]:
                raise fail(f"shard tensor {name} has shape {shape}, which does not fit the metadata shape {expected}", path)
    for name in names:
        if shapes[name][:1] != [n_prompts]:
            raise fail(f"metadata shape of {name} {shapes[name]} does not start with n_prompts {n_prompts}")
    return CacheEntry(folder, key, metadata)


# ---------------------------------------------------------------------------------------
# Locks and atomic writes


def _open_lock_file(path: Path) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT, readable_file_mode())


@contextmanager
def _key_lock(folder: Path, key: str) -> Iterator[None]:
    """Hold an exclusive flock on `<key>.lock`, and remove the file when done.

    A waiter that gets the lock on a file the previous holder has already removed
    (the path is gone or names a new file) opens the path again, so two processes
    never both believe they hold the lock.
    """
    path = folder / f"{key}.lock"
    while True:
        try:
            descriptor = _open_lock_file(path)
        except OSError as error:
            raise _not_writable(folder, error) from error
        if fcntl is None:  # pragma: no cover
            break
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            held = os.fstat(descriptor)
            try:
                current = os.stat(path)
            except FileNotFoundError:
                current = None
        except BaseException:
            os.close(descriptor)
            raise
        if current is not None and (current.st_ino, current.st_dev) == (held.st_ino, held.st_dev):
            break
        os.close(descriptor)
    try:
        yield
    finally:
        try:
            path.unlink()
        except OSError:
            pass
        os.close(descriptor)


def _not_writable(folder: Path, error: OSError) -> CacheWriteError:
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return _write_failed(folder, [], error)
    return CacheWriteError(
        error.errno,
        f"the activation cache folder {folder} is not writable ({type(error).__name__}: {error.strerror or error}); "
        f"make it writable (for example `chmod u+w {folder}`) or set cache_dir to a writable folder. "
        "Entries already in it can still be read, but this one has to be computed and written.",
    )


def _write_failed(folder: Path, keys: list[str], error: OSError) -> CacheWriteError:
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        advice = f"the disk holding {folder} is full; free space there (or clear old entries with `auto-research probe cache clear`) and run again"
    else:
        advice = f"check that {folder} is writable and its disk healthy, then run again"
    return CacheWriteError(
        error.errno,
        f"writing activation cache entry {', '.join(keys) or '(lock file)'} in {folder} failed ({type(error).__name__}: {error.strerror or error}); "
        f"nothing of it was kept. {advice}",
    )


def _save_tensors(tensors: dict[str, torch.Tensor], path: str, metadata: dict[str, str]) -> None:
    """Write a safetensors file. Tests replace this function to simulate a full disk."""
    save_file(tensors, path, metadata=metadata)


def _write_text(path: str, text: str) -> None:
    """Write the metadata file. Tests replace this function to simulate a full disk."""
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def _fsync_path(path: str | Path, directory: bool = False) -> None:
    descriptor = os.open(path, os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0))
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _write_atomic(target: Path, write: Callable[[str], None]) -> tuple[str, int]:
    """Write `target` through a temporary file in its folder and return the file's sha256 and size."""
    descriptor, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(descriptor)
    try:
        write(temp_name)
        _fsync_path(temp_name)
        sha, size = _file_sha256_and_size(Path(temp_name))
        os.chmod(temp_name, readable_file_mode())
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return sha, size


def _remove_entry_files(folder: Path, key: str) -> None:
    """Remove the metadata file first (uncommitting the entry), then every shard of `key`."""
    (folder / f"{key}.json").unlink(missing_ok=True)
    for shard in folder.glob(f"{key}.*.safetensors"):
        shard.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------
# Computing entries


@dataclass
class _Request:
    hook_point: str
    layers: list[int]
    names: dict[int, str]
    fields: dict[str, Any]
    key: str
    files: list[dict[str, Any]] = field(default_factory=list)
    trailing: dict[str, list[int]] = field(default_factory=dict)
    write_ms: float = 0.0


def left_padded_tokens(model: Any, token_ids: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-pad token id rows to the longest one and return (tokens, attention_mask) on the model's device.

    Pass both to the forward pass (`model(tokens, attention_mask=mask)` or
    `run_with_hooks`). With an explicit mask, TransformerLens 3.5 computes position
    ids from it (`get_offset_position_ids`, the same numbers as
    `datasets.position_ids_from_mask`) for absolute and rotary position embeddings,
    masks the padding keys, and ignores the tokenizer's `padding_side` and pad token.
    So a pad id equal to the BOS id, as in GPT-2, is harmless, and each row gets the
    activations it gets when it runs alone. Raises ValueError for rows of different
    lengths on a model whose attention is not causal, where the mask has no effect.
    """
    rows = [[int(token) for token in ids] for ids in token_ids]
    width = max(len(ids) for ids in rows)
    attention_dir = getattr(model.cfg, "attention_dir", "causal")
    if attention_dir != "causal" and any(len(ids) != width for ids in rows):
        raise ValueError(
            f"prompts of {min(len(ids) for ids in rows)} to {width} tokens cannot share a batch on a model with "
            f"attention_dir={attention_dir!r}, because TransformerLens applies the attention mask only in causal "
            "attention; run them with batch_size=1"
        )
    tokens, mask = left_pad(rows, width, default_pad_id(getattr(model, "tokenizer", None)))
    device = model.cfg.device
    return tokens.to(device), mask.to(device)


def align_left_padded(activation: torch.Tensor, lengths: Sequence[int], width: int, hook: str) -> torch.Tensor:
    """Move each row of a left-padded batch's activation to positions 0..length - 1, padding after it to `width`.

    `activation` is the value of hook name `hook` in a forward pass on left-padded
    rows of the given lengths. Its position axes are 2 and 3 (query, key) for
    attention patterns and scores and 1 for every other hook. The positions after a
    row's end are 0, except in attention scores, where they are -inf like the scores
    the causal mask removes, so a softmax over a whole stored row is still the pattern.
    """
    query_key = hook.endswith(QUERY_KEY_HOOK_SUFFIXES)
    batch_width = activation.shape[2] if query_key else activation.shape[1]
    if width == batch_width and all(length == width for length in lengths):
        return activation
    shape = list(activation.shape)
    if query_key:
        shape[2] = shape[3] = width
    else:
        shape[1] = width
    fill = float("-inf") if hook.endswith("hook_attn_scores") else 0.0
    aligned = activation.new_full(shape, fill)
    for row, length in enumerate(lengths):
        offset = batch_width - length
        if query_key:
            aligned[row, :, :length, :length] = activation[row, :, offset:, offset:]
        else:
            aligned[row, :length] = activation[row, offset:]
    return aligned


def _forward_batches(
    model: Any,
    token_ids: list[list[int]],
    names: Sequence[str],
    batch_size: int,
) -> Iterator[tuple[int, dict[str, torch.Tensor]]]:
    """Yield (first prompt, {hook name: activation on the CPU}) per batch, one forward pass each.

    Each batch is left-padded to its longest prompt and runs with an attention mask
    (`left_padded_tokens`), so every prompt gets the activations it gets alone. The
    activations are then realigned (`align_left_padded`): each prompt starts at
    position 0 and is padded after its end to the longest prompt of the whole list,
    so every batch has the same width. The pass stops after the last block a hook needs.
    """
    width = max(len(ids) for ids in token_ids)
    blocks_needed = [int(re.match(r"blocks\.(\d+)\.", name).group(1)) for name in names if name.startswith("blocks.")]
    stop_at_layer = max(blocks_needed) + 1 if blocks_needed and len(blocks_needed) == len(names) else None
    if stop_at_layer is not None and stop_at_layer >= model.cfg.n_layers:
        stop_at_layer = None

    for start in range(0, len(token_ids), batch_size):
        batch = token_ids[start : start + batch_size]
        tokens, mask = left_padded_tokens(model, batch)
        lengths = [len(ids) for ids in batch]

        captured: dict[str, torch.Tensor] = {}

        def capture(activation: torch.Tensor, hook: Any) -> None:
            captured[hook.name] = activation.detach().to("cpu").clone()

        with torch.no_grad():
            model.run_with_hooks(
                tokens,
                attention_mask=mask,
                return_type=None,
                stop_at_layer=stop_at_layer,
                fwd_hooks=[(name, capture) for name in names],
            )
        yield start, {name: align_left_padded(activation, lengths, width, name) for name, activation in captured.items()}


def _compute_and_write(
    model: Any,
    folder: Path,
    token_ids: list[list[int]],
    requests: list[_Request],
    batch_size: int,
    progress: Callable[[int, int], None] | None,
) -> None:
    """Compute every request in one forward pass per batch and write its shards, then commit each entry."""
    names = list(dict.fromkeys(name for request in requests for name in request.names.values()))
    created_at = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    for request in requests:
        # A corrupt entry or the shards of an interrupted write may be there, so uncommit and clear it first.
        _remove_entry_files(folder, request.key)

    for start, captured in _forward_batches(model, token_ids, names, batch_size):
        count = min(batch_size, len(token_ids) - start)
        for request in requests:
            index = len(request.files)
            tensors = {f"layer_{layer}": captured[name].contiguous() for layer, name in request.names.items()}
            for tensor_name, tensor in tensors.items():
                request.trailing.setdefault(tensor_name, list(tensor.shape[1:]))
            name = f"{request.key}.{index}.safetensors"
            shard_metadata = {"key": request.key, "index": str(index), "first_prompt": str(start), "format_version": str(FORMAT_VERSION)}
            written = time.perf_counter()
            sha, size = _write_atomic(folder / name, lambda path: _save_tensors(tensors, path, shard_metadata))
            request.write_ms += (time.perf_counter() - written) * 1000
            request.files.append({"name": name, "sha256": sha, "bytes": size, "first_prompt": start, "n_prompts": count})
            del tensors
        del captured
        if progress is not None:
            progress(min(start + batch_size, len(token_ids)), len(token_ids))

    for request in requests:
        written = time.perf_counter()
        metadata = {
            "format_version": FORMAT_VERSION,
            "key": request.key,
            "created_at": created_at,
            "model_id": request.fields["model_id"],
            "weights_sha256": request.fields["weights_sha256"],
            "dtype": request.fields["dtype"],
            "hook_point": request.hook_point,
            "layers": request.layers,
            "n_prompts": len(token_ids),
            "files": request.files,
            "shapes": {name: [len(token_ids), *trailing] for name, trailing in request.trailing.items()},
            "bytes": sum(info["bytes"] for info in request.files),
        }
        text = json.dumps(metadata, indent=2, sort_keys=True) + "\n"
        _write_atomic(folder / f"{request.key}.json", lambda path: _write_text(path, text))
        request.write_ms += (time.perf_counter() - written) * 1000
    try:
        _fsync_path(folder, directory=True)
    except OSError:
        pass  # Some file systems do not fsync folders; the renames are still atomic.


# ---------------------------------------------------------------------------------------
# Public API


def cached_entries(
    model: Any,
    prompts: Sequence[Any],
    hook_layers: Mapping[str, Sequence[int]],
    cache_dir: str | os.PathLike[str],
    events_path: str | os.PathLike[str] | None = None,
    *,
    batch_size: int = 32,
    model_id: str | None = None,
    weights_sha256: str | None = None,
    event_log: EventLog | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, CacheEntry]:
    """Return one verified entry per hook point in `hook_layers` ({hook point: layers}), computing the missing ones.

    Each hook point is its own entry with its own key and one event line per lookup
    (`cache.hit`, or `cache.corrupt` and then `cache.miss` and `cache.write`). Missing
    entries are computed together, one forward pass per batch of `batch_size` prompts,
    under the lock of each key (taken in key order). Raises `CacheWriteError` when a
    missing entry cannot be written, before any forward pass when the folder is not
    writable.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if not hook_layers:
        raise ValueError("hook_layers is empty: give at least one hook point")
    if len(prompts) == 0:
        raise ValueError("prompts is empty: give at least one prompt")
    token_ids, requests = _build_requests(model, prompts, hook_layers, model_id, weights_sha256)
    folder = Path(cache_dir)
    events = _CacheEvents(event_log if event_log is not None else EventLog(events_path), folder, len(token_ids))

    # A lock-free lookup first, so that hits never need a writable folder.
    entries: dict[str, CacheEntry] = {}
    pending: list[_Pending] = []
    for request in requests:
        started = time.perf_counter()
        try:
            entry, problem = _verify_entry(folder, request.key, request.fields), None
        except _CorruptEntry as error:
            # Logged once the lock is held, so a write under way elsewhere is not reported.
            entry, problem = None, error
        if entry is not None:
            events.hit(request, entry, started)
            entries[request.hook_point] = entry
        else:
            pending.append(_Pending(request, started, problem))
    if pending:
        entries.update(_compute_missing(model, folder, token_ids, pending, batch_size, progress, events))
    return entries


def _build_requests(
    model: Any, prompts: Sequence[Any], hook_layers: Mapping[str, Sequence[int]], model_id: str | None, weights_sha256: str | None
) -> tuple[list[list[int]], list[_Request]]:
    """Check the hook points and layers, tokenize the prompts and return the token ids and one keyed request per hook point."""
    n_layers = model.cfg.n_layers
    checked: dict[str, tuple[list[int], dict[int, str]]] = {}
    for hook_point, layers in hook_layers.items():
        layers = [int(layer) for layer in layers]
        if not layers:
            raise ValueError("layers is empty: give at least one layer index")
        if len(set(layers)) != len(layers):
            raise ValueError(f"layers contains duplicates: {layers}")
        names = {layer: hook_name(hook_point, layer, n_layers) for layer in layers}
        missing = [name for name in names.values() if name not in model.hook_dict]
        if missing:
            raise ValueError(f"hook names {missing} are not in the model; check hook_point {hook_point!r}")
        checked[hook_point] = (layers, names)

    token_ids = _tokenize_all(model, prompts)
    common = {
        "model_id": _model_id(model, model_id),
        "weights_sha256": weights_sha256 or weights_fingerprint(model),
        "dtype": str(model.cfg.dtype).removeprefix("torch."),
    }
    requests = []
    for hook_point, (layers, names) in checked.items():
        fields = cache_key_fields(token_ids=token_ids, layers=layers, hook_point=hook_point, **common)
        requests.append(_Request(hook_point, layers, names, fields, cache_key(fields)))
    return token_ids, requests


@dataclass
class _Pending:
    """A request the lock-free lookup did not find, with when its lookup started and what was wrong with it."""

    request: _Request
    started: float
    problem: _CorruptEntry | None


class _CacheEvents:
    """Writer of the `cache.*` event lines, one per lookup, each with the key and a byte count."""

    def __init__(self, log: EventLog, folder: Path, n_prompts: int) -> None:
        self.log = log
        self.folder = folder
        self.n_prompts = n_prompts

    def _emit(self, event: str, request: _Request, started: float, **fields: Any) -> None:
        duration_ms = fields.pop("duration_ms", (time.perf_counter() - started) * 1000)
        self.log.emit(
            event,
            duration_ms=duration_ms,
            key=request.key,
            **fields,
            hook_point=request.hook_point,
            layers=request.layers,
            n_prompts=self.n_prompts,
        )

    def hit(self, request: _Request, entry: CacheEntry, started: float) -> None:
        self._emit("cache.hit", request, started, bytes=entry.bytes)

    def miss(self, request: _Request, started: float) -> None:
        self._emit("cache.miss", request, started, bytes=0)

    def corrupt(self, request: _Request, error: _CorruptEntry, started: float) -> None:
        self._emit(
            "cache.corrupt",
            request,
            started,
            level="warning",
            bytes=_bytes_on_disk(self.folder, request.key),
            path=str(error.path),
            error=str(error),
            error_type="CorruptEntry",
            error_message=str(error),
        )

    def write(self, request: _Request, entry: CacheEntry, compute_ms: float) -> None:
        self._emit("cache.write", request, 0.0, duration_ms=request.write_ms, bytes=entry.bytes, compute_ms=round(compute_ms, 3), n_files=len(entry.files))

    def write_failed(self, request: _Request, failure: CacheWriteError, started: float) -> None:
        self._emit("cache.write", request, started, level="error", bytes=0, error_type=type(failure).__name__, error_message=str(failure))


def _compute_missing(
    model: Any,
    folder: Path,
    token_ids: list[list[int]],
    pending: list[_Pending],
    batch_size: int,
    progress: Callable[[int, int], None] | None,
    events: _CacheEvents,
) -> dict[str, CacheEntry]:
    """Take the lock of every pending key, look each up again and compute and commit those still missing."""
    entries: dict[str, CacheEntry] = {}
    pending = sorted(pending, key=lambda item: item.request.key)
    with ExitStack() as locks:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for item in pending:
                locks.enter_context(_key_lock(folder, item.request.key))
        except OSError as error:
            for item in pending:
                if item.problem is not None:
                    events.corrupt(item.request, item.problem, item.started)
            if isinstance(error, CacheWriteError):
                raise
            raise _not_writable(folder, error) from error

        to_compute = []
        for item in pending:
            try:
                entry = _verify_entry(folder, item.request.key, item.request.fields)
            except _CorruptEntry as error:
                events.corrupt(item.request, error, item.started)
                entry = None
            if entry is not None:
                # Another process committed it while this one waited for the lock.
                events.hit(item.request, entry, item.started)
                entries[item.request.hook_point] = entry
            else:
                events.miss(item.request, item.started)
                to_compute.append(item.request)
        if not to_compute:
            return entries

        started = time.perf_counter()
        try:
            _compute_and_write(model, folder, token_ids, to_compute, batch_size, progress)
        except BaseException as error:
            for request in to_compute:
                _remove_entry_files(folder, request.key)
            if isinstance(error, OSError) and not isinstance(error, CacheWriteError):
                failure = _write_failed(folder, [request.key for request in to_compute], error)
                for request in to_compute:
                    events.write_failed(request, failure, started)
                raise failure from error
            raise

        compute_ms = (time.perf_counter() - started) * 1000 - sum(request.write_ms for request in to_compute)
        for request in to_compute:
            metadata = json.loads((folder / f"{request.key}.json").read_text(encoding="utf-8"))
            entry = CacheEntry(folder, request.key, metadata)
            events.write(request, entry, compute_ms)
            entries[request.hook_point] = entry
    return entries


def _bytes_on_disk(folder: Path, key: str) -> int:
    total = 0
    for path in [folder / f"{key}.json", *folder.glob(f"{key}.*.safetensors")]:
        try:
            total += path.stat().st_size
        except OSError:
            pass
    return total


def ensure_cached(
    model: Any,
    prompts: Sequence[Any],
    layers: Sequence[int],
    hook_point: str,
    cache_dir: str | os.PathLike[str],
    events_path: str | os.PathLike[str] | None = None,
    **kwargs: Any,
) -> CacheEntry:
    """Return the verified entry for one hook point, computing and writing it on a miss. Reads no tensor."""
    if not layers:
        raise ValueError("layers is empty: give at least one layer index")
    return cached_entries(model, prompts, {hook_point: layers}, cache_dir, events_path, **kwargs)[hook_point]


def cache_activations(
    model: Any,
    prompts: Sequence[Any],
    layers: Sequence[int],
    hook_point: str,
    cache_dir: str | os.PathLike[str],
    events_path: str | os.PathLike[str] | None = None,
    *,
    batch_size: int = 32,
    model_id: str | None = None,
    weights_sha256: str | None = None,
    event_log: EventLog | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[int, Float[torch.Tensor, "batch pos d_model"]]:
    """Return the activations of `hook_point` at each layer, from the cache when present.

    `prompts` are strings (tokenized with `models.tokenize_prompt`, which prepends
    BOS once when the model expects it) or lists of token ids. Prompts of different
    lengths run left-padded with an attention mask, from which TransformerLens
    derives position ids, so each prompt's activations are those of a run on its own.
    They are stored realigned: prompt i fills positions 0..len_i - 1, and the
    positions after it, up to the longest prompt, are zeros (-inf for `attn_scores`,
    whose query and key axes are both realigned, as are those of `pattern`).

    For residual-stream hook points the tensors have shape [batch, pos, d_model];
    other hook points keep their own trailing axes. A hit reads the tensors and runs
    no forward pass. A miss runs the model in batches of `batch_size` under
    `torch.no_grad()` with a hook only on the requested names, stops after the last
    block needed, and writes each batch as a shard of the entry. The shards are then
    concatenated; `iter_cached_batches` gives them one at a time instead.
    `weights_sha256` skips recomputing the fingerprint when the caller has it. Pass
    it when calling repeatedly: hashing every weight takes about as long as a hit
    itself (0.56 s for a GPT-2-small-sized model, see BENCHMARKS.md).
    `progress(done, total)` is called after each batch of a miss.
    """
    entry = ensure_cached(
        model,
        prompts,
        layers,
        hook_point,
        cache_dir,
        events_path,
        batch_size=batch_size,
        model_id=model_id,
        weights_sha256=weights_sha256,
        event_log=event_log,
        progress=progress,
    )
    return entry.load()


def iter_cached_batches(
    model: Any,
    prompts: Sequence[Any],
    layers: Sequence[int],
    hook_point: str,
    cache_dir: str | os.PathLike[str],
    events_path: str | os.PathLike[str] | None = None,
    **kwargs: Any,
) -> Iterator[CachedBatch]:
    """Yield the entry's shards in prompt order without concatenating them. Arguments are those of `cache_activations`.

    The lookup (and on a miss the whole computation and write) happens at the first
    `next()`. Batches follow the shards as written, so their size is the `batch_size`
    of the run that wrote the entry, not necessarily this call's.
    """
    yield from ensure_cached(model, prompts, layers, hook_point, cache_dir, events_path, **kwargs).batches()


@dataclass(frozen=True)
class CacheSettings:
    """Cache folder, event log and model identity that a probe passes to its interventions.

    `model_id` is the id as written in the script, so the key survives moving the
    project. `weights_sha256` is the fingerprint the probe already computed.
    """

    cache_dir: Path
    event_log: EventLog | None = None
    model_id: str | None = None
    weights_sha256: str | None = None

    def entries(self, model: Any, prompts: Sequence[Any], hook_layers: Mapping[str, Sequence[int]], batch_size: int) -> dict[str, CacheEntry]:
        """Look up or compute entries with `cached_entries` and these settings."""
        return cached_entries(
            model,
            prompts,
            hook_layers,
            self.cache_dir,
            batch_size=batch_size,
            model_id=self.model_id,
            weights_sha256=self.weights_sha256,
            event_log=self.event_log,
        )
