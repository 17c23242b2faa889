"""Activation cache on disk, keyed by everything that changes the tensors.

A cache entry is the activations of one hook point at a set of layers for one list
of prompts. The key is the sha256 of a canonical JSON object (sorted keys, no
whitespace) with the format version, the model id, the weights fingerprint, the
dtype, the token ids actually fed to the model, the layers and the hook point. Any
change to the weights, the tokenization (a BOS token, a new tokenizer) or the
selection gives a new key, so a stale entry is never returned.

Each entry is two files in the cache folder: `<key>.safetensors` with one tensor per
layer and `<key>.json` with the key fields, the shapes and the sha256 of the tensor
file. Both are written to a temporary file first and moved into place with
`os.replace`. A read verifies the checksum before loading. safetensors stores raw
tensor bytes, so reading an entry never unpickles anything.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from jaxtyping import Float
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from . import FORMAT_VERSION
from .events import EventLog
from .models import tokenize_prompt, weights_fingerprint
from .results import readable_file_mode
from .results import file_sha256

BLOCK_HOOKS = ("resid_pre", "resid_mid", "resid_post", "attn_out", "mlp_out")
ATTENTION_HOOKS = ("q", "k", "v", "z", "pattern", "attn_scores", "result")
MLP_HOOKS = {"mlp_pre": "mlp.hook_pre", "mlp_post": "mlp.hook_post"}
# Hook points whose activations have shape [batch, pos, ...], so padding positions
# can be zeroed along axis 1. Attention patterns and scores are [batch, head, ...].
POSITION_MAJOR_HOOKS = BLOCK_HOOKS + ("q", "k", "v", "z", "result") + tuple(MLP_HOOKS)


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
    lengths are right-padded to the longest. Causal attention keeps the padding from
    changing earlier positions, so position i of a shorter prompt is exact for
    i < its length. For hook points with a position axis second (residual stream,
    q/k/v/z, MLP) the positions after the prompt's length are zeros.

    For residual-stream hook points the tensors have shape [batch, pos, d_model];
    other hook points keep their own trailing axes. A hit loads the tensors and runs
    no forward pass. A miss runs the model in batches of `batch_size` under
    `torch.no_grad()` with a hook only on the requested names, stops after the last
    block needed, and writes the entry. `weights_sha256` skips recomputing the
    fingerprint when the caller has it. `progress(done, total)` is called after each
    batch.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if not layers:
        raise ValueError("layers is empty: give at least one layer index")
    if len(prompts) == 0:
        raise ValueError("prompts is empty: give at least one prompt")
    layers = [int(layer) for layer in layers]
    if len(set(layers)) != len(layers):
        raise ValueError(f"layers contains duplicates: {layers}")

    n_layers = model.cfg.n_layers
    names = {layer: hook_name(hook_point, layer, n_layers) for layer in layers}
    missing = [name for name in names.values() if name not in model.hook_dict]
    if missing:
        raise ValueError(f"hook names {missing} are not in the model; check hook_point {hook_point!r}")

    log = event_log if event_log is not None else EventLog(events_path)
    token_ids = _tokenize_all(model, prompts)
    fields = cache_key_fields(
        model_id=_model_id(model, model_id),
        weights_sha256=weights_sha256 or weights_fingerprint(model),
        dtype=str(model.cfg.dtype).removeprefix("torch."),
        token_ids=token_ids,
        layers=layers,
        hook_point=hook_point,
    )
    key = cache_key(fields)
    folder = Path(cache_dir)
    tensor_path = folder / f"{key}.safetensors"
    metadata_path = folder / f"{key}.json"

    started = time.perf_counter()
    cached = _read_entry(tensor_path, metadata_path, key, layers, log)
    if cached is not None:
        log.emit(
            "cache.hit",
            duration_ms=(time.perf_counter() - started) * 1000,
            key=key,
            bytes=tensor_path.stat().st_size,
            hook_point=hook_point,
            layers=layers,
            n_prompts=len(token_ids),
        )
        return cached

    log.emit("cache.miss", duration_ms=(time.perf_counter() - started) * 1000, key=key, hook_point=hook_point, layers=layers, n_prompts=len(token_ids))

    started = time.perf_counter()
    activations = _run_forward(model, token_ids, names, batch_size, progress, hook_point in POSITION_MAJOR_HOOKS)
    compute_ms = (time.perf_counter() - started) * 1000

    started = time.perf_counter()
    written_bytes = _write_entry(tensor_path, metadata_path, key, fields, activations)
    log.emit(
        "cache.write",
        duration_ms=(time.perf_counter() - started) * 1000,
        key=key,
        bytes=written_bytes,
        compute_ms=round(compute_ms, 3),
        hook_point=hook_point,
        layers=layers,
        n_prompts=len(token_ids),
    )
    return activations


def _run_forward(
    model: Any,
    token_ids: list[list[int]],
    names: dict[int, str],
    batch_size: int,
    progress: Callable[[int, int], None] | None,
    zero_padding: bool,
) -> dict[int, torch.Tensor]:
    width = max(len(ids) for ids in token_ids)
    pad_id = _pad_token_id(model)
    blocks_needed = [int(re.match(r"blocks\.(\d+)\.", name).group(1)) for name in names.values() if name.startswith("blocks.")]
    stop_at_layer = max(blocks_needed) + 1 if blocks_needed and len(blocks_needed) == len(names) else None
    if stop_at_layer is not None and stop_at_layer >= model.cfg.n_layers:
        stop_at_layer = None

    layer_by_name = {name: layer for layer, name in names.items()}
    chunks: dict[int, list[torch.Tensor]] = {layer: [] for layer in names}
    device = model.cfg.device

    for start in range(0, len(token_ids), batch_size):
        batch = token_ids[start : start + batch_size]
        tokens = torch.full((len(batch), width), pad_id, dtype=torch.long)
        lengths = torch.tensor([len(ids) for ids in batch])
        for row, ids in enumerate(batch):
            tokens[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)

        captured: dict[str, torch.Tensor] = {}

        def capture(activation: torch.Tensor, hook: Any) -> None:
            captured[hook.name] = activation.detach().to("cpu").clone()

        with torch.no_grad():
            model.run_with_hooks(
                tokens.to(device),
                return_type=None,
                stop_at_layer=stop_at_layer,
                fwd_hooks=[(name, capture) for name in names.values()],
            )

        for name, activation in captured.items():
            if zero_padding:
                # Zero the padding positions so they cannot be mistaken for data.
                keep = (torch.arange(width)[None, :] < lengths[:, None]).to(activation.dtype)
                activation = activation * keep.reshape(keep.shape + (1,) * (activation.dim() - 2))
            chunks[layer_by_name[name]].append(activation)
        if progress is not None:
            progress(min(start + batch_size, len(token_ids)), len(token_ids))

    return {layer: torch.cat(parts, dim=0).contiguous() for layer, parts in chunks.items()}


def _pad_token_id(model: Any) -> int:
    tokenizer = getattr(model, "tokenizer", None)
    for name in ("pad_token_id", "eos_token_id"):
        value = getattr(tokenizer, name, None) if tokenizer is not None else None
        if value is not None:
            return int(value)
    return 0


def _read_entry(tensor_path: Path, metadata_path: Path, key: str, layers: list[int], log: EventLog) -> dict[int, torch.Tensor] | None:
    if not tensor_path.is_file() or not metadata_path.is_file():
        return None
    try:
        metadata = json.loads(metadata_path.read_text(encoding="utf-8"))
        expected_sha = metadata["tensor_sha256"]
        if metadata.get("key") != key:
            raise ValueError(f"metadata key {metadata.get('key')!r} does not match the file name")
        actual_sha = file_sha256(tensor_path)
        if actual_sha != expected_sha:
            raise ValueError(f"tensor file sha256 {actual_sha} does not match the recorded {expected_sha}")
        tensors = load_file(str(tensor_path))
        result = {layer: tensors[f"layer_{layer}"] for layer in layers}
    except (OSError, ValueError, KeyError, TypeError, SafetensorError) as error:
        log.emit(
            "cache.corrupt",
            level="warning",
            key=key,
            path=str(tensor_path),
            error_type=type(error).__name__,
            error_message=str(error),
        )
        return None
    return result


def _write_atomic_bytes(target: Path, write: Callable[[Path], None]) -> None:
    descriptor, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(descriptor)
    try:
        write(Path(temp_name))
        os.chmod(temp_name, readable_file_mode())
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def _write_entry(tensor_path: Path, metadata_path: Path, key: str, fields: dict[str, Any], activations: dict[int, torch.Tensor]) -> int:
    tensor_path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {f"layer_{layer}": tensor for layer, tensor in activations.items()}
    _write_atomic_bytes(tensor_path, lambda path: save_file(tensors, str(path), metadata={"key": key}))

    metadata = {
        "format_version": FORMAT_VERSION,
        "key": key,
        "model_id": fields["model_id"],
        "weights_sha256": fields["weights_sha256"],
        "dtype": fields["dtype"],
        "layers": fields["layers"],
        "hook_point": fields["hook_point"],
        "n_prompts": len(fields["token_ids"]),
        "shapes": {name: list(tensor.shape) for name, tensor in tensors.items()},
        "tensor_sha256": file_sha256(tensor_path),
        "bytes": tensor_path.stat().st_size,
    }
    text = json.dumps(metadata, indent=2, sort_keys=True) + "\n"
    _write_atomic_bytes(metadata_path, lambda path: path.write_text(text, encoding="utf-8"))
    return metadata["bytes"]
