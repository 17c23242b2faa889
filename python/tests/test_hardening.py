"""Hostile input and faults on the Python side: pickles, remote code, full disks, signals, secrets.

Each test names the case it covers in docs/hardening.md.
"""

from __future__ import annotations

import ast
import errno
import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from auto_research_probe.datasets import load_prompts_jsonl
from auto_research_probe.labels import load_labeled_texts
from auto_research_probe.pairs import load_pairs_jsonl

PYTHON_DIR = Path(__file__).resolve().parents[1]
RUNTIME = PYTHON_DIR / "auto_research_probe"
TEMPLATES = PYTHON_DIR.parent / "templates"

NDIF_KEY = "ndif-dummy-secret-0123456789"
HF_TOKEN = "hf_dummySecretToken0123456789"

HOSTILE_TEXTS = [
    "it's \"quoted\" and '''triple''' and \"\"\"triple\"\"\"",
    "back\\slash \\n \\x00 \\u2028 and a real\ttab",
    "line\u2028separator and paragraph\u2029separator and next\u0085line",
    "form\x0cfeed, vertical\x0btab, file\x1cseparator",
    "nul \x00 inside and \x1b escape",
    "{{slug}} {{{raw}}} {{#probes}} {{/probes}} {{! comment }}",
    "&amp; &lt;tag&gt; <script>alert(1)</script>",
    "é 中 😀 𝕏 \ufeff bom \u202e rtl",
    "x" * 100_000,
]


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child Python that imports the runtime from this checkout."""
    env = {**os.environ, "PYTHONPATH": str(PYTHON_DIR), **extra}
    env.pop("AUTO_RESEARCH_RUN_ID", None)
    return env


# ---------------------------------------------------------------------------------------
# Hostile values in the input files


def test_hostile_prompts_load_exactly(tmp_path):
    """Raw U+2028 and other separators that JSON allows inside strings do not split a line."""
    prompts = tmp_path / "prompts.jsonl"
    lines = [json.dumps({"prompt": text, "answer": text[:3] or "a"}, ensure_ascii=False) for text in HOSTILE_TEXTS]
    prompts.write_text("\n".join(lines) + "\r\n", encoding="utf-8")

    examples = load_prompts_jsonl(prompts)

    assert [example.prompt for example in examples] == HOSTILE_TEXTS
    assert [example.line_number for example in examples] == list(range(1, len(HOSTILE_TEXTS) + 1))


def test_hostile_pairs_and_labels_load_exactly(tmp_path):
    pairs = tmp_path / "pairs.jsonl"
    labels = tmp_path / "labels.jsonl"
    pair_lines = [
        json.dumps({"clean": text, "corrupted": text[::-1] or "b", "answer": " a", "wrong_answer": " b"}, ensure_ascii=False)
        for text in HOSTILE_TEXTS
    ]
    pairs.write_text("\r".join(pair_lines) + "\n", encoding="utf-8")
    labels.write_text("\n".join(json.dumps({"text": text, "label": text[:5]}, ensure_ascii=False) for text in HOSTILE_TEXTS), encoding="utf-8")

    assert [record.clean for record in load_pairs_jsonl(pairs)] == HOSTILE_TEXTS
    loaded = load_labeled_texts(labels)
    assert [example.text for example in loaded] == HOSTILE_TEXTS
    assert [example.label for example in loaded] == [text[:5] for text in HOSTILE_TEXTS]


# ---------------------------------------------------------------------------------------
# No unpickling


UNPICKLING_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve", "marshal"}


def unpickling_calls(source: str, name: str) -> list[str]:
    """Return each place in `source` that can unpickle: pickle-family imports, torch.load without
    weights_only=True, numpy.load with allow_pickle=True, pandas.read_pickle."""
    found = []
    for node in ast.walk(ast.parse(source, name)):
        if isinstance(node, ast.Import):
            found += [f"{name}:{node.lineno}: import {alias.name}" for alias in node.names if alias.name.split(".")[0] in UNPICKLING_MODULES]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in UNPICKLING_MODULES:
            found.append(f"{name}:{node.lineno}: from {node.module} import ...")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            keywords = {keyword.arg: keyword.value for keyword in node.keywords}
            owner = node.func.value.id if isinstance(node.func.value, ast.Name) else ""
            attribute = node.func.attr
            if owner == "torch" and attribute == "load":
                weights_only = keywords.get("weights_only")
                if not (isinstance(weights_only, ast.Constant) and weights_only.value is True):
                    found.append(f"{name}:{node.lineno}: torch.load without weights_only=True")
            if owner in ("np", "numpy") and attribute == "load":
                allow = keywords.get("allow_pickle")
                if allow is not None and not (isinstance(allow, ast.Constant) and allow.value is False):
                    found.append(f"{name}:{node.lineno}: numpy.load with allow_pickle")
            if attribute in ("read_pickle", "Unpickler"):
                found.append(f"{name}:{node.lineno}: {attribute}")
    return found


def test_scanner_finds_unpickling():
    risky = "import pickle\nimport torch\nx = torch.load('a.pt')\ny = torch.load('b', weights_only=False)\nimport numpy as np\nz = np.load('c', allow_pickle=True)\n"
    safe = "import torch\nx = torch.load('a.pt', weights_only=True)\nimport numpy as np\nz = np.load('c')\n"
    assert len(unpickling_calls(risky, "risky.py")) == 4
    assert unpickling_calls(safe, "safe.py") == []


def test_runtime_never_unpickles():
    """No module of the runtime, and no script template, can unpickle a file."""
    problems = []
    for module in sorted(RUNTIME.glob("*.py")):
        problems += unpickling_calls(module.read_text(encoding="utf-8"), module.name)
    for template in sorted(TEMPLATES.glob("*.py.mustache")):
        text = template.read_text(encoding="utf-8")
        problems += [f"{template.name}: {word}" for word in ("pickle", "torch.load", "allow_pickle") if word in text]
    assert problems == []


class Trap:
    """An object whose unpickling creates the file `marker`: what a booby-trapped pickle does."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def trap_bytes(marker: Path) -> bytes:
    return pickle.dumps({"layer_0": Trap(marker)})


