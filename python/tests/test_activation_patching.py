import json
import subprocess
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch

from auto_research_probe import activation_patching
from auto_research_probe.activation_patching import (
    ActivationPatchingConfig,
    baseline_logit_diffs,
    derangement_sources,
    head_out_sweep,
    normalise,
    normalised_sweep,
    patched_logit_diffs,
    resolve_layers,
    run_activation_patching,
)
from auto_research_probe.pairs import PairRecord, load_pairs_jsonl, logit_diff, pair_tensors, prepare_pairs

pytestmark = pytest.mark.torch

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_MODEL = REPO_ROOT / "python" / "demo" / "induction-demo-model"
DEMO_PAIRS = REPO_ROOT / "python" / "demo" / "pairs.jsonl"
JAR = REPO_ROOT / "target" / "auto-research.jar"
WORDS = ["cat", "dog", "bird", "tree", "mat", "house", "red", "blue", "green", "sky"]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # Two threads on a shared two-core machine make these tiny forward passes tens of
    # times slower; one thread keeps the file fast. Restored afterwards.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def demo_model():
    from auto_research_probe.models import load_hooked_model

    return load_hooked_model(str(DEMO_MODEL), device="cpu")


@pytest.fixture(scope="module")
def demo_pairs(demo_model):
    return prepare_pairs(demo_model, load_pairs_jsonl(DEMO_PAIRS)[:24])


def tiny_records(count, length=5, seed=0):
    rng = np.random.default_rng(seed)
    records = []
    for index in range(count):
        words = [WORDS[int(i)] for i in rng.choice(len(WORDS), size=length + 2, replace=False)]
        clean = words[:length]
        corrupted = list(clean)
        corrupted[1] = words[length]
        records.append(PairRecord(" ".join(clean), " ".join(corrupted), " " + words[0], " " + words[length + 1], index + 1))
    return records


@pytest.fixture(scope="module")
def tiny_pairs(hooked_model):
    return prepare_pairs(hooked_model, tiny_records(6))


def tl_reference(model, pairs):
    """TransformerLens's own patching functions on one batch, with the batch-mean normalised metric."""
    from transformer_lens import patching

    clean_tokens, corrupted_tokens, answers, wrongs = pair_tensors(pairs)
    with torch.no_grad():
        clean_logits, clean_cache = model.run_with_cache(clean_tokens)
        corrupted_logits = model(corrupted_tokens)
    clean_mean = logit_diff(clean_logits, answers, wrongs).mean()
    corrupted_mean = logit_diff(corrupted_logits, answers, wrongs).mean()

    def metric(logits):
        return (logit_diff(logits, answers, wrongs).mean() - corrupted_mean) / (clean_mean - corrupted_mean)

    def whole_activation(corrupted_activation, index, clean_activation):
        return clean_activation.clone()

    args = (model, corrupted_tokens, clean_cache, metric)
    by_layer = partial(patching.generic_activation_patch, patch_setter=whole_activation, index_axis_names=("layer",))
    with torch.no_grad():
        return {
            "resid_pre": patching.get_act_patch_resid_pre(*args),
            "attn_out": patching.get_act_patch_attn_out(*args),
            "mlp_out": patching.get_act_patch_mlp_out(*args),
            "head_out": patching.get_act_patch_attn_head_out_all_pos(*args),
            "attn_out_all_pos": by_layer(*args, activation_name="attn_out"),
            "mlp_out_all_pos": by_layer(*args, activation_name="mlp_out"),
        }


