"""Model loading: TransformerLens `HookedTransformer` and nnsight models, offline for local folders.

`load_hooked_model` gives the interpretability view used by the probes: a
HookedTransformer with TransformerLens's default weight processing (layer norm
folded into the following linear layers, writing weights and unembedding centred,
value biases folded). The processing leaves the log-probabilities unchanged, but the
logits differ from Hugging Face's by a per-position constant, so compare models with
log-softmax, not raw logits.

Tokenization is done here rather than through `HookedTransformer.to_tokens`, so the
token ids fed to the model are explicit. Prompts are tokenized without special
tokens, and a BOS token is prepended only when the model's
`cfg.default_prepend_bos` is set and the ids do not already start with it. That
avoids a double BOS with tokenizers that add their own.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import torch

DTYPES = {
    "float32": torch.float32,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float64": torch.float64,
}
OFFLINE_ENV = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


def resolve_model_id(model_id: str, project_root: str | os.PathLike[str]) -> str:
    """Return an absolute path when `model_id` is a relative path that exists under `project_root`.

    Anything else (an absolute path, a hub id such as `gpt2`) is returned unchanged,
    so a hub id is never mistaken for a folder that happens not to exist.
    """
    candidate = Path(model_id)
    if not candidate.is_absolute():
        under_root = Path(project_root) / candidate
        if under_root.exists():
            return str(under_root.resolve())
    return model_id


def parse_dtype(dtype: str | torch.dtype) -> torch.dtype:
    """Map a dtype name such as "float32" to the torch dtype, raising ValueError for unknown names."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in DTYPES:
        raise ValueError(f"dtype {dtype!r} is not supported: use one of {', '.join(DTYPES)}")
    return DTYPES[dtype]


def default_device() -> str:
    """Return "cuda" when a CUDA device is available, else "mps" on Apple silicon, else "cpu"."""
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def _is_local_model_folder(model_id: str) -> bool:
    return Path(model_id).is_dir()


