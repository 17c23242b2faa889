"""Path patching: the freeze-and-repatch method against direct computations, errors and the demo circuit."""

import json
import py_compile
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from auto_research_probe import path_patching as pp
from auto_research_probe.pairs import PatchingPair, PairRecord, logit_diff, pair_tensors, prepare_pairs
from auto_research_probe.path_patching import (
    PathPatchingConfig,
    derangement_within_buckets,
    logits_sweep,
    parse_receiver,
    run_path_patching,
    sender_sweep,
)
from test_templates import render
from tiny_model import WORDS, build_tiny_gpt2

pytestmark = pytest.mark.torch

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_MODEL = REPO_ROOT / "python" / "demo" / "induction-demo-model"
DEMO_PAIRS = REPO_ROOT / "python" / "demo" / "pairs.jsonl"
TEMPLATE = REPO_ROOT / "templates" / "path_patching.py.mustache"
JAR = REPO_ROOT / "target" / "auto-research.jar"
TEMPLATE_VARIABLES = {
    "tool_version", "generated_on", "package", "probe_id_literal", "model_id_literal", "n_examples",
    "seeds_literal", "dtype_literal", "hypothesis_literal", "layers_literal", "pairs_path_literal", "receiver_literal",
 "research_question_literal",
}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # The tiny models run many small forward passes; on shared cores extra threads only wait.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def induction_records(words, n, seed):
    """Clean: s0..s9 s0..s4, answer s5; corrupted: s4 and s7 swapped in the first copy, wrong answer s8."""
    rng = np.random.default_rng(seed)
    records = []
    for line in range(1, n + 1):
        span = [words[int(index)] for index in rng.choice(len(words), size=10, replace=False)]
        swapped = list(span)
        swapped[4], swapped[7] = swapped[7], swapped[4]
        records.append(
            PairRecord(" ".join(span + span[:5]), " ".join(swapped + span[:5]), " " + span[5], " " + span[8], line)
        )
    return records


@pytest.fixture(scope="module")
def three_layer_model(tmp_path_factory):
    from auto_research_probe.models import load_hooked_model

    folder = build_tiny_gpt2(tmp_path_factory.mktemp("models") / "tiny-gpt2-3", n_layer=3, seed=1)
    model = load_hooked_model(str(folder), device="cpu")
    # Random initial weights are small; larger ones make the patched differences well above rounding.
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith(("W_Q", "W_K", "W_V", "W_O", "W_in", "W_out", "W_U")):
                parameter.mul_(8.0)
    return model


@pytest.fixture(scope="module")
def tiny_pairs(three_layer_model):
    return prepare_pairs(three_layer_model, induction_records(WORDS, 6, seed=0))


def fraction(clean, corrupted, patched):
    return float((clean.mean() - patched.mean()) / (clean.mean() - corrupted.mean()))


def test_sender_to_receiver_matches_direct_computation(three_layer_model, tiny_pairs):
    model = three_layer_model
    clean_tokens, corrupted_tokens, answers, wrongs = pair_tensors(tiny_pairs)
    receiver_layer, receiver_head = 2, 1
    with torch.no_grad():
        clean_logits, clean_cache = model.run_with_cache(clean_tokens)
        _, corrupted_cache = model.run_with_cache(corrupted_tokens)
        clean = logit_diff(clean_logits, answers, wrongs).double().numpy()
        corrupted = logit_diff(model(corrupted_tokens), answers, wrongs).double().numpy()

    weights = {"q": (model.W_Q, model.b_Q), "k": (model.W_K, model.b_K), "v": (model.W_V, model.b_V)}
    largest = {}
    for name in ("q", "k", "v"):
        swept = sender_sweep(model, tiny_pairs, (receiver_layer, receiver_head), name, batch_size=4, freeze_mlps=True)
        assert np.isnan(swept[receiver_layer:]).all()
        W, b = weights[name]
        for layer in range(receiver_layer):
            for head in range(model.cfg.n_heads):
                z_change = corrupted_cache[f"blocks.{layer}.attn.hook_z"][:, :, head] - clean_cache[f"blocks.{layer}.attn.hook_z"][:, :, head]
                resid = clean_cache[f"blocks.{receiver_layer}.hook_resid_pre"] + z_change @ model.W_O[layer, head]
                normalised = model.blocks[receiver_layer].ln1(resid)
                value = normalised @ W[receiver_layer, receiver_head] + b[receiver_layer, receiver_head]

                def patch(activation, hook, value=value):
                    activation = activation.clone()
                    activation[:, :, receiver_head] = value
                    return activation

                with torch.no_grad():
                    logits = model.run_with_hooks(clean_tokens, fwd_hooks=[(f"blocks.{receiver_layer}.attn.hook_{name}", patch)])
                expected = fraction(clean, corrupted, logit_diff(logits, answers, wrongs).double().numpy())
                assert swept[layer, head] == pytest.approx(expected, rel=1e-3, abs=1e-4), (name, layer, head)
        largest[name] = float(np.nanmax(np.abs(swept)))
    # The comparison is not vacuous: through each input some path is ten times the tolerance.
    for name, value in largest.items():
        assert value > 1e-3, name