def test_sweeps_equal_transformer_lens_patching(hooked_model, tiny_pairs):
    # The reference loop (one forward pass per patch). The fast engine, the default, is
    # checked in test_fast_patching.py on pairs with a wider clean-corrupted gap: here the
    # gap is 0.2% of the logits, so rounding alone moves the normalised values by ~1e-5.
    reference = tl_reference(hooked_model, tiny_pairs)
    clean, corrupted = baseline_logit_diffs(hooked_model, tiny_pairs, batch_size=4)
    # Sub-batches of 4 (6 pairs) so batching across sub-batches is covered too.
    patched = patched_logit_diffs(hooked_model, tiny_pairs, activation_patching.SITES, batch_size=4, engine="reference")
    for site, expected in reference.items():
        ours = normalise(patched[site], clean, corrupted)
        assert ours.shape == tuple(expected.shape), site
        assert np.abs(ours - expected.cpu().double().numpy()).max() <= 1e-5, site
        # The comparison is not vacuous: every sweep has cells far from zero.
        assert np.abs(ours).max() > 0.05, site


def test_sweeps_equal_transformer_lens_on_demo_model(demo_model, demo_pairs):
    pairs = demo_pairs[:12]
    reference = tl_reference(demo_model, pairs)
    for engine in ("fast", "reference"):
        for site in ("head_out", "resid_pre"):
            ours = normalised_sweep(demo_model, pairs, site, batch_size=5, engine=engine)
            assert np.abs(ours - reference[site].cpu().double().numpy()).max() <= 1e-5, (engine, site)


def test_head_sweep_finds_demo_circuit(demo_model, demo_pairs):
    grid = head_out_sweep(demo_model, demo_pairs)
    assert grid.shape == (2, 4)
    clean, corrupted = baseline_logit_diffs(demo_model, demo_pairs)
    assert clean.mean() > 3
    assert corrupted.mean() < -3
    # The swap changes which token precedes the expected word in the first copy. Only the
    # layer-0 previous-token head moves that information, so one layer-0 head dominates.
    assert grid[0].max() > 0.7
    assert np.sort(grid[0])[-2] < 0.2
    # Every layer-1 head reads it (K-composition) and contributes.
    assert (grid[1] > 0.05).all()


def test_layer_selection_and_range_check(hooked_model, tiny_pairs):
    full = head_out_sweep(hooked_model, tiny_pairs)
    only_one = head_out_sweep(hooked_model, tiny_pairs, layers=[1])
    assert np.allclose(only_one[0], full[1], atol=1e-6)
    assert resolve_layers(hooked_model, None) == [0, 1]
    for bad in ([0, 2], [-1]):
        with pytest.raises(ValueError, match=rf"layer index {bad[-1]} is out of range: .* 0\.\.1"):
            resolve_layers(hooked_model, bad)


def test_mixed_lengths_run_in_buckets(hooked_model):
    records = tiny_records(3, length=4, seed=1) + tiny_records(3, length=6, seed=2)
    pairs = prepare_pairs(hooked_model, records)
    mixed = patched_logit_diffs(hooked_model, pairs, ["head_out", "attn_out_all_pos"])
    for offset in (0, 3):
        alone = patched_logit_diffs(hooked_model, pairs[offset : offset + 3], ["head_out", "attn_out_all_pos"])
        for site in alone:
            assert np.allclose(mixed[site][..., offset : offset + 3], alone[site], atol=1e-5)
    with pytest.raises(ValueError, match=r"one token length, got lengths \[5, 7\]"):
        patched_logit_diffs(hooked_model, pairs, ["resid_pre"])


def test_derangement_and_shuffled_sources(hooked_model, tiny_pairs):
    pairs = tiny_pairs + prepare_pairs(hooked_model, tiny_records(1, length=3, seed=5))
    groups = [[0, 1, 2], [3, 4, 5, 6]]
    sources, used = derangement_sources(pairs, groups, seed=0)
    assert used.tolist() == [True] * 6 + [False]  # pair 6 is alone at its length
    for group in groups:
        for index in group:
            if used[index]:
                assert sources[index] != index
                assert sources[index] in group
                assert len(pairs[sources[index]].clean_ids) == len(pairs[index].clean_ids)
    identity = patched_logit_diffs(hooked_model, tiny_pairs, ["head_out"], sources=list(range(6)))["head_out"]
    real = patched_logit_diffs(hooked_model, tiny_pairs, ["head_out"])["head_out"]
    shuffled = patched_logit_diffs(hooked_model, tiny_pairs, ["head_out"], sources=sources[:6])["head_out"]
    assert np.allclose(identity, real)
    assert np.abs(shuffled - real).max() > 1e-3