def _offline() -> bool:
    return any(os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on") for name in OFFLINE_ENV)


def _check_local_folder(folder: Path) -> None:
    if not (folder / "config.json").is_file():
        raise ValueError(f"model folder {folder} has no config.json; expected a Hugging Face save_pretrained folder")


def _check_hub_id_available_offline(model_id: str) -> None:
    """Raise ValueError when offline mode is on and the hub id is not in the local Hugging Face cache."""
    if not _offline():
        return
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(model_id, "config.json")
    if not isinstance(cached, str):
        raise ValueError(
            f"model {model_id!r} is not in the local Hugging Face cache and HF_HUB_OFFLINE is set, "
            "so it cannot be downloaded; download it once with network access, or pass the path "
            "of a local model folder"
        )


def load_hooked_model(model_id: str, dtype: str = "float32", device: str | None = None, trust_remote_code: bool = False) -> Any:
    """Load a TransformerLens HookedTransformer with the default weight processing.

    A local folder in Hugging Face format loads its config, weights and tokenizer
    with `local_files_only=True`. Any other `model_id` goes through
    `HookedTransformer.from_pretrained`, which accepts the official TransformerLens
    names and their aliases. The model is returned in eval mode with gradients off.
    `model.cfg.default_prepend_bos` records whether `tokenize_prompt` prepends BOS.
    Python code shipped with a model runs only with `trust_remote_code=True`
    (`probe setup --trust-remote-code`); see `check_remote_code_allowed`.
    """
    from transformer_lens import HookedTransformer

    torch_dtype = parse_dtype(dtype)
    device = device or default_device()

    if _is_local_model_folder(model_id):
        model = _load_hooked_from_folder(Path(model_id), torch_dtype, device, trust_remote_code)
    else:
        check_remote_code_allowed(model_id, trust_remote_code)
        _check_hub_id_available_offline(model_id)
        model = HookedTransformer.from_pretrained(model_id, dtype=torch_dtype, device=device, trust_remote_code=trust_remote_code)

    model.eval()
    model.requires_grad_(False)
    return model


def check_remote_code_allowed(model_id: str, trust_remote_code: bool) -> None:
    """Raise ValueError when TransformerLens would run the model's own code without being allowed to.

    transformer-lens 3.5 turns `trust_remote_code` on by itself for the hub models in its
    `NEED_REMOTE_CODE_MODELS` list (Qwen, phi-2, ...), with only a log line. Here that
    needs the caller's `trust_remote_code=True`.
    """
    if trust_remote_code:
        return
    from transformer_lens import loading_from_pretrained as loading

    names = {model_id}
    try:
        names.add(loading.get_official_model_name(model_id))
    except (ValueError, KeyError):
        pass
    if any(name.startswith(loading.NEED_REMOTE_CODE_MODELS) for name in names):
        raise ValueError(
            f"model {model_id!r} runs Python code from its hub repository (trust_remote_code), which is off; "
            "read that code, then set the probe up again with `auto-research probe setup ... --trust-remote-code`"
        )


def _load_hooked_from_folder(folder: Path, torch_dtype: torch.dtype, device: str, trust_remote_code: bool = False) -> Any:
    """Build a HookedTransformer from a local Hugging Face folder without the official-name check.

    `HookedTransformer.from_pretrained` (transformer-lens 3.5) rejects names that are
    not in its official list, so for a folder the config and the converted state dict
    are built here and processed with `load_and_process_state_dict`, as
    `from_pretrained` does with its defaults.
    """
    from transformer_lens import HookedTransformer
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    _check_local_folder(folder)
    # trust_remote_code is passed explicitly: a folder whose config names its own Python
    # classes (auto_map) must not get them imported unless the person allowed it.
    hf_config = AutoConfig.from_pretrained(folder, local_files_only=True, trust_remote_code=trust_remote_code)
    architectures = list(getattr(hf_config, "architectures", None) or [])
    architecture = architectures[0] if architectures else type(hf_config).__name__

    hf_model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, dtype=torch_dtype, trust_remote_code=trust_remote_code)
    hf_model.requires_grad_(False)
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True, trust_remote_code=trust_remote_code)

    if architecture == "GPT2LMHeadModel":
        cfg, state_dict = _gpt2_config_and_state_dict(folder, hf_config, hf_model, torch_dtype, device)
    else:
        cfg, state_dict = _generic_config_and_state_dict(folder, hf_model, architecture, torch_dtype, device, trust_remote_code)

    model = HookedTransformer(cfg, tokenizer, move_to_device=False)
    model.load_and_process_state_dict(
        state_dict,
        fold_ln=True,
        center_writing_weights=True,
        center_unembed=True,
        fold_value_biases=True,
        refactor_factored_attn_matrices=False,
    )
    model.move_model_modules_to_device()
    return model


def _gpt2_config_and_state_dict(folder: Path, hf_config: Any, hf_model: Any, torch_dtype: torch.dtype, device: str) -> tuple[Any, dict]:
    # transformers 5 dropped GPT2Config.n_ctx, which TransformerLens 3.5's own config
    # conversion reads, so the GPT-2 config is mapped here from n_positions.
    from transformer_lens import HookedTransformerConfig
    from transformer_lens.pretrained.weight_conversions import convert_gpt2_weights

    d_model = hf_config.n_embd
    cfg = HookedTransformerConfig(
        d_model=d_model,
        d_head=d_model // hf_config.n_head,
        n_heads=hf_config.n_head,
        d_mlp=hf_config.n_inner or 4 * d_model,
        n_layers=hf_config.n_layer,
        n_ctx=hf_config.n_positions,
        eps=hf_config.layer_norm_epsilon,
        d_vocab=hf_config.vocab_size,
        act_fn=hf_config.activation_function,
        use_attn_scale=True,
        use_local_attn=False,
        scale_attn_by_inverse_layer_idx=bool(hf_config.scale_attn_by_inverse_layer_idx),
        normalization_type="LNPre",
        positional_embedding_type="standard",
        original_architecture="GPT2LMHeadModel",
        model_name=folder.name,
        tokenizer_name=str(folder),
        init_weights=False,
        default_prepend_bos=True,
        dtype=torch_dtype,
        device=device,
    )
    return cfg, convert_gpt2_weights(hf_model, cfg)


