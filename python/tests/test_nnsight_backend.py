"""The nnsight backend's core: module paths, architectures, remote checks, padding, precision checks, settings.

The demo model is loaded once for the module; checks of module paths run on its
Hugging Face module tree without loading it again. Remote checks never leave this
machine: the closed port is one this test bound on 127.0.0.1 and released.
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import pytest
import torch

from auto_research_probe import nnsight_backend
from auto_research_probe.logit_lens import LogitLensConfig, run_logit_lens
from auto_research_probe.nnsight_backend import (
    check_backend_settings,
    NdifUnreachableError,
    check_module_paths,
    check_remote_ready,
    load_nnsight_lm,
    pad_batch,
    precision_check,
    resolve_paths,
)
from auto_research_probe import logit_lens, probing
from auto_research_probe.models import tokenize_prompt, weights_fingerprint
from auto_research_probe.probing import ProbingConfig, run_probing
from nnsight_project import DEMO_MODEL, import_script, make_demo_project

pytestmark = pytest.mark.torch


@pytest.fixture(scope="module")
def lm():
    return load_nnsight_lm(str(DEMO_MODEL), device="cpu")


# ---------------------------------------------------------------------------------------
# Module paths and architectures


def test_known_architecture_resolves_every_role(lm):
    assert lm.cfg.architecture == "GPT2LMHeadModel"
    assert lm.paths == nnsight_backend.ARCHITECTURES["GPT2LMHeadModel"]
    assert (lm.cfg.n_layers, lm.cfg.d_model, lm.cfg.n_heads, lm.cfg.d_vocab) == (2, 64, 4, 204)
    assert lm.module("attn", 1)._module is lm.hf_model.transformer.h[1].attn


def test_missing_path_names_children(lm):
    with pytest.raises(ValueError) as error:
        resolve_paths(lm.hf_model, "GPT2LMHeadModel", {"final_norm": "transformer.ln_final"})
    message = str(error.value)
    assert "'transformer.ln_final'" in message
    assert "role final_norm" in message
    assert "has no child 'ln_final'" in message
    # The children of transformer are listed, so the right name (ln_f) is in the message.
    assert "ln_f" in message
    assert "wte" in message


def test_missing_block_path_named_in_full(lm):
    with pytest.raises(ValueError, match=r"'transformer\.h\.0\.attn\.o_proj' \(role attn_out_proj\).*c_proj"):
        resolve_paths(lm.hf_model, "GPT2LMHeadModel", {"attn_out_proj": "attn.o_proj"})


def test_blocks_path_must_be_a_module_list(lm):
    with pytest.raises(ValueError, match=r"'transformer\.ln_f' \(role blocks\).*LayerNorm, not a non-empty list"):
        resolve_paths(lm.hf_model, "GPT2LMHeadModel", {"blocks": "transformer.ln_f"})


def test_unknown_architecture_is_named_with_the_missing_roles(lm):
    with pytest.raises(ValueError) as error:
        resolve_paths(lm.hf_model, "MysteryForCausalLM", {"blocks": "transformer.h"})
    message = str(error.value)
    assert "'MysteryForCausalLM'" in message
    assert "final_norm, unembed, attn, attn_out_proj, mlp missing" in message
    assert "GPT2LMHeadModel" in message  # the known architectures are listed


def test_unknown_architecture_runs_with_every_path_given(lm):
    paths = dict(nnsight_backend.ARCHITECTURES["GPT2LMHeadModel"])
    assert resolve_paths(lm.hf_model, "MysteryForCausalLM", paths) == paths


def test_unknown_role_is_rejected(lm):
    with pytest.raises(ValueError, match=r"unknown role 'embed'"):
        resolve_paths(lm.hf_model, "GPT2LMHeadModel", {"embed": "transformer.wte"})
    with pytest.raises(ValueError, match=r"unknown module role 'embed': choose from blocks"):
        lm.module("embed")
    with pytest.raises(ValueError, match=r"'mlp' is inside a block: give its layer"):
        lm.module("mlp")


def test_script_exits_2_naming_a_wrong_module_path(tmp_path, capsys):
    code, _ = make_demo_project(tmp_path, n_examples=4, seeds=[0])
    script = code / "analysis" / "logit_lens_nnsight.py"
    text = script.read_text(encoding="utf-8")
    assert "\nMODULE_PATHS = {}\n" in text
    script.write_text(text.replace("\nMODULE_PATHS = {}\n", '\nMODULE_PATHS = {"final_norm": "transformer.norm"}\n'), encoding="utf-8")

    assert import_script(code, "logit_lens", "nnsight").main() == 2
    stderr = capsys.readouterr().err
    assert "error: module path 'transformer.norm' (role final_norm) does not exist in GPT2LMHeadModel" in stderr
    assert not (code / "results" / "probe" / "logit_lens_nnsight.json").exists()


@pytest.mark.parametrize(
    "module_paths, shown",
    [
        ({"blocks": 5}, "got 5"),
        (["transformer.h"], "got a list: ['transformer.h']"),
        ({"blocks": ""}, "got ''"),
        ({"blocks": "transformer..h"}, "got 'transformer..h'"),
        ({"blocks": "transformer.h[0]"}, "got 'transformer.h[0]'"),
        ({"blocks": "transformer.h "}, "got 'transformer.h '"),
        ({"unembed": None}, "got None"),
    ],
)
def test_invalid_module_paths_are_named(lm, module_paths, shown):
    with pytest.raises(ValueError) as error:
        check_module_paths(module_paths)
    assert shown in str(error.value)
    assert "MODULE_PATHS" in str(error.value)
    with pytest.raises(ValueError, match="MODULE_PATHS"):
        resolve_paths(lm.hf_model, "GPT2LMHeadModel", module_paths)


def test_valid_module_paths_pass():
    paths = {"blocks": "model.layers", "mlp": "mlp", "attn_out_proj": "self_attn.o_proj", "unembed": "model.decoder.0.lm_head_2"}
    assert check_module_paths(paths) == paths
    assert check_module_paths(None) == {}


@pytest.mark.parametrize("module_paths", ["{'blocks': 5}", "['transformer.h']"])
def test_script_exits_2_for_invalid_module_paths(tmp_path, capsys, module_paths):
    code, _ = make_demo_project(tmp_path, n_examples=4, seeds=[0])
    script = code / "analysis" / "logit_lens_nnsight.py"
    script.write_text(script.read_text(encoding="utf-8").replace("\nMODULE_PATHS = {}\n", f"\nMODULE_PATHS = {module_paths}\n"), encoding="utf-8")
    assert import_script(code, "logit_lens", "nnsight").main() == 2
    stderr = capsys.readouterr().err
    assert "error: MODULE_PATHS" in stderr
    assert "Traceback" not in stderr


def test_embedding_as_unembed_is_rejected_at_load():
    with pytest.raises(ValueError) as error:
        load_nnsight_lm(str(DEMO_MODEL), device="cpu", module_paths={"unembed": "transformer.wte"})
    message = str(error.value)
    assert "'transformer.wte' (role unembed)" in message
    assert "is an Embedding" in message


def test_unembed_width_must_be_the_vocabulary():
    with pytest.raises(ValueError, match=r"'transformer\.h\.0\.mlp\.c_proj' \(role unembed\) .* maps 256 features to 64, .*d_model=64 to the vocabulary size 204"):
        load_nnsight_lm(str(DEMO_MODEL), device="cpu", module_paths={"unembed": "transformer.h.0.mlp.c_proj"})


@pytest.mark.parametrize("path, kind", [("lm_head", "Linear"), ("transformer.h.1", "GPT2Block"), ("transformer.wpe", "Embedding")])
def test_final_norm_must_be_a_norm(path, kind):
    with pytest.raises(ValueError) as error:
        load_nnsight_lm(str(DEMO_MODEL), device="cpu", module_paths={"final_norm": path})
    message = str(error.value)
    assert f"{path!r} (role final_norm)" in message
    assert f"is a {kind} with parameter" in message
    assert "not a normalisation layer" in message


def tiny_config(architecture: str):
    """A two-layer, 32-wide config of `architecture`, small enough to build in a test."""
    import transformers

    sizes = dict(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, num_key_value_heads=4)
    if architecture == "GPT2LMHeadModel":
        return transformers.GPT2Config(vocab_size=50, n_embd=32, n_layer=2, n_head=4)
    if architecture == "OPTForCausalLM":
        return transformers.OPTConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, ffn_dim=64, word_embed_proj_dim=32)
    if architecture == "GPTNeoXForCausalLM":
        return transformers.GPTNeoXConfig(**{k: v for k, v in sizes.items() if k != "num_key_value_heads"})
    config_class = getattr(transformers, architecture.replace("ForCausalLM", "Config"))
    return config_class(**sizes, head_dim=8)


@pytest.mark.parametrize("architecture", sorted(nnsight_backend.ARCHITECTURES))
def test_known_architectures_pass_module_checks(architecture):
    import transformers

    torch.manual_seed(0)
    hf_model = getattr(transformers, architecture)(tiny_config(architecture))
    paths = resolve_paths(hf_model, architecture)
    assert paths == nnsight_backend.ARCHITECTURES[architecture]
    # The final norm (LayerNorm or the architecture's RMSNorm) and the unembedding pass the shape checks.
    cfg = nnsight_backend._model_config(hf_model, architecture, paths, architecture, tokenizer=None)
    assert cfg.d_vocab == 50
    assert cfg.d_model == 32
    assert "norm" in type(hf_model.get_submodule(paths["final_norm"])).__name__.lower()


# ---------------------------------------------------------------------------------------
# Roles each probe reads


def test_roles_limit_what_an_unknown_architecture_needs(lm):
    lens_paths = {"blocks": "transformer.h", "final_norm": "transformer.ln_f", "unembed": "lm_head"}
    assert resolve_paths(lm.hf_model, "MysteryForCausalLM", lens_paths, roles=logit_lens.NNSIGHT_ROLES) == lens_paths
    with pytest.raises(ValueError) as error:
        resolve_paths(lm.hf_model, "MysteryForCausalLM", {"blocks": "transformer.h"}, roles=logit_lens.NNSIGHT_ROLES)
    message = str(error.value)
    assert "(final_norm, unembed missing)" in message
    assert resolve_paths(lm.hf_model, "MysteryForCausalLM", {"blocks": "transformer.h"}, roles=probing.nnsight_roles("resid_post")) == {
        "blocks": "transformer.h"
    }
    with pytest.raises(ValueError, match=r"\(mlp missing\)"):
        resolve_paths(lm.hf_model, "MysteryForCausalLM", {"blocks": "transformer.h"}, roles=probing.nnsight_roles("mlp_out"))


def test_probing_roles_follow_the_hook():
    assert probing.nnsight_roles("resid_pre") == ("blocks",)
    assert probing.nnsight_roles("resid_post") == ("blocks",)
    assert probing.nnsight_roles("resid_mid") == ("blocks", "attn")
    assert probing.nnsight_roles("attn_out") == ("blocks", "attn")
    assert probing.nnsight_roles("mlp_out") == ("blocks", "mlp")


def test_role_without_a_path_is_named(lm):
    partial = nnsight_backend.NnsightLM(lm.model, lm.tokenizer, lm.cfg, {"blocks": "transformer.h"}, remote=False)
    with pytest.raises(ValueError, match=r"module role 'mlp' has no path for this GPT2LMHeadModel model \(resolved: blocks\); add MODULE_PATHS\['mlp'\]"):
        partial.module("mlp", 0)


def set_module_paths(code: Path, intervention: str, paths: dict) -> None:
    script = code / "analysis" / f"{intervention}_nnsight.py"
    script.write_text(script.read_text(encoding="utf-8").replace("\nMODULE_PATHS = {}\n", f"\nMODULE_PATHS = {paths!r}\n"), encoding="utf-8")


def read_results(code: Path, intervention: str) -> dict:
    return json.loads((code / "results" / "probe" / f"{intervention}_nnsight.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "intervention, paths",
    [
        ("logit_lens", {"blocks": "transformer.h", "final_norm": "transformer.ln_f", "unembed": "lm_head"}),
        ("probing", {"blocks": "transformer.h"}),
    ],
)
def test_unknown_architecture_runs_with_the_roles_it_reads(tmp_path, monkeypatch, intervention, paths):
    code, package = make_demo_project(tmp_path, n_examples=12, seeds=[0])
    set_module_paths(code, intervention, paths)
    script = import_script(code, intervention, "nnsight")
    # The demo model serves as an unknown architecture: the script's runtime copy loses its table entry.
    monkeypatch.delitem(sys.modules[f"{package}.probe_runtime.nnsight_backend"].ARCHITECTURES, "GPT2LMHeadModel")
    assert script.main() == 0
    results = read_results(code, intervention)
    assert results["provenance"]["module_paths"] == paths


# ---------------------------------------------------------------------------------------
# Provenance and semantics of nnsight runs


def test_results_record_module_paths(tmp_path):
    code, _ = make_demo_project(tmp_path, n_examples=4, seeds=[0])
    assert import_script(code, "logit_lens", "nnsight").main() == 0
    results = read_results(code, "logit_lens")
    assert results["provenance"]["module_paths"] == nnsight_backend.ARCHITECTURES["GPT2LMHeadModel"]
    assert results["provenance"]["remote"] is False
    semantics = results["layer_semantics"]
    assert "final norm module transformer.ln_f" in semantics
    assert "unembedding module lm_head" in semantics
    assert "transformer.h.L" in semantics


def test_transformer_lens_results_have_no_module_paths(tmp_path):
    code, _ = make_demo_project(tmp_path, n_examples=4, seeds=[0])
    module = import_script(code, "logit_lens", "transformer_lens")
    assert module.main() == 0
    results = json.loads((code / "results" / "probe" / "logit_lens_transformer_lens.json").read_text(encoding="utf-8"))
    assert "module_paths" not in results["provenance"]


def test_remote_local_is_recorded_as_a_local_run(tmp_path, lm):
    code, _ = make_demo_project(tmp_path, n_examples=4, seeds=[0])
    script = code / "analysis" / "logit_lens_nnsight.py"
    script.write_text(script.read_text(encoding="utf-8").replace("\nREMOTE = False\n", "\nREMOTE = 'local'\n"), encoding="utf-8")
    assert import_script(code, "logit_lens", "nnsight").main() == 0
    provenance = read_results(code, "logit_lens")["provenance"]
    # "local" serialises each request as for NDIF but runs it here, with the weights on this machine.
    assert provenance["remote"] is False
    assert provenance["weights_sha256"] == weights_fingerprint(lm.hf_model)


@pytest.mark.parametrize("remote", ["yes", 1, None])
def test_remote_must_be_a_known_mode(remote):
    config = LogitLensConfig("logit_lens_x", "m", "data/prompts.jsonl", backend="nnsight")
    config.remote = remote
    with pytest.raises(ValueError, match=r"remote must be False, True \(NDIF\) or 'local'"):
        check_backend_settings(config)


# ---------------------------------------------------------------------------------------
# Prompts longer than the model's context


def long_text(n_tokens: int) -> str:
    """Demo-vocabulary words that tokenize to `n_tokens` tokens with BOS."""
    words = [line["prompt"] for line in map(json.loads, (DEMO_MODEL.parent / "prompts.jsonl").read_text(encoding="utf-8").splitlines())]
    text = " ".join(words).split()
    return " ".join(text[: n_tokens - 1])


def test_long_text_has_the_requested_length(lm):
    assert len(tokenize_prompt(lm, long_text(71))) == 71


@pytest.mark.parametrize("backend", ["nnsight", "transformer_lens"])
def test_logit_lens_prompt_longer_than_context_exits_2(tmp_path, capsys, backend):
    code, _ = make_demo_project(tmp_path, n_examples=4, seeds=[0])
    prompts = code / "data" / "prompts.jsonl"
    lines = prompts.read_text(encoding="utf-8").splitlines()[:3]
    lines.append(json.dumps({"prompt": long_text(71), "answer": " kego"}))
    prompts.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert import_script(code, "logit_lens", backend).main() == 2
    stderr = capsys.readouterr().err
    assert "error: prompts line 4: the prompt has 71 tokens, more than the model's context of 64" in stderr


def reject_trace(*arguments):
    raise AssertionError("the trace function ran before the context length was checked")


def test_probing_long_text_rejected_before_trace(tmp_path):
    (tmp_path / "data").mkdir()
    lines = [json.dumps({"text": f"kego fulo {'defi ' * index}kavu", "label": "a" if index % 2 else "b"}) for index in range(11)]
    lines.append(json.dumps({"text": long_text(71), "label": "a"}))
    (tmp_path / "data" / "labels.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = ProbingConfig("probing_long", str(DEMO_MODEL), "data/labels.jsonl", n_examples=12, seeds=[0], folds=3, backend="nnsight", device="cpu")
    with pytest.raises(ValueError, match=r"line 12: 71 tokens, more than the model's context of 64"):
        run_probing(config, tmp_path, probe_features=reject_trace)
    assert not (tmp_path / "results").exists()


# ---------------------------------------------------------------------------------------
# Remote execution offline


def test_remote_without_key_fails_before_loading(monkeypatch):
    monkeypatch.delenv("NDIF_API_KEY", raising=False)
    with pytest.raises(ValueError, match=r"needs an API key in the NDIF_API_KEY environment variable"):
        check_remote_ready()
    monkeypatch.setenv("NDIF_API_KEY", "   ")
    with pytest.raises(ValueError, match=r"NDIF_API_KEY environment variable, which is not set"):
        load_nnsight_lm(str(DEMO_MODEL), remote=True)


def closed_local_port() -> int:
    """A port on 127.0.0.1 that this test bound and released, so nothing listens there."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_remote_unreachable_host_fails_fast(monkeypatch):
    key = "test-key-0123456789-not-real"
    port = closed_local_port()
    monkeypatch.setenv("NDIF_API_KEY", key)
    monkeypatch.setenv("NDIF_HOST", f"http://127.0.0.1:{port}")
    with pytest.raises(NdifUnreachableError) as error:
        check_remote_ready(timeout_s=2.0)
    # An environment problem (OSError, exit code 3 in the scripts), not an invalid setting.
    assert isinstance(error.value, OSError)
    assert not isinstance(error.value, ValueError)
    message = str(error.value)
    assert f"cannot reach NDIF at http://127.0.0.1:{port}" in message
    assert "ConnectionRefusedError" in message
    assert key not in message
    with pytest.raises(NdifUnreachableError, match="cannot reach NDIF"):
        load_nnsight_lm(str(DEMO_MODEL), remote=True)


