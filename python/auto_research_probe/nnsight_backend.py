"""The nnsight backend: a Hugging Face model in nnsight, with the module paths the probes read.

TransformerLens rebuilds a model in its own classes, while nnsight wraps the Hugging
Face model as it is. So nnsight loads any architecture transformers supports, including
large models spread over several GPUs (`device_map`) and models that run on NDIF. What the probes
need from a model is a handful of modules per architecture, its *roles*:

- `blocks`: the list of transformer blocks (a block's input is the residual stream
  entering it, TransformerLens's `hook_resid_pre`; its output, the stream leaving it);
- `final_norm` and `unembed`: the final layer norm and the unembedding;
- `attn`, `attn_out_proj` and `mlp`, paths inside one block: the attention module
  (its output is the block's attention output), the projection after the heads (its
  input is every head's output before W_O side by side, TransformerLens's `hook_z`)
  and the MLP.

`ARCHITECTURES` lists them for the architectures this backend knows; a script can give
`module_paths` for another one, or to correct a path.

The trace code itself lives in each generated script, where a researcher can read and
edit it. It uses only torch and the model's modules, because with `remote=True`
nnsight ships the body of a trace to NDIF, where this package is not installed.

Batches of prompts with different lengths are left-padded (`pad_batch`): every prompt
ends in the last column, the attention mask hides the padding, and the position ids
count from each prompt's first real token. Without explicit position ids Hugging Face
GPT-2 numbers positions from the first column, padding included, which shifts every
padded prompt's positional embeddings and changes its logits.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import torch

from .models import _is_local_model_folder, default_device, load_nnsight_model, parse_dtype, weights_fingerprint

BACKENDS = ("transformer_lens", "nnsight")
ROLES = ("blocks", "final_norm", "unembed", "attn", "attn_out_proj", "mlp")
# Roles whose path is relative to one block; the others are relative to the model.
BLOCK_ROLES = ("attn", "attn_out_proj", "mlp")

_LLAMA_LIKE = {
    "blocks": "model.layers",
    "final_norm": "model.norm",
    "unembed": "lm_head",
    "attn": "self_attn",
    "attn_out_proj": "self_attn.o_proj",
    "mlp": "mlp",
}
ARCHITECTURES: dict[str, dict[str, str]] = {
    "GPT2LMHeadModel": {
        "blocks": "transformer.h",
        "final_norm": "transformer.ln_f",
        "unembed": "lm_head",
        "attn": "attn",
        "attn_out_proj": "attn.c_proj",
        "mlp": "mlp",
    },
    "LlamaForCausalLM": _LLAMA_LIKE,
    "MistralForCausalLM": _LLAMA_LIKE,
    "Qwen2ForCausalLM": _LLAMA_LIKE,
    "Qwen3ForCausalLM": _LLAMA_LIKE,
    "GemmaForCausalLM": _LLAMA_LIKE,
    "Gemma2ForCausalLM": _LLAMA_LIKE,
    "GPTNeoXForCausalLM": {
        "blocks": "gpt_neox.layers",
        "final_norm": "gpt_neox.final_layer_norm",
        # transformers 5 renamed GPT-NeoX's embed_out to lm_head (and renames it in old checkpoints).
        "unembed": "lm_head",
        "attn": "attention",
        "attn_out_proj": "attention.dense",
        "mlp": "mlp",
    },
    "PhiForCausalLM": {
        "blocks": "model.layers",
        "final_norm": "model.final_layernorm",
        "unembed": "lm_head",
        "attn": "self_attn",
        "attn_out_proj": "self_attn.dense",
        "mlp": "mlp",
    },
    "OPTForCausalLM": {
        "blocks": "model.decoder.layers",
        "final_norm": "model.decoder.final_layer_norm",
        "unembed": "lm_head",
        "attn": "self_attn",
        "attn_out_proj": "self_attn.out_proj",
        "mlp": "fc2",
    },
}
DEVICE_MAPS = ("auto", "balanced", "balanced_low_0", "sequential")
# The values of `remote`: False runs here, True on NDIF, "local" serialises each request as for NDIF
# and runs it here (nnsight's offline check).
REMOTE_MODES = (False, True, "local")
# One part of a dotted module path: an attribute name or a list index.
_PATH_PART = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+")
NDIF_KEY_ENV = "NDIF_API_KEY"
NDIF_CONNECT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class NnsightConfig:
    """The model facts the probes read, named as in a TransformerLens `cfg`.

    `default_prepend_bos` is True when the tokenizer has a BOS token, so
    `models.tokenize_prompt` prepends it once, as TransformerLens does for GPT-2.
    """

    n_layers: int
    d_model: int
    n_heads: int
    d_head: int
    d_vocab: int
    n_ctx: int | None
    device: str
    dtype: torch.dtype
    default_prepend_bos: bool
    architecture: str
    model_name: str


@dataclass
class NnsightLM:
    """An nnsight `TransformersModel` (`model`), its tokenizer, `cfg`, module paths and where it runs.

    `remote` is what the script passes to `model.trace(..., remote=...)`: False, True
    (NDIF) or "local" (nnsight serialises the request and runs it here, a check that a
    trace would survive the trip to NDIF).
    """

    model: Any
    tokenizer: Any
    cfg: NnsightConfig
    paths: dict[str, str]
    remote: bool | str = False

    @property
    def blocks(self) -> Any:
        """The nnsight envoy of the block list; index it with a layer number."""
        return envoy_at(self.model, self.paths["blocks"])

    def module(self, role: str, layer: int | None = None) -> Any:
        """Return the envoy of `role`, inside block `layer` for attn, attn_out_proj and mlp."""
        if role not in ROLES:
            raise ValueError(f"unknown module role {role!r}: choose from {', '.join(ROLES)}")
        if role not in self.paths:
            raise ValueError(
                f"module role {role!r} has no path for this {self.cfg.architecture} model (resolved: {', '.join(self.paths)}); "
                f"add MODULE_PATHS[{role!r}] in the script"
            )
        if role in BLOCK_ROLES:
            if layer is None:
                raise ValueError(f"module role {role!r} is inside a block: give its layer")
            return envoy_at(self.blocks[layer], self.paths[role])
        return envoy_at(self.model, self.paths[role])

    @property
    def hf_model(self) -> torch.nn.Module:
        """The wrapped Hugging Face model (its weights are on the meta device when remote)."""
        return self.model._module


@dataclass(frozen=True)
class PaddedBatch:
    """Left-padded token ids [batch, pos], attention mask, position ids and each prompt's length."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    position_ids: torch.Tensor
    lengths: list[int]