def test_sender_to_logits_matches_unembedding(three_layer_model, tiny_pairs):
    model = three_layer_model
    clean_tokens, corrupted_tokens, answers, wrongs = pair_tensors(tiny_pairs)
    last = model.cfg.n_layers - 1
    with torch.no_grad():
        clean_logits, clean_cache = model.run_with_cache(clean_tokens)
        _, corrupted_cache = model.run_with_cache(corrupted_tokens)
        clean = logit_diff(clean_logits, answers, wrongs).double().numpy()
        corrupted = logit_diff(model(corrupted_tokens), answers, wrongs).double().numpy()
    swept = logits_sweep(model, tiny_pairs, batch_size=4, freeze_mlps=True)
    for layer in range(model.cfg.n_layers):
        for head in range(model.cfg.n_heads):
            z_change = corrupted_cache[f"blocks.{layer}.attn.hook_z"][:, :, head] - clean_cache[f"blocks.{layer}.attn.hook_z"][:, :, head]
            with torch.no_grad():
                logits = model.unembed(model.ln_final(clean_cache[f"blocks.{last}.hook_resid_post"] + z_change @ model.W_O[layer, head]))
            expected = fraction(clean, corrupted, logit_diff(logits, answers, wrongs).double().numpy())
            assert swept[layer, head] == pytest.approx(expected, rel=1e-3, abs=1e-4), (layer, head)
    assert np.abs(swept).max() > 0.01


def test_recomputed_mlps_change_logits_sweep(three_layer_model, tiny_pairs):
    frozen = logits_sweep(three_layer_model, tiny_pairs, layers=[0], freeze_mlps=True)
    recomputed = logits_sweep(three_layer_model, tiny_pairs, layers=[0])
    assert np.isnan(frozen[1:]).all()
    assert np.abs(frozen[0] - recomputed[0]).max() > 1e-3


def test_split_qkv_restored_after_error(model_copy, monkeypatch):
    pairs = prepare_pairs(model_copy, induction_records(WORDS, 2, seed=1))

    def fail(model, *args, **kwargs):
        assert model.cfg.use_split_qkv_input
        raise RuntimeError("boom in step 3")

    monkeypatch.setattr(pp, "receiver_patched_logits", fail)
    for before in (False, True):
        model_copy.set_use_split_qkv_input(before)
        with pytest.raises(RuntimeError, match="boom"):
            sender_sweep(model_copy, pairs, (1, 0), "k")
        assert model_copy.cfg.use_split_qkv_input is before


def test_receiver_errors_name_range():
    assert parse_receiver("auto", 2, 4) is None
    assert parse_receiver("L1H3", 2, 4) == (1, 3)
    with pytest.raises(ValueError, match=r"'L0H1'.*layer 0 must be in 1\.\.1"):
        parse_receiver("L0H1", 2, 4)
    with pytest.raises(ValueError, match=r"'L2H0'.*layer 2 must be in 1\.\.1"):
        parse_receiver("L2H0", 2, 4)
    with pytest.raises(ValueError, match=r"'L1H4'.*head 4 must be in 0\.\.3"):
        parse_receiver("L1H4", 2, 4)
    with pytest.raises(ValueError, match=r"'layer1'.*'L1H0'"):
        parse_receiver("layer1", 2, 4)