@pytest.mark.parametrize("intervention", ["logit_lens", "probing"])
def test_unreachable_host_script_exits_3(tmp_path, monkeypatch, capsys, intervention):
    port = closed_local_port()
    monkeypatch.setenv("NDIF_API_KEY", "test-key-not-real")
    monkeypatch.setenv("NDIF_HOST", f"http://127.0.0.1:{port}")
    code, _ = make_demo_project(tmp_path, n_examples=12, seeds=[0])
    script = code / "analysis" / f"{intervention}_nnsight.py"
    script.write_text(script.read_text(encoding="utf-8").replace("\nREMOTE = False\n", "\nREMOTE = True\n"), encoding="utf-8")
    assert import_script(code, intervention, "nnsight").main() == 3
    assert f"error: cannot reach NDIF at http://127.0.0.1:{port}" in capsys.readouterr().err
    assert not (code / "results" / "probe" / f"{intervention}_nnsight.json").exists()


def test_remote_host_must_be_an_http_url(monkeypatch):
    monkeypatch.setenv("NDIF_API_KEY", "test-key")
    monkeypatch.setenv("NDIF_HOST", "127.0.0.1:1")
    with pytest.raises(ValueError, match=r"NDIF host '127\.0\.0\.1:1' is not an http\(s\) URL"):
        check_remote_ready()


