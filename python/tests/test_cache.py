import errno
import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from auto_research_probe import FORMAT_VERSION, cache
from auto_research_probe.cache import (
    CacheWriteError,
    cache_activations,
    cache_key,
    cache_key_fields,
    cached_entries,
    ensure_cached,
    hook_name,
    iter_cached_batches,
)

pytestmark = pytest.mark.torch

PROMPTS = ["the cat sat on the mat", "a dog ran", "the red bird is on a tree again"]
FIVE = PROMPTS + ["blue sky and green tree", "then the dog sat"]
EVENT_FIELDS = {"event", "level", "ts", "run_id", "duration_ms", "key", "bytes"}
PYTHON_DIR = Path(__file__).resolve().parents[1]


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


def entry_files(folder, key=None):
    """Every file of the folder that belongs to an entry (metadata or shard), by name."""
    pattern = re.compile(rf"^{key or '[0-9a-f]{64}'}(\.\d+\.safetensors|\.json)$")
    return sorted(path.name for path in folder.iterdir() if pattern.match(path.name))


def only_metadata(folder):
    (metadata_file,) = folder.glob("*.json")
    return metadata_file, json.loads(metadata_file.read_text(encoding="utf-8"))


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
    lines = read_events(events)
    assert [line["event"] for line in lines] == ["cache.miss", "cache.write", "cache.hit"]
    for line in lines:
        assert EVENT_FIELDS <= set(line), line
        assert line["level"] == "info"
        assert len(line["key"]) == 64
    miss, write, hit = lines
    assert miss["bytes"] == 0
    assert write["bytes"] == hit["bytes"] > 0
    assert write["n_files"] == 2


def test_metadata_format_2_shard_per_batch(hooked_model, tmp_path):
    from auto_research_probe.results import file_sha256

    cache_activations(hooked_model, FIVE, [0, 1], "resid_pre", tmp_path, batch_size=2)
    metadata_file, metadata = only_metadata(tmp_path)
    key = metadata_file.stem
    assert FORMAT_VERSION == 2
    assert set(metadata) == {
        "format_version", "key", "created_at", "model_id", "weights_sha256", "dtype", "hook_point",
        "layers", "n_prompts", "files", "shapes", "bytes",
    }
    assert metadata["format_version"] == 2
    assert metadata["key"] == key
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", metadata["created_at"])
    assert metadata["hook_point"] == "resid_pre"
    assert metadata["layers"] == [0, 1]
    assert metadata["dtype"] == "float32"
    assert metadata["n_prompts"] == 5
    width = 9  # the maximum prompt length, with BOS
    assert metadata["shapes"] == {"layer_0": [5, width, 32], "layer_1": [5, width, 32]}
    assert [(info["first_prompt"], info["n_prompts"]) for info in metadata["files"]] == [(0, 2), (2, 2), (4, 1)]
    for index, info in enumerate(metadata["files"]):
        assert set(info) == {"name", "sha256", "bytes", "first_prompt", "n_prompts"}
        assert info["name"] == f"{key}.{index}.safetensors"
        assert info["sha256"] == file_sha256(tmp_path / info["name"])
        assert info["bytes"] == (tmp_path / info["name"]).stat().st_size
    assert metadata["bytes"] == sum(info["bytes"] for info in metadata["files"])
    assert entry_files(tmp_path) == sorted([f"{key}.json"] + [f"{key}.{i}.safetensors" for i in range(3)])
    assert not list(tmp_path.glob("*.tmp"))
    assert not list(tmp_path.glob(".*"))
    assert not list(tmp_path.glob("*.lock"))