def test_sweeps_reject_bad_arguments(hooked_model):
    pairs = prepare_pairs(hooked_model, induction_records(WORDS, 2, seed=2))
    with pytest.raises(ValueError, match=r"input 'x'"):
        sender_sweep(hooked_model, pairs, (1, 0), "x")
    with pytest.raises(ValueError, match=r"layer 0.*1\.\.1"):
        sender_sweep(hooked_model, pairs, (0, 0), "k")
    with pytest.raises(ValueError, match=r"head 7 .*0\.\.3"):
        sender_sweep(hooked_model, pairs, (1, 7), "k")
    with pytest.raises(ValueError, match=r"0\.\.1"):
        logits_sweep(hooked_model, pairs, layers=[0, 2])


def test_derangement_keeps_length_bucket():
    pairs = [PatchingPair([0] * (3 + index % 2), [0] * (3 + index % 2), 1, 2, index) for index in range(9)] + [
        PatchingPair([0] * 7, [0] * 7, 1, 2, 99)
    ]
    sources = derangement_within_buckets(pairs, seed=3)
    assert sorted(sources) == list(range(9))
    for index, source in sources.items():
        assert source != index
        assert len(pairs[source].clean_ids) == len(pairs[index].clean_ids)


def write_script(code: Path, probe_id: str, receiver: str) -> Path:
    template = TEMPLATE.read_text(encoding="utf-8")
    assert set(re.findall(r"\{\{(\w+)\}\}", template)) == TEMPLATE_VARIABLES
    values = {
        "tool_version": "0.1.0", "generated_on": "2026-12-04", "package": "tiny_study",
        "probe_id_literal": repr(probe_id), "model_id_literal": repr(str(DEMO_MODEL)), "n_examples": 8,
        "seeds_literal": "[0, 1, 2]", "dtype_literal": repr("float32"), "hypothesis_literal": repr('K """path"""\n'),
        "layers_literal": "None", "pairs_path_literal": repr("data/pairs.jsonl"), "receiver_literal": repr(receiver),
    }
    script = code / "analysis" / f"{probe_id}.py"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(render(template, values), encoding="utf-8")
    py_compile.compile(str(script), doraise=True)
    return script


def events(code: Path) -> list[dict]:
    return [json.loads(line) for line in (code / "cache" / "events.jsonl").read_text().splitlines()]


def test_bad_receiver_fails_before_forward(tiny_model_dir, tmp_path, monkeypatch):
    write_pairs(tmp_path / "data" / "pairs.jsonl", induction_records(WORDS, 4, seed=4))

    def no_forward(*args, **kwargs):
        raise AssertionError("a forward pass ran before the receiver was checked")

    monkeypatch.setattr(pp, "_baseline_diffs", no_forward)
    config = PathPatchingConfig(probe_id="bad_receiver", model_id=str(tiny_model_dir), pairs_path="data/pairs.jsonl", receiver="L3H0", device="cpu")
    with pytest.raises(ValueError, match=r"'L3H0'.*1\.\.1"):
        run_path_patching(config, tmp_path)
    assert not (tmp_path / "results" / "probe" / "bad_receiver.json").exists()
    assert events(tmp_path)[-1]["event"] == "probe.error"
    config = PathPatchingConfig(probe_id="auto_one_layer", model_id=str(tiny_model_dir), pairs_path="data/pairs.jsonl", layers=[1], device="cpu")
    with pytest.raises(ValueError, match=r"'auto'.*layers \[1\]"):
        run_path_patching(config, tmp_path)
    with pytest.raises(ValueError, match=r"inputs \['k', 'z'\]"):
        run_path_patching(PathPatchingConfig(probe_id="bad_inputs", model_id=str(tiny_model_dir), pairs_path="data/pairs.jsonl", inputs=("k", "z")), tmp_path)


@pytest.fixture(scope="module")
def demo_model():
    from auto_research_probe.models import load_hooked_model

    if not DEMO_MODEL.is_dir():
        pytest.skip(f"demo model missing at {DEMO_MODEL}")
    return load_hooked_model(str(DEMO_MODEL), device="cpu")