def envoy_at(root: Any, path: str) -> Any:
    """Follow a dotted path of attribute names and list indices from an nnsight envoy."""
    current = root
    for part in path.split("."):
        current = current[int(part)] if part.isdigit() else getattr(current, part)
    return current


def check_module_paths(module_paths: Any) -> dict[str, str]:
    """Return `module_paths` (a script's MODULE_PATHS, None for none) as a dict, or raise ValueError naming the bad value.

    It must map role names to non-empty dotted paths whose parts are attribute names
    or list indices, such as "transformer.h" or "model.layers.0.mlp".
    """
    if module_paths is None:
        return {}
    if not isinstance(module_paths, dict):
        raise ValueError(
            f"MODULE_PATHS must be a dict of role -> dotted module path, such as {{'blocks': 'transformer.h'}}, "
            f"got a {type(module_paths).__name__}: {module_paths!r}"
        )
    for role, path in module_paths.items():
        if role not in ROLES:
            raise ValueError(f"MODULE_PATHS names unknown role {role!r}: the roles are {', '.join(ROLES)}")
        if not isinstance(path, str) or not all(_PATH_PART.fullmatch(part) for part in path.split(".")):
            raise ValueError(
                f"MODULE_PATHS[{role!r}] must be a dotted module path of attribute names and list indices, "
                f"such as 'transformer.h' or 'model.layers', got {path!r}"
            )
    return dict(module_paths)