def test_iter_cached_batches_per_shard(hooked_model, tmp_path, monkeypatch):
    whole = cache_activations(hooked_model, FIVE, [1], "resid_pre", tmp_path, batch_size=2)
    calls = count_forward_calls(hooked_model, monkeypatch)
    batches = list(iter_cached_batches(hooked_model, FIVE, [1], "resid_pre", tmp_path, batch_size=4))
    assert calls == []
    # The shards as written (batch_size 2), not this call's batch size.
    assert [(batch.first_prompt, batch.n_prompts) for batch in batches] == [(0, 2), (2, 2), (4, 1)]
    assert [batch.activations[1].shape[0] for batch in batches] == [2, 2, 1]
    assert torch.equal(torch.cat([batch.activations[1] for batch in batches]), whole[1])

    entry = ensure_cached(hooked_model, FIVE, [1], "resid_pre", tmp_path)
    rows = [4, 0, 1, 3]
    assert torch.equal(entry.rows(rows)[1], whole[1][rows])
    with pytest.raises(ValueError, match="rows must be in 0..4"):
        entry.rows([5])


def test_returned_tensors_own_their_memory(hooked_model, tmp_path):
    first = cache_activations(hooked_model, PROMPTS, [1], "resid_pre", tmp_path)
    kept = first[1].clone()
    for shard in tmp_path.glob("*.safetensors"):
        data = bytearray(shard.read_bytes())
        data[-4:] = b"\xff\xff\xff\xff"
        shard.write_bytes(bytes(data))
    assert torch.equal(first[1], kept)


def flip_last_byte(folder):
    (shard, *_) = sorted(folder.glob("*.safetensors"))
    data = bytearray(shard.read_bytes())
    data[-1] ^= 0xFF
    shard.write_bytes(bytes(data))
    return shard


def truncate_shard(folder):
    shard = sorted(folder.glob("*.safetensors"))[-1]
    shard.write_bytes(shard.read_bytes()[:-100])
    return shard


def delete_shard(folder):
    shard = sorted(folder.glob("*.safetensors"))[0]
    shard.unlink()
    return shard


def garble_metadata(folder):
    metadata_file, _ = only_metadata(folder)
    metadata_file.write_text('{"format_version": 2, "key": ', encoding="utf-8")
    return metadata_file


def change_recorded_sha(folder):
    metadata_file, metadata = only_metadata(folder)
    metadata["files"][0]["sha256"] = "0" * 64
    metadata_file.write_text(json.dumps(metadata), encoding="utf-8")
    return folder / metadata["files"][0]["name"]


@pytest.mark.parametrize(
    "damage, message",
    [
        (flip_last_byte, "sha256"),
        (truncate_shard, "truncated"),
        (delete_shard, "cannot be read"),
        (garble_metadata, "not valid JSON"),
        (change_recorded_sha, "sha256"),
    ],
)
def test_damaged_entry_recomputed(hooked_model, tmp_path, monkeypatch, damage, message):
    events = tmp_path / "events.jsonl"
    folder = tmp_path / "c"
    first = cache_activations(hooked_model, PROMPTS, [1], "resid_pre", folder, events, batch_size=2)
    damaged = damage(folder)

    calls = count_forward_calls(hooked_model, monkeypatch)
    second = cache_activations(hooked_model, PROMPTS, [1], "resid_pre", folder, events, batch_size=2)
    assert len(calls) == 2
    assert torch.equal(first[1], second[1])
    lines = read_events(events)
    assert [line["event"] for line in lines] == ["cache.miss", "cache.write", "cache.corrupt", "cache.miss", "cache.write"]
    corrupt = lines[2]
    assert EVENT_FIELDS <= set(corrupt)
    assert corrupt["level"] == "warning"
    assert corrupt["key"] == lines[0]["key"]
    assert corrupt["path"] == str(damaged)
    assert message in corrupt["error"]
    assert corrupt["error_message"] == corrupt["error"]
    # The recomputed entry is whole again: the next lookup is a plain hit.
    cache_activations(hooked_model, PROMPTS, [1], "resid_pre", folder, events, batch_size=2)
    assert read_events(events)[-1]["event"] == "cache.hit"
    assert len(calls) == 2