def demo_records(n):
    from auto_research_probe.pairs import load_pairs_jsonl

    if DEMO_PAIRS.is_file():
        return load_pairs_jsonl(DEMO_PAIRS)[:n]
    import sys

    sys.path.insert(0, str(REPO_ROOT / "python" / "demo"))
    import induction_task

    return induction_records(induction_task.WORDS, n, seed=11)


def test_demo_circuit_runs_through_k(demo_model):
    pairs = prepare_pairs(demo_model, demo_records(24))
    to_logits = logits_sweep(demo_model, pairs)
    layer_one = to_logits[1]
    receiver = (1, int(np.argmax(layer_one)))
    tops = {}
    for name in ("q", "k", "v"):
        swept = sender_sweep(demo_model, pairs, receiver, name)
        assert np.isnan(swept[1:]).all()
        tops[name] = (int(np.nanargmax(swept[0])), float(np.nanmax(swept[0])))
    # The induction head reads the previous-token head's output through its keys.
    assert tops["k"][1] > 0.05
    assert tops["k"][1] > 3 * max(tops["q"][1], tops["v"][1], 0.0) + 0.05


def write_pairs(path: Path, records) -> None:
    lines = [json.dumps({"clean": r.clean, "corrupted": r.corrupted, "answer": r.answer, "wrong_answer": r.wrong_answer}) for r in records]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_demo_run_passes_validator(demo_model, tmp_path, monkeypatch):
    monkeypatch.delenv("AUTO_RESEARCH_RUN_ID", raising=False)
    write_pairs(tmp_path / "data" / "pairs.jsonl", demo_records(40))
    script = write_script(tmp_path, "path_patching_demo", "auto")
    config = PathPatchingConfig(
        probe_id="path_patching_demo",
        model_id=str(DEMO_MODEL),
        pairs_path="data/pairs.jsonl",
        n_examples=8,
        seeds=(0, 1, 2),
        n_bootstrap=300,
        device="cpu",
        script_path=str(script),
    )
    path = run_path_patching(config, tmp_path)
    results = json.loads(path.read_text(encoding="utf-8"))
    assert results["intervention"] == "path_patching"
    assert results["backend"] == "transformer_lens"
    assert results["status"] == "exploratory"
    assert results["n_examples"] == 8
    assert results["receiver"].startswith("L1H")
    assert results["receiver_selection"].startswith("auto")
    assert results["top_path"]["input"] == "k"
    assert results["top_path"]["sender"].startswith("L0H")
    assert results["layers"] == [0, 1]
    assert len(results["values_per_layer"]) == 2
    names = [component["name"] for component in results["components"]]
    assert len(names) == 4 * 3 + 8
    assert f"{results['top_path']['sender']} -> {results['receiver']}.k" in names
    assert "L1H2 -> logits" in names
    lo, hi = results["ci_95"]
    assert lo <= results["mean"] <= hi
    assert results["mean"] == pytest.approx(max(results["sweeps"]["k"]["values"][0]))
    # Another pair's corrupted activation is a control, not a null: on the demo it removes more
    # than the swap does, because the keys then point at the wrong words altogether.
    assert np.isfinite(results["shuffled_control_mean"])
    assert results["shuffled_control"]["n_pairs"] == 24
    assert np.isfinite(results["effect_size"])
    assert results["random_baseline"] < results["mean"]
    assert len(results["values_per_seed"]) == 3
    assert results["sweeps"]["q"]["layers"] == [0]
    assert len(results["sweeps"]["logits"]["values"]) == 2
    assert len(set(results["alternative_explanations_not_ruled_out"])) >= 2
    assert results["provenance"]["script"] == "analysis/path_patching_demo.py"
    assert (tmp_path / results["artifacts"][0]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [line["event"] for line in events(tmp_path)][-1] == "probe.end"

    if not JAR.is_file():
        pytest.skip(f"{JAR} is missing: build it with mvn -B -q package -DskipTests")
    checked = subprocess.run(
        ["java", "-jar", str(JAR), "probe", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