def resolve_paths(
    hf_model: torch.nn.Module, architecture: str, overrides: dict[str, str] | None = None, roles: tuple[str, ...] = ROLES
) -> dict[str, str]:
    """Return the module path of each role, checked against the model's own module tree.

    `roles` are the roles the probe reads, `overrides` a script's MODULE_PATHS, which
    replace or add paths. Every role in `roles` and every override must name a module.
    The architecture table's other roles are kept where the model has them, so an
    edited trace can still read them. Raises ValueError for an invalid MODULE_PATHS, an
    architecture with no table whose overrides miss a role in `roles`, and a path that
    names no module, saying which part is missing and what is there instead.
    """
    overrides = check_module_paths(overrides)
    needed = [role for role in ROLES if role in roles or role in overrides]
    if "blocks" not in needed and any(role in BLOCK_ROLES for role in needed):
        needed.insert(0, "blocks")
    base = ARCHITECTURES.get(architecture)
    if base is None:
        missing = [role for role in needed if role not in overrides]
        if missing:
            raise ValueError(
                f"architecture {architecture!r} is not one the nnsight backend knows ({', '.join(sorted(ARCHITECTURES))}); "
                f"set MODULE_PATHS in the script to the module path of each role this probe reads ({', '.join(missing)} missing), "
                "or use a model of a known architecture"
            )
        base = {}
    candidates = {**base, **overrides}
    paths: dict[str, str] = {}
    blocks = None
    if "blocks" in candidates:
        blocks = _blocks(hf_model, candidates["blocks"], architecture, required="blocks" in needed)
        if blocks is not None:
            paths["blocks"] = candidates["blocks"]
    for role in ROLES:
        if role == "blocks" or role not in candidates:
            continue
        required = role in needed
        if role in BLOCK_ROLES:
            if blocks is None:
                continue
            found = _submodule(blocks[0], candidates[role], role, architecture, prefix=f"{candidates['blocks']}.0.", required=required)
        else:
            found = _submodule(hf_model, candidates[role], role, architecture, required=required)
        if found is not None:
            paths[role] = candidates[role]
    return paths


def _blocks(hf_model: torch.nn.Module, path: str, architecture: str, required: bool) -> torch.nn.ModuleList | None:
    blocks = _submodule(hf_model, path, "blocks", architecture, required=required)
    if blocks is not None and (not isinstance(blocks, torch.nn.ModuleList) or len(blocks) == 0):
        if not required:
            return None
        raise ValueError(
            f"module path {path!r} (role blocks) in {architecture} is a {type(blocks).__name__}, "
            "not a non-empty list of transformer blocks; set MODULE_PATHS['blocks'] to the block list"
        )
    return blocks


def _submodule(
    root: torch.nn.Module, path: str, role: str, architecture: str, prefix: str = "", required: bool = True
) -> torch.nn.Module | None:
    """Return the module at `path` under `root`. A missing module raises ValueError, or returns None when not `required`."""
    current = root
    walked: list[str] = []
    for part in path.split("."):
        children = dict(current.named_children())
        if part not in children:
            if not required:
                return None
            where = prefix + ".".join(walked) if walked or prefix else "the model"
            listed = ", ".join(children) or "none"
            raise ValueError(
                f"module path {prefix + path!r} (role {role}) does not exist in {architecture}: {where.rstrip('.')!s} "
                f"has no child {part!r} (its children: {listed}); fix MODULE_PATHS[{role!r}] in the script"
            )
        current = children[part]
        walked.append(part)
    return current


def _config_int(config: Any, *names: str) -> int | None:
    for name in names:
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def _model_config(hf_model: torch.nn.Module, architecture: str, paths: dict[str, str], model_name: str, tokenizer: Any) -> NnsightConfig:
    config = hf_model.config
    text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
    n_layers = len(hf_model.get_submodule(paths["blocks"]))

    d_model = _config_int(text_config, "hidden_size", "n_embd", "d_model")
    n_heads = _config_int(text_config, "num_attention_heads", "n_head")
    if d_model is None or n_heads is None:
        raise ValueError(f"the config of {model_name} ({architecture}) gives no hidden size or head count")
    d_head = _config_int(text_config, "head_dim") or d_model // n_heads

    vocab_size = _config_int(text_config, "vocab_size")
    if "unembed" in paths:
        d_vocab = _check_unembed(hf_model.get_submodule(paths["unembed"]), paths["unembed"], d_model, vocab_size, architecture)
    elif vocab_size is not None:
        d_vocab = vocab_size
    else:
        raise ValueError(f"the config of {model_name} ({architecture}) gives no vocabulary size; set MODULE_PATHS['unembed']")
    if "final_norm" in paths:
        _check_final_norm(hf_model.get_submodule(paths["final_norm"]), paths["final_norm"], d_model, architecture)

    parameter = next(hf_model.parameters())
    return NnsightConfig(
        n_layers=n_layers,
        d_model=d_model,
        n_heads=n_heads,
        d_head=d_head,
        d_vocab=d_vocab,
        n_ctx=_config_int(text_config, "n_positions", "max_position_embeddings"),
        device=str(parameter.device),
        dtype=parameter.dtype,
        default_prepend_bos=getattr(tokenizer, "bos_token_id", None) is not None,
        architecture=architecture,
        model_name=model_name,
    )