def test_metadata_of_another_key_recomputed(hooked_model, tmp_path, monkeypatch):
    """An entry whose metadata (and shards) belong to another key: recomputed, not served."""
    events = tmp_path / "events.jsonl"
    cats = cache_activations(hooked_model, PROMPTS[:1], [0], "resid_pre", tmp_path, events)
    metadata_file, metadata = only_metadata(tmp_path)
    dog_key = cache_key(
        cache_key_fields(
            model_id=metadata["model_id"],
            weights_sha256=metadata["weights_sha256"],
            dtype="float32",
            token_ids=[cache._tokenize_all(hooked_model, PROMPTS[1:2])[0]],
            layers=[0],
            hook_point="resid_pre",
        )
    )
    # Plant the cat entry under the dog prompt's key: valid shards, valid checksums.
    for info in metadata["files"]:
        (tmp_path / info["name"]).rename(tmp_path / info["name"].replace(metadata["key"], dog_key))
    metadata_file.rename(tmp_path / f"{dog_key}.json")

    calls = count_forward_calls(hooked_model, monkeypatch)
    dogs = cache_activations(hooked_model, PROMPTS[1:2], [0], "resid_pre", tmp_path, events)
    assert len(calls) == 1
    corrupt = [line for line in read_events(events) if line["event"] == "cache.corrupt"]
    assert len(corrupt) == 1
    assert corrupt[0]["key"] == dog_key
    assert "does not match the file name" in corrupt[0]["error"]
    assert dogs[0].shape[1] == 4
    assert cats[0].shape[1] == 7
    _, rewritten = only_metadata(tmp_path)
    assert rewritten["key"] == dog_key


def test_uncommitted_files_are_not_entries(hooked_model, tmp_path, monkeypatch):
    first = cache_activations(hooked_model, FIVE, [0], "resid_pre", tmp_path, batch_size=2)
    metadata_file, metadata = only_metadata(tmp_path)
    key = metadata["key"]
    metadata_file.unlink()  # a write interrupted before its commit
    (tmp_path / f"{key}.7.safetensors").write_bytes(b"left over by an older write")
    (tmp_path / f".{key}.json.abc123.tmp").write_text("{}", encoding="utf-8")
    (tmp_path / f"{key}.safetensors").write_bytes(b"a format 1 entry")

    calls = count_forward_calls(hooked_model, monkeypatch)
    second = cache_activations(hooked_model, FIVE, [0], "resid_pre", tmp_path, batch_size=2)
    assert len(calls) == 3
    assert torch.equal(first[0], second[0])
    # Stale shards of the key are cleared before the rewrite; other files are left alone.
    assert entry_files(tmp_path, key) == sorted([f"{key}.json"] + [f"{key}.{i}.safetensors" for i in range(3)])
    assert (tmp_path / f"{key}.safetensors").is_file()