def write_pairs(path, records):
    lines = [json.dumps({"clean": r.clean, "corrupted": r.corrupted, "answer": r.answer, "wrong_answer": r.wrong_answer}) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def demo_config(tmp_path, **changes):
    values = dict(
        probe_id="patching_demo",
        model_id=str(DEMO_MODEL),
        pairs_path="data/pairs.jsonl",
        n_examples=12,
        seeds=(0, 1, 2),
        n_bootstrap=300,
        device="cpu",
    )
    values.update(changes)
    return ActivationPatchingConfig(**values)


def test_run_writes_a_valid_results_file(tmp_path, monkeypatch):
    monkeypatch.delenv("AUTO_RESEARCH_RUN_ID", raising=False)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "pairs.jsonl").write_text("\n".join(DEMO_PAIRS.read_text().splitlines()[:40]) + "\n")
    # Generated scripts pass their own path; the validator requires it in the provenance.
    script = tmp_path / "analysis" / "activation_patching_demo.py"
    script.parent.mkdir()
    script.write_text("# stands in for the generated script\n", encoding="utf-8")
    path = run_activation_patching(demo_config(tmp_path, script_path=str(script)), tmp_path)
    assert path == tmp_path / "results" / "probe" / "patching_demo.json"
    results = json.loads(path.read_text(encoding="utf-8"))

    assert results["intervention"] == "activation_patching"
    assert results["primary_metric"] == results["metric"] == "normalised_logit_diff_recovered"
    assert results["status"] == "exploratory"
    assert results["n_examples"] == 12
    assert results["layers"] == [0, 1]
    heads = np.array(results["sweeps"]["head_out"]["values"])
    assert heads.shape == (2, 4)
    top_layer, top_head = np.unravel_index(heads.argmax(), heads.shape)
    assert results["top_component"] == f"L{top_layer}H{top_head}"
    assert results["mean"] == pytest.approx(heads.max())
    assert results["random_baseline"] == pytest.approx(heads.mean())
    lo, hi = results["ci_95"]
    assert lo <= results["mean"] <= hi
    assert len(results["values_per_seed"]) == 3
    assert results["noise_floor"] == pytest.approx(np.std(results["values_per_seed"], ddof=1))
    # Patching the whole attention output of the last layer restores everything the
    # attention carries; the shuffled control restores far less than the top head.
    assert results["values_per_layer"][1] > 0.9
    assert results["shuffled_control_mean"] < results["mean"] - 0.3
    assert results["effect_size"] > 1.0
    assert results["clean_logit_diff"]["mean"] > 0 > results["corrupted_logit_diff"]["mean"]
    resid = np.array(results["sweeps"]["resid_pre"]["values"])
    assert resid.shape == (2, 16)
    # Block 0's input is the token embedding, so patching it changes nothing where the clean
    # and corrupted tokens are the same. The two swapped positions carry the effect.
    tokens = results["example_tokens"]
    differs = np.array([a != b for a, b in zip(tokens["clean"], tokens["corrupted"])])
    assert differs.sum() == 2
    assert tokens["clean"][0] == "<|bos|>"
    assert np.abs(resid[0, ~differs]).max() < 1e-6
    assert resid[0, differs].min() > 0.2
    for values, intervals in ((results["values_per_layer"], results["ci_per_layer"]),):
        assert all(lo <= v <= hi for v, (lo, hi) in zip(values, intervals))
    for component in results["components"]:
        assert component["ci_95"][0] <= component["value"] <= component["ci_95"][1]
    assert "mlp_out_all_pos" in results["secondary_metrics"]
    explanations = results["alternative_explanations_not_ruled_out"]
    assert len(set(explanations)) >= 2
    assert all(results["top_component"] in text for text in explanations[:3])
    assert f"{results['shuffled_control_mean']:.2f}" in explanations[2]
    assert (tmp_path / results["artifacts"][0]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    events = [json.loads(line)["event"] for line in (tmp_path / "cache" / "events.jsonl").read_text().splitlines()]
    assert events[0] == "probe.start"
    assert events[-1] == "probe.end"
    assert results["provenance"]["script"] == "analysis/activation_patching_demo.py"

    if not JAR.is_file():
        pytest.skip(f"{JAR} is missing (build it with mvn -B -q package -DskipTests); results checked in Python only")
    completed = subprocess.run(
        ["java", "-jar", str(JAR), "probe", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_run_skips_position_sweeps_for_mixed_lengths(tmp_path):
    (tmp_path / "data").mkdir()
    # Demo pairs (16 tokens with BOS) and the same pairs behind one more word (17 tokens):
    # the corruption still flips the answer, so the clean - corrupted gap stays clear.
    lines = [json.loads(line) for line in DEMO_PAIRS.read_text().splitlines()[:4]]
    longer = [{**line, "clean": "vosu " + line["clean"], "corrupted": "vosu " + line["corrupted"]} for line in lines]
    (tmp_path / "data" / "pairs.jsonl").write_text("\n".join(json.dumps(line) for line in lines + longer) + "\n")
    config = demo_config(tmp_path, n_examples=8, seeds=(0,), n_bootstrap=50)
    results = json.loads(run_activation_patching(config, tmp_path).read_text())
    assert set(results["sweeps_skipped"]) == {"resid_pre", "attn_out", "mlp_out"}
    assert "[16, 17]" in results["sweeps_skipped"]["resid_pre"]
    assert set(results["sweeps"]) == {"attn_out_all_pos", "mlp_out_all_pos", "head_out", "head_out_shuffled"}
    assert results["noise_floor"] == 0.0


DEMO_LINE = json.loads(DEMO_PAIRS.read_text().splitlines()[0])


@pytest.mark.parametrize(
    "change, match",
    [
        ({"answer": " sido zafa"}, r"line 2: answer ' sido zafa' tokenizes to 2 tokens \['sido', 'zafa'\]"),
        ({"corrupted": DEMO_LINE["corrupted"] + " sido"}, r"line 2: clean prompt has 16 tokens but corrupted prompt has 17"),
        ({"wrong_answer": DEMO_LINE["answer"]}, r"line 2: answer .* and wrong_answer .* are the same token"),
        ({"drop": "wrong_answer"}, r":2: missing key\(s\) 'wrong_answer'"),
        ({"layers": [0, 2]}, r"layer index 2 is out of range: .*0\.\.1"),
    ],
)
def test_bad_input_fails_before_any_forward_pass(tmp_path, monkeypatch, change, match):
    def no_forward(*args, **kwargs):
        raise AssertionError("a forward pass ran before the input was checked")

    monkeypatch.setattr(activation_patching, "baseline_logit_diffs", no_forward)
    monkeypatch.setattr(activation_patching, "patched_logit_diffs", no_forward)
    change = dict(change)
    layers = change.pop("layers", None)
    bad = {**DEMO_LINE, **change}
    bad.pop(bad.pop("drop", None) or "_", None)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "pairs.jsonl").write_text(json.dumps(DEMO_LINE) + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(ValueError, match=match):
        run_activation_patching(demo_config(tmp_path, layers=layers), tmp_path)
    assert not (tmp_path / "results").exists()
    events = [json.loads(line) for line in (tmp_path / "cache" / "events.jsonl").read_text().splitlines()]
    assert events[-1]["event"] == "probe.error"
    assert events[-1]["error_type"] == "ValueError"


def test_equal_baselines_fail_before_the_sweeps(tmp_path, monkeypatch):
    def no_sweep(*args, **kwargs):
        raise AssertionError("the sweeps ran although the baselines are equal")

    monkeypatch.setattr(activation_patching, "patched_logit_diffs", no_sweep)
    (tmp_path / "data").mkdir()
    lines = [json.loads(line) for line in DEMO_PAIRS.read_text().splitlines()[:4]]
    same = [{**line, "corrupted": line["clean"]} for line in lines]
    (tmp_path / "data" / "pairs.jsonl").write_text("".join(json.dumps(line) + "\n" for line in same))
    with pytest.raises(ValueError, match=r"clean and corrupted logit differences are equal .* the patching effect is undefined"):
        run_activation_patching(demo_config(tmp_path, n_examples=4), tmp_path)
    assert not (tmp_path / "results").exists()


TEMPLATE = REPO_ROOT / "templates" / "activation_patching.py.mustache"
TEMPLATE_VARIABLES = {
    "tool_version", "generated_on", "package", "probe_id_literal", "model_id_literal", "n_examples",
    "seeds_literal", "dtype_literal", "hypothesis_literal", "layers_literal", "pairs_path_literal", "method_literal",
 "research_question_literal",
}


def test_template_renders_and_runs(tmp_path, monkeypatch):
    import re
    import runpy
    import shutil
    import sys

    from test_templates import COMMON, render

    text = TEMPLATE.read_text(encoding="utf-8")
    assert set(re.findall(r"\{\{(\w+)\}\}", text)) == TEMPLATE_VARIABLES

    package = "patching_study"
    code = tmp_path / "code"
    package_dir = code / "src" / package
    shutil.copytree(REPO_ROOT / "python" / "auto_research_probe", package_dir / "probe_runtime", ignore=shutil.ignore_patterns("__pycache__"))
    (package_dir / "__init__.py").write_text("", encoding="utf-8")
    values = {**COMMON, "package": package}
    (package_dir / "probe.py").write_text(render((REPO_ROOT / "templates" / "probe.py.mustache").read_text(), values), encoding="utf-8")
    shutil.copytree(DEMO_MODEL, code / "models" / "demo")
    (code / "data").mkdir()
    (code / "data" / "pairs.jsonl").write_text("\n".join(DEMO_PAIRS.read_text().splitlines()[:30]) + "\n")
    hypothesis = 'L0 """previous-token""" head \\ feeds {{slug}} layer 1'
    script = code / "analysis" / "activation_patching_20261204.py"
    script.parent.mkdir()
    script.write_text(
        render(
            text,
            {
                **values,
                "probe_id_literal": repr("patching_demo"),
                "model_id_literal": repr("models/demo"),
                "pairs_path_literal": repr("data/pairs.jsonl"),
                "layers_literal": "None",
                "n_examples": 8,
                "seeds_literal": "[0, 1, 2]",
                "dtype_literal": repr("float32"),
                "hypothesis_literal": repr(hypothesis),
                "method_literal": repr("attribution"),
            },
        ),
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(code / "src"))
    try:
        with pytest.raises(SystemExit) as exited:
            runpy.run_path(str(script), run_name="__main__")
        assert exited.value.code == 0
    finally:
        for name in [name for name in sys.modules if name == package or name.startswith(package + ".")]:
            del sys.modules[name]
    results = json.loads((code / "results" / "probe" / "patching_demo.json").read_text(encoding="utf-8"))
    assert results["hypothesis"] == hypothesis
    assert results["model_id"] == "models/demo"
    assert results["n_examples"] == 8
    assert results["layers"] == [0, 1]
    assert results["provenance"]["script"] == "analysis/activation_patching_20261204.py"
    assert results["artifacts"] == ["results/probe/patching_demo.png"]
    assert results["method"] == "attribution"
    assert -1.0 <= results["attribution_check"]["spearman"] <= 1.0