def _check_unembed(module: torch.nn.Module, path: str, d_model: int, vocab_size: int | None, architecture: str) -> int:
    """Return the unembedding's output width after checking that it maps d_model vectors to vocab_size logits.

    The check reads shapes only, so it works on the meta device (remote) and with
    device_map. A module with neither `in_features`/`out_features` nor a 2-D weight,
    such as custom code, passes unchecked.
    """
    fix = f"set MODULE_PATHS['unembed'] to the output projection that produces the logits (lm_head in most models)"
    if isinstance(module, torch.nn.Embedding):
        raise ValueError(
            f"module path {path!r} (role unembed) in {architecture} is an Embedding, which maps token ids to vectors, "
            f"not d_model vectors to logits; {fix}"
        )
    weight = getattr(module, "weight", None)
    out_features = getattr(module, "out_features", None)
    in_features = getattr(module, "in_features", None)
    if not isinstance(out_features, int) and isinstance(weight, torch.Tensor) and weight.dim() == 2:
        # transformers' Conv1D (GPT-2) stores its weight as [in, out] and its width as `nf`, but Linear stores [out, in].
        if isinstance(getattr(module, "nf", None), int):
            out_features, in_features = module.nf, int(weight.shape[0])
        else:
            out_features, in_features = int(weight.shape[0]), int(weight.shape[1])
    if not isinstance(out_features, int):
        if vocab_size is None:
            raise ValueError(f"the vocabulary size of {architecture} is unknown: neither its config nor module {path!r} gives it")
        return vocab_size
    expected = vocab_size if vocab_size is not None else out_features
    if out_features != expected or (isinstance(in_features, int) and in_features != d_model):
        raise ValueError(
            f"module path {path!r} (role unembed) in {architecture} maps {in_features} features to {out_features}, "
            f"but the unembedding maps d_model={d_model} to the vocabulary size {expected}; {fix}"
        )
    return out_features


def _check_final_norm(module: torch.nn.Module, path: str, d_model: int, architecture: str) -> None:
    """Raise ValueError when `module` cannot be a normalisation layer over d_model features.

    A LayerNorm or RMSNorm has, at most, a scale and a shift of d_model values each
    (no parameters without elementwise affine). A linear layer, an embedding or a
    block has a 2-D weight, so it is rejected.
    NOTE: a module without parameters, such as Dropout or Identity, passes this check.
    """
    for name, parameter in module.named_parameters():
        if parameter.dim() != 1 or parameter.shape[0] != d_model:
            raise ValueError(
                f"module path {path!r} (role final_norm) in {architecture} is a {type(module).__name__} with parameter "
                f"{name!r} of shape {list(parameter.shape)}, not a normalisation layer (a LayerNorm or RMSNorm has "
                f"weights of shape [{d_model}]); set MODULE_PATHS['final_norm'] to the final layer norm"
            )