def _generic_config_and_state_dict(folder: Path, hf_model: Any, architecture: str, torch_dtype: torch.dtype, device: str, trust_remote_code: bool = False) -> tuple[Any, dict]:
    import transformer_lens.loading_from_pretrained as loading

    try:
        cfg = loading.get_pretrained_model_config(
            str(folder),
            hf_cfg=hf_model.config.to_dict(),
            fold_ln=True,
            device=device,
            dtype=torch_dtype,
            local_files_only=True,
            trust_remote_code=trust_remote_code,
        )
        state_dict = loading.get_pretrained_state_dict(str(folder), cfg, hf_model, dtype=torch_dtype)
    except (ValueError, AttributeError, KeyError, NotImplementedError) as error:
        raise ValueError(
            f"architecture {architecture} in {folder} is not supported for local loading into a "
            f"HookedTransformer by transformer-lens ({type(error).__name__}: {error}); "
            "GPT2LMHeadModel is supported, or use load_nnsight_model for this model"
        ) from error
    # NOTE: only the GPT-2 path is covered by tests. Other architectures rely on
    # TransformerLens's own conversion of the folder's config.json.
    return cfg, state_dict


def load_nnsight_model(
    model_id: str, device_map: str | None = None, trust_remote_code: bool = False, dispatch: bool = True, **kwargs: Any
) -> Any:
    """Load an nnsight `TransformersModel` for text generation with an explicit tokenizer.

    A local folder loads from disk only. nnsight 0.8 needs `task=` and
    `tokenizer=` to build the model offline, so both are always passed. Extra keyword
    arguments (for example `dtype=`) go to nnsight and on to `from_pretrained`.
    `trust_remote_code` is passed to the tokenizer and the model, off unless given.
    With `dispatch=False` the weights stay on the meta device (a model that runs remotely).
    """
    from nnsight import TransformersModel
    from transformers import AutoTokenizer

    local = _is_local_model_folder(model_id)
    if local:
        # transformers reads a local folder without the network, and the pipeline
        # factory that nnsight calls sets `local_files_only` itself, so passing it
        # here raises a duplicate-keyword TypeError.
        _check_local_folder(Path(model_id))
    else:
        _check_hub_id_available_offline(model_id)

    tokenizer = AutoTokenizer.from_pretrained(model_id, local_files_only=local, trust_remote_code=trust_remote_code)
    if device_map is not None:
        kwargs["device_map"] = device_map
    return TransformersModel(model_id, task="text-generation", tokenizer=tokenizer, dispatch=dispatch, trust_remote_code=trust_remote_code, **kwargs)