def test_trap_would_run_when_unpickled(tmp_path):
    """The trap is live: unpickling it creates its marker (checked once here, never by the runtime)."""
    marker = tmp_path / "unpickled"
    pickle.loads(trap_bytes(marker))["layer_0"].close()
    assert marker.exists()


@pytest.mark.torch
@pytest.mark.parametrize("metadata_matches", [False, True], ids=["size mismatch", "size and sha256 rewritten to match"])
def test_pickle_as_cache_shard_is_rejected(hooked_model, tmp_path, metadata_matches):
    """A pickle where a shard should be is reported as corrupt and recomputed, never unpickled."""
    import torch

    from auto_research_probe.cache import cache_activations

    folder = tmp_path / "cache"
    events = tmp_path / "events.jsonl"
    prompts = ["the cat sat on the mat", "a dog ran"]
    first = cache_activations(hooked_model, prompts, [0, 1], "resid_pre", folder, events)
    (metadata_file,) = folder.glob("*.json")
    metadata = json.loads(metadata_file.read_text(encoding="utf-8"))
    shard = folder / metadata["files"][0]["name"]
    marker = tmp_path / "trap-ran"
    payload = trap_bytes(marker)
    shard.write_bytes(payload)
    if metadata_matches:
        import hashlib

        metadata["files"][0]["sha256"] = hashlib.sha256(payload).hexdigest()
        metadata["files"][0]["bytes"] = len(payload)
        metadata["bytes"] = sum(info["bytes"] for info in metadata["files"])
        metadata_file.write_text(json.dumps(metadata), encoding="utf-8")

    second = cache_activations(hooked_model, prompts, [0, 1], "resid_pre", folder, events)

    assert not marker.exists(), "the pickle in the shard was unpickled"
    assert torch.equal(first[1], second[1])
    lines = [json.loads(line) for line in events.read_text(encoding="utf-8").splitlines()]
    corrupt = [line for line in lines if line["event"] == "cache.corrupt"]
    assert len(corrupt) == 1
    expected = "not a readable safetensors file" if metadata_matches else "(truncated or replaced)"
    assert expected in corrupt[0]["error"]
    assert shard.read_bytes() != payload, "the trapped shard was not replaced"


# ---------------------------------------------------------------------------------------
# trust_remote_code