def load_nnsight_lm(
    model_id: str,
    dtype: str = "float32",
    device_map: str | None = None,
    remote: bool | str = False,
    trust_remote_code: bool = False,
    module_paths: dict[str, str] | None = None,
    device: str | None = None,
    roles: tuple[str, ...] = ROLES,
) -> NnsightLM:
    """Load `model_id` (a local folder or a hub id in the local cache) into nnsight, offline.

    The tokenizer is loaded here and passed to nnsight, with the task, so nothing is
    looked up online. `device_map` (auto, balanced, balanced_low_0, sequential) spreads
    the weights over the GPUs through accelerate. Without it the model goes to `device`
    (default: CUDA when present, else the CPU). With `remote=True` the weights stay on
    the meta device here and every trace runs on NDIF: the API key and the connection
    are checked first (`check_remote_ready`). `roles` are the module roles the probe
    reads: each needs a path (from the architecture table or `module_paths`). The model
    is in eval mode, gradients off.
    """
    torch_dtype = parse_dtype(dtype)
    check_module_paths(module_paths)
    if remote not in REMOTE_MODES or not isinstance(remote, (bool, str)):
        raise ValueError(f"remote must be False, True (NDIF) or 'local' (serialise each request and run it here), got {remote!r}")
    if device_map is not None and device_map not in DEVICE_MAPS:
        raise ValueError(f"device_map {device_map!r} is not supported: use one of {', '.join(DEVICE_MAPS)}")
    if remote is True:
        check_remote_ready()
    target = None
    if remote is not True:
        target = device_map or device or default_device()
    model = load_nnsight_model(
        model_id,
        device_map=None if target == "cpu" else target,
        trust_remote_code=trust_remote_code,
        dispatch=remote is not True,
        dtype=torch_dtype,
    )
    tokenizer = model.tokenizer
    hf_model = model._module
    hf_model.eval()
    hf_model.requires_grad_(False)
    architectures = list(getattr(hf_model.config, "architectures", None) or [])
    architecture = architectures[0] if architectures else type(hf_model).__name__
    paths = resolve_paths(hf_model, architecture, module_paths, roles)
    name = Path(model_id).name if _is_local_model_folder(model_id) else model_id
    return NnsightLM(model, tokenizer, _model_config(hf_model, architecture, paths, name, tokenizer), paths, remote)


def pad_batch(lm: NnsightLM, rows: list[list[int]], device: str | None = None) -> PaddedBatch:
    """Left-pad token id lists into one batch with its attention mask and mask-derived position ids."""
    from .datasets import default_pad_id, left_pad, position_ids_from_mask

    if not rows or any(not ids for ids in rows):
        raise ValueError("pad_batch needs at least one prompt, and no empty prompt")
    width = max(len(ids) for ids in rows)
    tokens, mask = left_pad(rows, width, default_pad_id(lm.tokenizer))
    positions = position_ids_from_mask(mask)
    target = device or (lm.cfg.device if lm.cfg.device != "meta" else "cpu")
    return PaddedBatch(tokens.to(target), mask.to(target), positions.to(target), [len(ids) for ids in rows])


class NdifUnreachableError(ConnectionError):
    """The NDIF host refused or timed out a connection: a network problem, not an invalid setting.

    It is an OSError, so the generated scripts exit with code 3 (environment) for it,
    not 2 (usage error).
    """


def check_remote_ready(timeout_s: float = NDIF_CONNECT_TIMEOUT_S) -> None:
    """Check that NDIF_API_KEY is set and the NDIF host accepts a connection.

    Raises ValueError when the key is missing or NDIF_HOST is not an http(s) URL, and
    NdifUnreachableError (an OSError) when no connection opens within `timeout_s`
    seconds, so a machine without network fails here instead of inside the first trace.
    nnsight reads the key from the environment itself; this only checks that it is
    there and never prints, logs or stores it. The host is nnsight's configured one
    (NDIF_HOST overrides it).
    """
    if not os.environ.get(NDIF_KEY_ENV, "").strip():
        raise ValueError(
            f"remote execution on NDIF needs an API key in the {NDIF_KEY_ENV} environment variable, which is not set; "
            "create a key on the NDIF website and export it before `probe run`, or set the probe up without --remote"
        )
    from nnsight import CONFIG

    host_url = os.environ.get("NDIF_HOST") or CONFIG.API.HOST
    parts = urlsplit(host_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"NDIF host {host_url!r} is not an http(s) URL; fix NDIF_HOST")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout_s):
            pass
    except OSError as error:
        raise NdifUnreachableError(
            f"cannot reach NDIF at {parts.scheme}://{parts.hostname}:{port} ({type(error).__name__}: {error}); "
            "remote runs need a network connection to NDIF: check the connection, or set the probe up without --remote "
            "to run the model here"
        ) from None


