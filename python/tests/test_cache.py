import json

import pytest
import torch

from auto_research_probe.cache import cache_activations, cache_key, cache_key_fields, hook_name

pytestmark = pytest.mark.torch

PROMPTS = ["the cat sat on the mat", "a dog ran", "the red bird is on a tree again"]


def count_forward_calls(model, monkeypatch):
    calls = []
    original = model.forward

    def counting_forward(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(model, "forward", counting_forward)
    return calls


def read_events(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_hook_name_mapping():
    assert hook_name("resid_pre", 0, 2) == "blocks.0.hook_resid_pre"
    assert hook_name("resid_pre", 2, 2) == "blocks.1.hook_resid_post"
    assert hook_name("pattern", 1, 2) == "blocks.1.attn.hook_pattern"
    assert hook_name("mlp_post", 0, 2) == "blocks.0.mlp.hook_post"
    assert hook_name("blocks.{layer}.ln1.hook_normalized", 1, 2) == "blocks.1.ln1.hook_normalized"
    with pytest.raises(ValueError, match="out of range"):
        hook_name("resid_post", 2, 2)
    with pytest.raises(ValueError, match="unknown"):
        hook_name("residual", 0, 2)


def test_cache_matches_run_with_cache(hooked_model, tmp_path):
    from auto_research_probe.models import tokenize_prompt

    activations = cache_activations(hooked_model, PROMPTS, [0, 1, 2], "resid_pre", tmp_path, batch_size=2)
    for index, prompt in enumerate(PROMPTS):
        tokens = torch.tensor([tokenize_prompt(hooked_model, prompt)])
        _, reference = hooked_model.run_with_cache(tokens)
        length = tokens.shape[1]
        for layer, name in [(0, "blocks.0.hook_resid_pre"), (1, "blocks.1.hook_resid_pre"), (2, "blocks.1.hook_resid_post")]:
            assert torch.allclose(activations[layer][index, :length], reference[name][0], atol=1e-5)
            assert torch.all(activations[layer][index, length:] == 0)


def test_cache_hit_skips_forward(hooked_model, tmp_path, monkeypatch):
    calls = count_forward_calls(hooked_model, monkeypatch)
    events = tmp_path / "events.jsonl"
    first = cache_activations(hooked_model, PROMPTS, [0, 2], "resid_pre", tmp_path / "c", events, batch_size=2)
    assert len(calls) == 2
    second = cache_activations(hooked_model, PROMPTS, [0, 2], "resid_pre", tmp_path / "c", events, batch_size=2)
    assert len(calls) == 2
    assert torch.equal(first[2], second[2])
    names = [line["event"] for line in read_events(events)]
    assert names == ["cache.miss", "cache.write", "cache.hit"]
    hit = read_events(events)[-1]
    assert hit["bytes"] > 0
    assert len(hit["key"]) == 64


def test_cache_corrupt_entry_recomputed(hooked_model, tmp_path, monkeypatch):
    events = tmp_path / "events.jsonl"
    first = cache_activations(hooked_model, PROMPTS, [1], "resid_pre", tmp_path / "c", events)
    (tensor_file,) = (tmp_path / "c").glob("*.safetensors")
    data = bytearray(tensor_file.read_bytes())
    data[-1] ^= 0xFF
    tensor_file.write_bytes(bytes(data))

    calls = count_forward_calls(hooked_model, monkeypatch)
    second = cache_activations(hooked_model, PROMPTS, [1], "resid_pre", tmp_path / "c", events)
    assert len(calls) == 1
    assert torch.equal(first[1], second[1])
    lines = read_events(events)
    corrupt = [line for line in lines if line["event"] == "cache.corrupt"]
    assert len(corrupt) == 1
    assert corrupt[0]["level"] == "warning"
    assert "sha256" in corrupt[0]["error_message"]
    assert [line["event"] for line in lines][-2:] == ["cache.miss", "cache.write"]


def test_cache_metadata_file(hooked_model, tmp_path):
    cache_activations(hooked_model, PROMPTS[:1], [0], "resid_pre", tmp_path)
    (metadata_file,) = tmp_path.glob("*.json")
    metadata = json.loads(metadata_file.read_text(encoding="utf-8"))
    assert metadata["key"] == metadata_file.stem
    assert metadata["shapes"] == {"layer_0": [1, 7, hooked_model.cfg.d_model]}
    assert len(metadata["tensor_sha256"]) == 64


def test_cache_key_changes_with_inputs():
    base = dict(model_id="m", weights_sha256="w", dtype="float32", token_ids=[[2, 4, 5]], layers=[0, 1], hook_point="resid_pre")
    base_key = cache_key(cache_key_fields(**base))
    assert cache_key(cache_key_fields(**base)) == base_key
    changes = {
        "token_ids": [[4, 5]],
        "dtype": "bfloat16",
        "layers": [0, 2],
        "hook_point": "resid_post",
        "weights_sha256": "w2",
        "model_id": "m2",
    }
    for name, value in changes.items():
        changed = dict(base, **{name: value})
        assert cache_key(cache_key_fields(**changed)) != base_key, name


def test_cache_key_changes_with_model_dtype(hooked_model, model_copy, tmp_path):
    cache_activations(hooked_model, PROMPTS[:1], [0], "resid_pre", tmp_path)
    model_copy.to(torch.float64)
    model_copy.cfg.dtype = torch.float64
    cache_activations(model_copy, PROMPTS[:1], [0], "resid_pre", tmp_path)
    assert len(list(tmp_path.glob("*.safetensors"))) == 2


def test_cache_rejects_bad_arguments(hooked_model, tmp_path):
    with pytest.raises(ValueError, match="layers is empty"):
        cache_activations(hooked_model, PROMPTS, [], "resid_pre", tmp_path)
    with pytest.raises(ValueError, match="duplicates"):
        cache_activations(hooked_model, PROMPTS, [0, 0], "resid_pre", tmp_path)
    with pytest.raises(ValueError, match="batch_size"):
        cache_activations(hooked_model, PROMPTS, [0], "resid_pre", tmp_path, batch_size=0)
    with pytest.raises(ValueError, match="context"):
        cache_activations(hooked_model, [list(range(5)) * 20], [0], "resid_pre", tmp_path)