def test_remote_run_through_a_script_exits_2(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("NDIF_API_KEY", raising=False)
    code, _ = make_demo_project(tmp_path, n_examples=12, seeds=[0])
    script = code / "analysis" / "probing_nnsight.py"
    script.write_text(script.read_text(encoding="utf-8").replace("\nREMOTE = False\n", "\nREMOTE = True\n"), encoding="utf-8")
    assert import_script(code, "probing", "nnsight").main() == 2
    assert "error: remote execution on NDIF needs an API key in the NDIF_API_KEY" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------
# Left padding


def test_pad_batch_layout(lm):
    batch = pad_batch(lm, [[0, 5, 6, 7], [0, 8], [0, 9, 10]])
    pad = lm.tokenizer.pad_token_id
    assert pad == 2
    assert batch.input_ids.tolist() == [[0, 5, 6, 7], [pad, pad, 0, 8], [pad, 0, 9, 10]]
    assert batch.attention_mask.tolist() == [[1, 1, 1, 1], [0, 0, 1, 1], [0, 1, 1, 1]]
    # Positions count from each prompt's first real token; padding gets 0 and is masked.
    assert batch.position_ids.tolist() == [[0, 1, 2, 3], [0, 0, 0, 1], [0, 0, 1, 2]]
    assert batch.lengths == [4, 2, 3]
    assert batch.input_ids.dtype == torch.long


def test_pad_batch_rejects_empty_input(lm):
    with pytest.raises(ValueError, match="at least one prompt, and no empty prompt"):
        pad_batch(lm, [])
    with pytest.raises(ValueError, match="no empty prompt"):
        pad_batch(lm, [[0, 1], []])


# ---------------------------------------------------------------------------------------
# Precision check record


def test_precision_check_record():
    record = precision_check([[1.0, 2.0], [3.0, 4.0]], [[1.0, 2.5], [2.0, 4.0]], metric="m", dtype="bfloat16", tolerance=0.75, n_examples=2)
    assert record == {
        "dtype": "bfloat16",
        "reference_dtype": "float32",
        "n_examples": 2,
        "metric": "m",
        "max_abs_diff": 1.0,
        "mean_abs_diff": 0.375,
        "within_tolerance": False,
        "tolerance": 0.75,
    }
    assert precision_check([1.0, -2.0], [1.5, -2.0], metric="m", dtype="float16", tolerance=0.5)["within_tolerance"] is True
    assert precision_check([1.0, -2.0], [1.5, -2.0], metric="m", dtype="float16", tolerance=0.5)["n_examples"] == 2


def test_precision_check_rejects_mismatched_values():
    with pytest.raises(ValueError, match="two equal, non-empty sets of values, got 2 and 3"):
        precision_check([1.0, 2.0], [1.0, 2.0, 3.0], metric="m", dtype="bfloat16", tolerance=1.0)
    with pytest.raises(ValueError, match="got 0 and 0"):
        precision_check([], [], metric="m", dtype="bfloat16", tolerance=1.0)


# ---------------------------------------------------------------------------------------
# Backend settings


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"backend": "pytorch"}, r"backend 'pytorch' is unknown: choose from transformer_lens, nnsight"),
        ({"remote": True}, r"remote applies to the nnsight backend only"),
        ({"device_map": "auto", "recheck_float32": 4}, r"device_map, recheck_float32 applies to the nnsight backend only"),
        ({"module_paths": {"blocks": "h"}}, r"module_paths applies to the nnsight backend only"),
        ({"backend": "nnsight", "device_map": "everywhere"}, r"device_map 'everywhere' is not supported: use one of auto"),
        ({"backend": "nnsight", "recheck_float32": -1}, r"recheck_float32 must be a whole number of examples, 0 for off, got -1"),
        ({"backend": "nnsight", "recheck_float32": True}, r"got True"),
    ],
)
def test_backend_settings_are_checked(changes, message):
    config = LogitLensConfig("logit_lens_x", "m", "data/prompts.jsonl")
    for name, value in changes.items():
        setattr(config, name, value)
    with pytest.raises(ValueError, match=message):
        check_backend_settings(config)