def test_intervention_configs_keep_remote_code_off():
    from auto_research_probe.activation_patching import ActivationPatchingConfig
    from auto_research_probe.attention_pattern import AttentionPatternConfig
    from auto_research_probe.logit_lens import LogitLensConfig
    from auto_research_probe.path_patching import PathPatchingConfig

    for config in (
        LogitLensConfig("p", "m", "data/prompts.jsonl"),
        AttentionPatternConfig("p", "m"),
        ActivationPatchingConfig("p", "m", "data/pairs.jsonl"),
        PathPatchingConfig("p", "m", "data/pairs.jsonl"),
    ):
        assert config.trust_remote_code is False, type(config).__name__


@pytest.mark.torch
@pytest.mark.parametrize("options, allowed", [({}, False), ({"trust_remote_code": True}, True)], ids=["default", "allowed"])
def test_hooked_loader_passes_trust_remote_code(tiny_model_dir, monkeypatch, options, allowed):
    """The runtime passes trust_remote_code to each transformers loader it calls: False unless allowed.

    transformers and transformer-lens load the config and tokenizer again internally; those
    calls must not turn it on either.
    """
    import transformers

    from auto_research_probe import models

    seen = []
    for name in ("AutoConfig", "AutoModelForCausalLM", "AutoTokenizer"):
        cls = getattr(transformers, name)
        original = cls.from_pretrained.__func__

        def recording(klass, *args, _name=name, _original=original, **kwargs):
            caller = Path(sys._getframe(1).f_code.co_filename)
            seen.append((_name, caller == Path(models.__file__), kwargs.get("trust_remote_code", "not passed")))
            return _original(klass, *args, **kwargs)

        monkeypatch.setattr(cls, "from_pretrained", classmethod(recording))

    models.load_hooked_model(str(tiny_model_dir), device="cpu", **options)

    direct = [(name, value) for name, from_runtime, value in seen if from_runtime]
    assert sorted(name for name, _ in direct) == ["AutoConfig", "AutoModelForCausalLM", "AutoTokenizer"]
    assert {value for _, value in direct} == {allowed}
    if not allowed:
        assert all(value is not True for _, _, value in seen), seen


@pytest.mark.torch
def test_nnsight_loader_passes_trust_remote_code_false(tiny_model_dir, monkeypatch):
    import nnsight
    import transformers

    from auto_research_probe.models import load_nnsight_model

    seen = {}
    original = transformers.AutoTokenizer.from_pretrained.__func__

    def tokenizer(klass, *args, **kwargs):
        seen["tokenizer"] = kwargs.get("trust_remote_code", "not passed")
        return original(klass, *args, **kwargs)

    def model(*args, **kwargs):
        seen["model"] = kwargs.get("trust_remote_code", "not passed")
        return "model"

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", classmethod(tokenizer))
    monkeypatch.setattr(nnsight, "TransformersModel", model)

    assert load_nnsight_model(str(tiny_model_dir)) == "model"
    assert seen == {"tokenizer": False, "model": False}


@pytest.mark.torch
def test_hub_model_needing_remote_code_is_rejected():
    """transformer-lens turns trust_remote_code on by itself for some hub models; the runtime does not let it."""
    from auto_research_probe.models import check_remote_code_allowed

    with pytest.raises(ValueError, match="--trust-remote-code"):
        check_remote_code_allowed("Qwen/Qwen-1_8B", False)
    check_remote_code_allowed("Qwen/Qwen-1_8B", True)
    check_remote_code_allowed("gpt2", False)


@pytest.mark.torch
def test_model_folder_code_does_not_run(tmp_path):
    """A model folder whose config names its own Python classes: loading fails, and the code never runs."""
    from auto_research_probe.models import load_hooked_model

    folder = tmp_path / "remote-code-model"
    folder.mkdir()
    marker = tmp_path / "remote-code-ran"
    (folder / "config.json").write_text(
        json.dumps(
            {
                "model_type": "auto-research-remote-code-test",
                "architectures": ["TrapModel"],
                "auto_map": {"AutoConfig": "trap.TrapConfig", "AutoModelForCausalLM": "trap.TrapModel"},
            }
        ),
        encoding="utf-8",
    )
    (folder / "trap.py").write_text(f"open({str(marker)!r}, 'w').close()\n", encoding="utf-8")

    with pytest.raises(Exception, match="trust_remote_code"):
        load_hooked_model(str(folder), device="cpu")
    assert not marker.exists()