def precision_check(
    run_values: Any, reference_values: Any, *, metric: str, dtype: str, tolerance: float, n_examples: int | None = None
) -> dict[str, Any]:
    """Compare per-example values of a reduced-precision run with a float32 rerun on the same examples.

    Returns the results file's `precision_check` record: the largest and the mean
    absolute difference, and whether the largest is within `tolerance`. `n_examples`
    is the number of examples behind the values (default: one value per example).
    """
    import numpy as np

    run = np.asarray(run_values, dtype=np.float64).reshape(-1)
    reference = np.asarray(reference_values, dtype=np.float64).reshape(-1)
    if run.shape != reference.shape or run.size == 0:
        raise ValueError(f"precision_check needs two equal, non-empty sets of values, got {run.size} and {reference.size}")
    difference = np.abs(run - reference)
    return {
        "dtype": dtype,
        "reference_dtype": "float32",
        "n_examples": int(run.size if n_examples is None else n_examples),
        "metric": metric,
        "max_abs_diff": float(difference.max()),
        "mean_abs_diff": float(difference.mean()),
        "within_tolerance": bool(difference.max() <= tolerance),
        "tolerance": float(tolerance),
    }


def check_backend_settings(config: Any) -> None:
    """Raise ValueError naming the value when a probe config's backend settings are invalid.

    The config has `backend`, `remote`, `device_map`, `recheck_float32` and
    `module_paths` (the logit lens, activation patching and probing configs). remote,
    device_map, recheck_float32 and module_paths are nnsight settings, so they are an
    error with the transformer_lens backend rather than silently ignored.
    """
    backend = getattr(config, "backend", "transformer_lens")
    if backend not in BACKENDS:
        raise ValueError(f"backend {backend!r} is unknown: choose from {', '.join(BACKENDS)}")
    recheck = getattr(config, "recheck_float32", 0)
    if isinstance(recheck, bool) or not isinstance(recheck, int) or recheck < 0:
        raise ValueError(f"recheck_float32 must be a whole number of examples, 0 for off, got {recheck!r}")
    device_map = getattr(config, "device_map", None)
    if device_map is not None and device_map not in DEVICE_MAPS:
        raise ValueError(f"device_map {device_map!r} is not supported: use one of {', '.join(DEVICE_MAPS)}")
    remote = getattr(config, "remote", False)
    if remote not in REMOTE_MODES or not isinstance(remote, (bool, str)):
        raise ValueError(f"remote must be False, True (NDIF) or 'local' (serialise each request and run it here), got {remote!r}")
    if backend == "transformer_lens":
        used = [
            name
            for name, value in (
                ("remote", getattr(config, "remote", False)),
                ("device_map", device_map),
                ("recheck_float32", recheck),
                ("module_paths", getattr(config, "module_paths", None)),
            )
            if value
        ]
        if used:
            raise ValueError(f"{', '.join(used)} applies to the nnsight backend only: set backend='nnsight' or remove it")
    else:
        check_module_paths(getattr(config, "module_paths", None))


def load_for_config(config: Any, model_id: str, roles: tuple[str, ...], dtype: str | None = None) -> NnsightLM:
    """Load `model_id` with a probe config's nnsight settings and the module `roles` the probe reads.

    `dtype` overrides the config's (the float32 recheck).
    """
    return load_nnsight_lm(
        model_id,
        dtype=dtype or config.dtype,
        device_map=config.device_map,
        remote=config.remote,
        trust_remote_code=config.trust_remote_code,
        module_paths=config.module_paths,
        device=config.device,
        roles=roles,
    )


def nnsight_fingerprint(lm: NnsightLM, model_id: str) -> str:
    """Return the provenance fingerprint: sha256 of the weights here, or of the id and config.json when remote.

    A remote model's weights stay on NDIF and are on the meta device here. Its
    fingerprint is therefore sha256 over the model's name and the text of its config.json.
    The name is the hub id or the folder's name, so moving the folder keeps the fingerprint.
    """
    if lm.remote is not True:
        return weights_fingerprint(lm.hf_model)
    if _is_local_model_folder(model_id):
        config_text = (Path(model_id) / "config.json").read_text(encoding="utf-8")
    else:
        from transformers.utils import cached_file

        config_text = Path(cached_file(model_id, "config.json", local_files_only=True)).read_text(encoding="utf-8")
    canonical = json.dumps({"model_id": lm.cfg.model_name, "config_json": config_text}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def needs_precision_check(config: Any) -> bool:
    """Return whether a run rechecks a sample in float32: recheck_float32 > 0 and a dtype other than float32."""
    return int(getattr(config, "recheck_float32", 0)) > 0 and parse_dtype(config.dtype) != torch.float32