def test_nnsight_settings_pass_with_the_nnsight_backend():
    config = ProbingConfig("probing_x", "m", "data/labels.jsonl", backend="nnsight", remote=True, device_map="auto", recheck_float32=8)
    check_backend_settings(config)


def test_nnsight_run_needs_the_trace_function(tmp_path):
    with pytest.raises(ValueError, match=r"needs the script's trace function: call run_logit_lens\(config, root, lens_logits=\.\.\.\)"):
        run_logit_lens(LogitLensConfig("logit_lens_x", "m", "data/prompts.jsonl", backend="nnsight"), tmp_path)
    with pytest.raises(ValueError, match=r"call run_probing\(config, root, probe_features=\.\.\.\)"):
        run_probing(ProbingConfig("probing_x", "m", "data/labels.jsonl", backend="nnsight"), tmp_path)
    assert not (tmp_path / "cache").exists()


def test_remote_fingerprint_hashes_id_and_config(lm):
    local = nnsight_backend.nnsight_fingerprint(lm, str(DEMO_MODEL))
    remote_lm = nnsight_backend.NnsightLM(lm.model, lm.tokenizer, lm.cfg, lm.paths, remote=True)
    remote = nnsight_backend.nnsight_fingerprint(remote_lm, str(DEMO_MODEL))
    assert len(local) == len(remote) == 64
    assert local != remote
    config_text = (Path(DEMO_MODEL) / "config.json").read_text(encoding="utf-8")
    import hashlib
    import json

    # The model's name, not its path, so the fingerprint is the same wherever the folder is.
    expected = hashlib.sha256(json.dumps({"model_id": Path(DEMO_MODEL).name, "config_json": config_text}, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    assert remote == expected


# ---------------------------------------------------------------------------------------
# Templates


def constants(text: str) -> set[str]:
    import re

    return set(re.findall(r"^([A-Z][A-Z0-9_]*) = ", text, flags=re.MULTILINE))


@pytest.mark.parametrize("intervention", ["logit_lens", "probing"])
def test_nnsight_template_renders_every_option(tmp_path, intervention):
    import py_compile

    from test_templates import COMMON, HOSTILE_HYPOTHESIS, TEMPLATES, render

    values = {
        **COMMON,
        "probe_id_literal": repr(f"{intervention}_big"),
        "model_id_literal": repr("meta-llama/Llama-3.1-70B"),
        "prompts_path_literal": repr("data/prompts.jsonl"),
        "labels_path_literal": repr("data/labels.jsonl"),
        "hook_literal": repr("resid_mid"),
        "position_literal": repr("mean"),
        "folds": 5,
        "layers_literal": "[0, 40, 80]",
        "n_examples": 64,
        "seeds_literal": "[0, 1, 2]",
        "dtype_literal": repr("bfloat16"),
        "hypothesis_literal": repr(HOSTILE_HYPOTHESIS),
        "remote_literal": "True",
        "device_map_literal": repr("auto"),
        "recheck_float32": 16,
        "trust_remote_code": [{}],
        "has_research_question": [{}],
        "research_question_literal": repr("RQ1: where? \"quoted\""),
    }
    text = render((TEMPLATES / f"{intervention}_nnsight.py.mustache").read_text(encoding="utf-8"), values)
    script = tmp_path / f"{intervention}_nnsight.py"
    script.write_text(text, encoding="utf-8")
    py_compile.compile(str(script), doraise=True)

    assert "\nREMOTE = True\n" in text
    assert "\nDEVICE_MAP = 'auto'\n" in text
    assert "\nRECHECK_FLOAT32 = 16\n" in text
    assert "\nMODULE_PATHS = {}\n" in text
    assert "        trust_remote_code=True,\n" in text
    assert "RESEARCH_QUESTION = 'RQ1: where? \"quoted\"'" in text
    assert f"HYPOTHESIS = {HOSTILE_HYPOTHESIS!r}" in text
    assert 'backend="nnsight",' in text
    # The same constants as the transformer_lens script, plus the four nnsight settings.
    transformer_lens = render((TEMPLATES / f"{intervention}.py.mustache").read_text(encoding="utf-8"), values)
    assert constants(text) == constants(transformer_lens) | {"REMOTE", "DEVICE_MAP", "RECHECK_FLOAT32", "MODULE_PATHS"}


def test_encoder_on_nnsight_is_a_usage_error(tmp_path):
    import json

    (tmp_path / "models" / "bert").mkdir(parents=True)
    (tmp_path / "models" / "bert" / "config.json").write_text(json.dumps({"model_type": "bert", "architectures": ["BertModel"]}))
    (tmp_path / "data").mkdir()
    lines = [json.dumps({"text": f"text {index}", "label": "a" if index % 2 else "b"}) for index in range(12)]
    (tmp_path / "data" / "labels.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = ProbingConfig("probing_bert", "models/bert", "data/labels.jsonl", n_examples=12, seeds=[0], folds=3, backend="nnsight")
    with pytest.raises(ValueError, match=r"model 'models/bert' is an encoder, .*not on the nnsight backend; set the probe up with --backend transformer_lens"):
        run_probing(config, tmp_path, probe_features=lambda *arguments: {})
    assert not (tmp_path / "results").exists()