def test_rendered_script_mentions_remote_code_only_when_allowed(tmp_path):
    from test_templates import COMMON, render

    values = {
        **COMMON,
        "probe_id_literal": "'p'",
        "model_id_literal": "'m'",
        "prompts_path_literal": "'data/prompts.jsonl'",
        "layers_literal": "None",
        "n_examples": 8,
        "seeds_literal": "[0]",
        "dtype_literal": "'float32'",
        "hypothesis_literal": "'h'",
    }
    template = (TEMPLATES / "logit_lens.py.mustache").read_text(encoding="utf-8")
    off = render(template, values)
    on = render(template, {**values, "trust_remote_code": [{}]})

    assert "trust_remote_code" not in off
    assert "        trust_remote_code=True,\n    )" in on
    compile(on, "logit_lens_on.py", "exec")
    compile(off, "logit_lens_off.py", "exec")


# ---------------------------------------------------------------------------------------
# Full disk and signals


FILE_SIZE_LIMIT_SCRIPT = textwrap.dedent(
    """
    import errno, json, resource, signal, sys
    from pathlib import Path
    from auto_research_probe.results import write_json_atomic

    target = Path(sys.argv[1])
    # A file-size limit fails a write as a full disk does; with SIGXFSZ ignored the write
    # raises OSError instead of killing the process.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
    try:
        write_json_atomic(target, {"probe_id": "big", "values": ["v" * 100] * 200})
    except OSError as error:
        print("OSError", errno.errorcode.get(error.errno))
        sys.exit(3)
    print("written")
    """
)


def test_results_write_past_size_limit_keeps_old_file(tmp_path):
    """A results write that fails part way (full disk) raises, keeps the old file and leaves no temporary file."""
    target = tmp_path / "results" / "probe" / "big.json"
    target.parent.mkdir(parents=True)
    target.write_text('{"probe_id": "big", "earlier": true}\n', encoding="utf-8")

    completed = subprocess.run(
        [sys.executable, "-c", FILE_SIZE_LIMIT_SCRIPT, str(target)], env=child_env(), capture_output=True, text=True, timeout=120
    )

    assert completed.returncode == 3, completed.stdout + completed.stderr
    assert "OSError EFBIG" in completed.stdout
    assert target.read_text(encoding="utf-8") == '{"probe_id": "big", "earlier": true}\n'
    assert sorted(path.name for path in target.parent.iterdir()) == ["big.json"]


SIGTERM_SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from auto_research_probe import results
    from auto_research_probe.probe_run import run_with_events

    target, marker = Path(sys.argv[1]), Path(sys.argv[2])
    real_fsync = os.fsync

    def slow_fsync(descriptor):
        # The temporary file is written and not yet renamed: the moment a stop hurts most.
        marker.write_text("writing", encoding="utf-8")
        time.sleep(60)
        real_fsync(descriptor)

    os.fsync = slow_fsync

    def body(log, started):
        return results.write_json_atomic(target, {"probe_id": "p", "new": True})

    run_with_events(intervention="logit_lens", probe_id="p", events_path=target.parent / "events.jsonl", script_path=None, body=body)
    """
)


def test_sigterm_mid_write_removes_temporary_file(tmp_path):
    """probe run stops a script with SIGTERM on Ctrl-C: the runtime exits 143 without a temporary file."""
    target = tmp_path / "results" / "p.json"
    target.parent.mkdir()
    target.write_text('{"earlier": true}\n', encoding="utf-8")
    marker = tmp_path / "writing"
    child = subprocess.Popen([sys.executable, "-c", SIGTERM_SCRIPT, str(target), str(marker)], env=child_env(), stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert child.poll() is None, child.stderr.read()
            assert time.monotonic() < deadline, "the write did not start"
            time.sleep(0.02)
        assert [path.name for path in target.parent.glob(".p.json.*.tmp")], "no temporary file to clean up"

        child.send_signal(signal.SIGTERM)
        returncode = child.wait(timeout=30)
    finally:
        child.kill()

    assert returncode == 143
    assert target.read_text(encoding="utf-8") == '{"earlier": true}\n'
    assert sorted(path.name for path in target.parent.iterdir()) == ["events.jsonl", "p.json"]
    lines = [json.loads(line) for line in (target.parent / "events.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [line["event"] for line in lines] == ["probe.start"]


SLOW_WRITER_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from types import SimpleNamespace

    import torch

    from auto_research_probe.cache import cache_activations

    class Hook:
        def __init__(self, name):
            self.name = name

    class SlowModel:
        # A HookedTransformer stand-in whose resid_pre at layer L is (L + 1) * token id.
        def __init__(self):
            self.cfg = SimpleNamespace(n_layers=2, n_ctx=64, device="cpu", dtype=torch.float32, model_name="slow")
            self.hook_dict = {f"blocks.{layer}.hook_resid_pre": None for layer in range(2)}
            self.tokenizer = None

        def run_with_hooks(self, tokens, attention_mask=None, return_type=None, stop_at_layer=None, fwd_hooks=()):
            time.sleep(float(sys.argv[3]))
            for name, hook in fwd_hooks:
                layer = int(name.split(".")[1])
                hook(tokens[..., None].float().expand(-1, -1, 4) * (layer + 1), Hook(name))

    folder, marker = Path(sys.argv[1]), Path(sys.argv[2])

    def progress(done, total):
        marker.write_text(f"{done} of {total}", encoding="utf-8")

    prompts = [[index, index + 1, index + 2] for index in range(6)]
    out = cache_activations(SlowModel(), prompts, [0, 1], "resid_pre", folder, folder / "events.jsonl", batch_size=2, weights_sha256="w", progress=progress)
    print({str(layer): tensor.sum().item() for layer, tensor in out.items()})
    """
)