@pytest.mark.parametrize("fail_on", ["second shard", "metadata"])
def test_disk_full_leaves_nothing(hooked_model, tmp_path, monkeypatch, fail_on):
    events = tmp_path / "events.jsonl"
    folder = tmp_path / "c"
    written = []
    real_save = cache._save_tensors

    def save_until_full(tensors, path, metadata):
        if written:
            Path(path).write_bytes(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        written.append(path)
        real_save(tensors, path, metadata)

    def metadata_full(path, text):
        Path(path).write_text(text[:10], encoding="utf-8")
        raise OSError(errno.ENOSPC, "No space left on device")

    if fail_on == "second shard":
        monkeypatch.setattr(cache, "_save_tensors", save_until_full)
    else:
        monkeypatch.setattr(cache, "_write_text", metadata_full)

    with pytest.raises(CacheWriteError, match=r"disk holding .* is full") as raised:
        cache_activations(hooked_model, FIVE, [0, 1], "resid_pre", folder, events, batch_size=2)
    assert str(folder) in str(raised.value)
    assert raised.value.errno == errno.ENOSPC
    assert list(folder.iterdir()) == []
    failed = read_events(events)[-1]
    assert (failed["event"], failed["level"], failed["bytes"]) == ("cache.write", "error", 0)
    assert failed["error_type"] == "CacheWriteError"

    monkeypatch.undo()
    activations = cache_activations(hooked_model, FIVE, [0, 1], "resid_pre", folder, events, batch_size=2)
    assert activations[1].shape[0] == 5


def test_unwritable_folder_raises_before_forward(hooked_model, tmp_path, monkeypatch):
    calls = count_forward_calls(hooked_model, monkeypatch)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    with pytest.raises(CacheWriteError, match=r"activation cache folder .*a-file/cache is not writable.*set cache_dir"):
        cache_activations(hooked_model, PROMPTS, [0], "resid_pre", blocker / "cache")
    assert calls == []

    # A read-only folder that contains the entry still serves hits.
    folder = tmp_path / "shared"
    cache_activations(hooked_model, PROMPTS, [0], "resid_pre", folder)
    calls.clear()

    def refuse(path):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(cache, "_open_lock_file", refuse)
    assert cache_activations(hooked_model, PROMPTS, [0], "resid_pre", folder)[0].shape[0] == 3
    with pytest.raises(CacheWriteError, match=rf"{re.escape(str(folder))} is not writable \(PermissionError: Permission denied\)"):
        cache_activations(hooked_model, PROMPTS, [1], "resid_pre", folder)
    assert calls == []


def test_hook_points_share_forward_passes(hooked_model, tmp_path, monkeypatch):
    calls = count_forward_calls(hooked_model, monkeypatch)
    entries = cached_entries(hooked_model, FIVE, {"z": [0, 1], "attn_out": [1], "pattern": [0]}, tmp_path, batch_size=2)
    assert len(calls) == 3
    assert len(list(tmp_path.glob("*.json"))) == 3
    separately = cache_activations(hooked_model, FIVE, [1], "attn_out", tmp_path / "alone", batch_size=5)
    assert torch.allclose(entries["attn_out"].load()[1], separately[1], atol=1e-6)
    assert entries["z"].load()[0].shape == (5, 9, 4, 8)
    assert entries["pattern"].load()[0].shape == (5, 4, 9, 9)


def test_lock_file_removed_after_write(hooked_model, tmp_path):
    cache_activations(hooked_model, PROMPTS, [0], "resid_pre", tmp_path)
    assert not list(tmp_path.glob("*.lock"))


RACE_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from types import SimpleNamespace

    import torch

    from auto_research_probe.cache import cache_activations

    class Hook:
        def __init__(self, name):
            self.name = name

    class SlowModel:
        # A HookedTransformer replacement whose resid_pre at layer L is (L + 1) * token id.
        def __init__(self):
            self.cfg = SimpleNamespace(n_layers=2, n_ctx=64, device="cpu", dtype=torch.float32, model_name="slow")
            self.hook_dict = {f"blocks.{layer}.hook_resid_pre": None for layer in range(2)}
            self.tokenizer = None

        def run_with_hooks(self, tokens, attention_mask=None, return_type=None, stop_at_layer=None, fwd_hooks=()):
            time.sleep(0.3)
            for name, hook in fwd_hooks:
                layer = int(name.split(".")[1])
                hook(tokens[..., None].float().expand(-1, -1, 4) * (layer + 1), Hook(name))

    folder, events, go = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    (go.parent / f"ready.{sys.argv[4]}").write_text("ready")
    while not go.exists():
        time.sleep(0.01)
    prompts = [[index, index + 1, index + 2] for index in range(6)]
    out = cache_activations(SlowModel(), prompts, [0, 1], "resid_pre", folder, events, batch_size=2, weights_sha256="w")
    print(json.dumps({str(layer): tensor.sum().item() for layer, tensor in out.items()}))
    """
)


def test_two_processes_write_once(tmp_path):
    script = tmp_path / "race.py"
    script.write_text(RACE_SCRIPT, encoding="utf-8")
    folder, events, go = tmp_path / "cache", tmp_path / "events.jsonl", tmp_path / "go"
    env = dict(os.environ, PYTHONPATH=str(PYTHON_DIR), AUTO_RESEARCH_RUN_ID="")
    env.pop("AUTO_RESEARCH_RUN_ID")
    children = [
        subprocess.Popen([sys.executable, str(script), str(folder), str(events), str(go), str(number)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for number in range(2)
    ]
    # Both children have imported torch before either starts, so their lookups overlap.
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("ready.*"))) < 2 and time.monotonic() < deadline and all(child.poll() is None for child in children):
        time.sleep(0.01)
    go.write_text("go", encoding="utf-8")
    outputs = []
    for child in children:
        stdout, stderr = child.communicate(timeout=120)
        assert child.returncode == 0, stderr
        outputs.append(json.loads(stdout.strip().splitlines()[-1]))
    assert outputs[0] == outputs[1] == {"0": 252.0, "1": 504.0}
    lines = read_events(events)
    assert sorted(line["event"] for line in lines) == ["cache.hit", "cache.miss", "cache.write"]
    # The second process found no entry, waited for the first one's lock (3 batches of
    # 0.3 s), and then read what the first one wrote.
    (hit,) = [line for line in lines if line["event"] == "cache.hit"]
    assert hit["duration_ms"] > 300
    assert len(list(folder.glob("*.json"))) == 1
    assert len(list(folder.glob("*.safetensors"))) == 3
    assert not list(folder.glob("*.lock"))
    assert not list(folder.glob(".*.tmp"))


def test_cache_key_changes_with_inputs():
    base = dict(model_id="m", weights_sha256="w", dtype="float32", token_ids=[[2, 4, 5]], layers=[0, 1], hook_point="resid_pre")
    base_key = cache_key(cache_key_fields(**base))
    assert cache_key(cache_key_fields(**base)) == base_key
    assert cache_key_fields(**base)["format_version"] == FORMAT_VERSION
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


def test_cache_key_changes_with_format_version(monkeypatch):
    base = dict(model_id="m", weights_sha256="w", dtype="float32", token_ids=[[2, 4, 5]], layers=[0], hook_point="resid_pre")
    key = cache_key(cache_key_fields(**base))
    monkeypatch.setattr(cache, "FORMAT_VERSION", 3)
    assert cache_key(cache_key_fields(**base)) != key


def test_cache_key_changes_with_bos_and_dtype(hooked_model, model_copy, tmp_path):
    cache_activations(hooked_model, PROMPTS[:1], [0], "resid_pre", tmp_path)
    model_copy.cfg.default_prepend_bos = False
    cache_activations(model_copy, PROMPTS[:1], [0], "resid_pre", tmp_path)
    model_copy.to(torch.float64)
    model_copy.cfg.dtype = torch.float64
    cache_activations(model_copy, PROMPTS[:1], [0], "resid_pre", tmp_path)
    assert len(list(tmp_path.glob("*.json"))) == 3


def test_cache_rejects_bad_arguments(hooked_model, tmp_path):
    with pytest.raises(ValueError, match="layers is empty"):
        cache_activations(hooked_model, PROMPTS, [], "resid_pre", tmp_path)
    with pytest.raises(ValueError, match="duplicates"):
        cache_activations(hooked_model, PROMPTS, [0, 0], "resid_pre", tmp_path)
    with pytest.raises(ValueError, match="batch_size"):
        cache_activations(hooked_model, PROMPTS, [0], "resid_pre", tmp_path, batch_size=0)
    with pytest.raises(ValueError, match="context"):
        cache_activations(hooked_model, [list(range(5)) * 20], [0], "resid_pre", tmp_path)
    with pytest.raises(ValueError, match="prompts is empty"):
        cache_activations(hooked_model, [], [0], "resid_pre", tmp_path)