def weights_fingerprint(model: torch.nn.Module) -> str:
    """Return the sha256 hex digest over the state dict's names, shapes, dtypes and bytes.

    Tensors are hashed in sorted name order on the CPU, so the digest is the same for
    the same weights on any device. Hashing reads every byte of the weights once.
    """
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        value = tensor.detach().to("cpu").contiguous()
        digest.update(name.encode("utf-8"))
        digest.update(repr(tuple(value.shape)).encode("ascii"))
        digest.update(str(value.dtype).encode("ascii"))
        digest.update(value.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def prepends_bos(model: Any) -> bool:
    """Return whether `tokenize_prompt` prepends a BOS token for this model."""
    return bool(getattr(model.cfg, "default_prepend_bos", False)) and model.tokenizer.bos_token_id is not None


def tokenize_prompt(model: Any, text: str) -> list[int]:
    """Tokenize `text` without special tokens, then prepend BOS once when the model expects it."""
    ids = list(model.tokenizer(text, add_special_tokens=False)["input_ids"])
    if prepends_bos(model):
        bos_id = model.tokenizer.bos_token_id
        if not ids or ids[0] != bos_id:
            ids = [bos_id] + ids
    return ids


def tokenize_continuation(model: Any, text: str) -> list[int]:
    """Tokenize `text` as a continuation: no special tokens and no BOS."""
    return list(model.tokenizer(text, add_special_tokens=False)["input_ids"])


# ---------------------------------------------------------------------------------------
# Encoders (BERT family): TransformerLens 3.5 cannot load them, so they run in Hugging Face.

ENCODER_MODEL_TYPES = ("bert",)


def encoder_config(model_id: str) -> dict[str, Any] | None:
    """Return the config.json of a BERT-type encoder, or None when `model_id` is not one.

    Reads `<folder>/config.json` for a local folder, or the copy in the local Hugging
    Face cache for a hub id, so nothing is downloaded. A model counts as an encoder when
    its `model_type` is in `ENCODER_MODEL_TYPES` or its first architecture starts
    with "Bert" (BertModel, BertForMaskedLM, ...).
    """
    import json

    path: str | None = None
    if _is_local_model_folder(model_id):
        candidate = Path(model_id) / "config.json"
        path = str(candidate) if candidate.is_file() else None
    else:
        try:
            from huggingface_hub import try_to_load_from_cache

            cached = try_to_load_from_cache(model_id, "config.json")
            path = cached if isinstance(cached, str) else None
        except (ImportError, ValueError):
            path = None
    if path is None:
        return None
    try:
        config = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(config, dict):
        return None
    architectures = config.get("architectures") or []
    first = str(architectures[0]) if architectures else ""
    if config.get("model_type") in ENCODER_MODEL_TYPES or first.startswith("Bert"):
        return config
    return None


def is_encoder_model(model_id: str) -> bool:
    """Return whether `model_id` names a BERT-type encoder that `load_encoder` should load."""
    return encoder_config(model_id) is not None


class EncoderConfig:
    """The few `cfg` fields of a HookedTransformer that probes read, for an encoder.

    `n_layers` is the number of transformer blocks, `d_model` the hidden width, `n_ctx`
    the longest input in tokens (special tokens included) and `device` where the
    weights are.
    """

    def __init__(self, *, n_layers: int, d_model: int, n_ctx: int, device: str, dtype: torch.dtype, model_type: str, model_name: str) -> None:
        self.n_layers = n_layers
        self.d_model = d_model
        self.n_ctx = n_ctx
        self.device = device
        self.dtype = dtype
        self.model_type = model_type
        self.model_name = model_name

    def __repr__(self) -> str:
        return (
            f"EncoderConfig(model_type={self.model_type!r}, n_layers={self.n_layers}, d_model={self.d_model}, "
            f"n_ctx={self.n_ctx}, device={self.device!r}, dtype={self.dtype})"
        )


class EncoderModel:
    """A Hugging Face encoder (`model`, in eval mode, gradients off), its tokenizer and a `cfg`.

    With `output_hidden_states=True` the model returns n_layers + 1 hidden states:
    `hidden_states[L]` is the residual stream entering block L (resid_pre; L = 0 is the
    embedding output) and `hidden_states[L + 1]` the stream leaving it (resid_post).
    BERT normalises after each sublayer (post-LN), so both are layer-normalised.
    """

    def __init__(self, model: Any, tokenizer: Any, cfg: EncoderConfig) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.cfg = cfg


def load_encoder(model_id: str, dtype: str = "float32", device: str | None = None, trust_remote_code: bool = False) -> EncoderModel:
    """Load a BERT-type encoder and its tokenizer with `local_files_only=True`, in eval mode with gradients off.

    `model_id` is a local Hugging Face folder (or a hub id already in the local cache).
    Raises ValueError when it is not a BERT-type encoder or has no config.json.
    """
    from transformers import AutoModel, AutoTokenizer

    config = encoder_config(model_id)
    if config is None:
        if _is_local_model_folder(model_id):
            _check_local_folder(Path(model_id))
        raise ValueError(
            f"model {model_id!r} is not a BERT-type encoder that can be loaded offline "
            f"(model_type must be one of {', '.join(ENCODER_MODEL_TYPES)}); use load_hooked_model for decoders"
        )
    torch_dtype = parse_dtype(dtype)
    device = device or default_device()
    tokenizer = AutoTokenizer.from_pretrained(model_id, local_files_only=True, trust_remote_code=trust_remote_code)
    model = AutoModel.from_pretrained(model_id, local_files_only=True, dtype=torch_dtype, trust_remote_code=trust_remote_code)
    model.to(device)
    model.eval()
    model.requires_grad_(False)
    hf_config = model.config
    cfg = EncoderConfig(
        n_layers=int(hf_config.num_hidden_layers),
        d_model=int(hf_config.hidden_size),
        n_ctx=int(getattr(hf_config, "max_position_embeddings", 512)),
        device=str(next(model.parameters()).device),
        dtype=torch_dtype,
        model_type=str(getattr(hf_config, "model_type", "")),
        model_name=Path(model_id).name if _is_local_model_folder(model_id) else model_id,
    )
    return EncoderModel(model, tokenizer, cfg)