@pytest.mark.torch
def test_kill_9_mid_cache_write_leaves_cache_usable(tmp_path):
    """A writer killed with SIGKILL after its first shard commits nothing; the next lookup recomputes."""
    folder = tmp_path / "cache"
    marker = tmp_path / "progress"
    script = tmp_path / "writer.py"
    script.write_text(SLOW_WRITER_SCRIPT, encoding="utf-8")
    child = subprocess.Popen([sys.executable, str(script), str(folder), str(marker), "30"], env=child_env(), stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert child.poll() is None, child.stderr.read()
            assert time.monotonic() < deadline, "the first batch was not written"
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        child.kill()
    assert list(folder.glob("*.safetensors")), "the killed writer left no shard to test with"
    assert not [path for path in folder.glob("*.json")], "an entry was committed"

    completed = subprocess.run([sys.executable, str(script), str(folder), str(marker), "0"], env=child_env(), capture_output=True, text=True, timeout=300)

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip().splitlines()[-1] == "{'0': 252.0, '1': 504.0}"
    events = [json.loads(line)["event"] for line in (folder / "events.jsonl").read_text(encoding="utf-8").splitlines()]
    assert events == ["cache.miss", "cache.miss", "cache.write"]
    assert len(list(folder.glob("*.json"))) == 1
    assert len(list(folder.glob("*.safetensors"))) == 3
    assert not list(folder.glob(".*.tmp"))


# ---------------------------------------------------------------------------------------
# Secrets


@pytest.mark.integration
@pytest.mark.torch
def test_probe_run_writes_no_secret(tmp_path, tiny_model_dir):
    """A real logit-lens probe run with NDIF_API_KEY and HF_TOKEN set writes neither value anywhere."""
    from test_templates import make_project

    code = make_project(tmp_path, tiny_model_dir)
    env = child_env(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", MPLBACKEND="Agg", NDIF_API_KEY=NDIF_KEY, HF_TOKEN=HF_TOKEN)
    env.pop("PYTHONPATH")

    completed = subprocess.run(
        [sys.executable, "analysis/logit_lens_20261204.py"], cwd=code, env=env, capture_output=True, timeout=600
    )

    assert completed.returncode == 0, completed.stderr[-3000:]
    assert (code / "results" / "probe" / "logit_lens_tiny.json").is_file()
    assert (code / "cache" / "events.jsonl").is_file()
    for stream in (completed.stdout, completed.stderr):
        assert NDIF_KEY.encode() not in stream
        assert HF_TOKEN.encode() not in stream
    written = [path for path in code.rglob("*") if path.is_file()]
    assert len(written) > 20
    for path in written:
        content = path.read_bytes()
        assert NDIF_KEY.encode() not in content, path
        assert HF_TOKEN.encode() not in content, path
