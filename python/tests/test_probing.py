import json
import re
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from auto_research_probe import probing
from auto_research_probe.probing import (
    ProbingConfig,
    corrected_t_interval,
    fold_splits,
    heldout_accuracies,
    hooked_features,
    hooked_inputs,
    make_probe,
    resolve_layers,
    run_probing,
)
from tiny_model import WORDS

pytestmark = pytest.mark.torch

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_MODEL = REPO_ROOT / "python" / "demo" / "induction-demo-model"
DEMO_LABELS = REPO_ROOT / "python" / "demo" / "labels.jsonl"
TEMPLATE = REPO_ROOT / "templates" / "probing.py.mustache"
JAR = REPO_ROOT / "target" / "auto-research.jar"
TEMPLATE_VARIABLES = {
    "tool_version", "generated_on", "package", "probe_id_literal", "model_id_literal", "labels_path_literal",
    "layers_literal", "n_examples", "seeds_literal", "dtype_literal", "hypothesis_literal", "hook_literal",
    "position_literal", "folds",
 "research_question_literal",
}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # Tiny forward passes and fits run fastest on one thread on a shared two-core machine.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def random_texts(count, seed, min_words=2, max_words=8):
    rng = np.random.default_rng(seed)
    return [" ".join(WORDS[int(i)] for i in rng.integers(0, len(WORDS), size=int(rng.integers(min_words, max_words + 1)))) for _ in range(count)]


def write_labels(path, texts, labels):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"text": text, "label": label}) + "\n" for text, label in zip(texts, labels)), encoding="utf-8")
    return path


PLANTED = {"cat": "a", "dog": "a", "bird": "b", "tree": "b"}


def planted_texts(count, seed):
    """Random texts ending in one of four words, labelled by that word: readable from the last token's embedding."""
    rng = np.random.default_rng(seed)
    endings = list(PLANTED)
    texts = [f"{text} {endings[int(rng.integers(len(endings)))]}" for text in random_texts(count, seed, max_words=7)]
    return texts, [PLANTED[text.split()[-1]] for text in texts]


def tiny_config(root, tiny_model_dir, **changes):
    script = root / "analysis" / "probing_tiny.py"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text("# stands in for the generated script\n", encoding="utf-8")
    values = dict(
        probe_id="probing_tiny",
        model_id=str(tiny_model_dir),
        labels_path="data/labels.jsonl",
        hook="resid_pre",
        position="last",
        n_examples=40,
        seeds=(0, 1, 2),
        device="cpu",
        script_path=str(script),
    )
    values.update(changes)
    return ProbingConfig(**values)


def events(root):
    return [json.loads(line) for line in (root / "cache" / "events.jsonl").read_text().splitlines()]


def validate_with_jar(path):
    if not JAR.is_file():
        pytest.skip(f"{JAR} is missing (build it with mvn -B -q package -DskipTests); results checked in Python only")
    completed = subprocess.run(["java", "-jar", str(JAR), "probe", "validate", str(path)], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stdout + completed.stderr


# ---------------------------------------------------------------------------------------
# Pieces


def test_heldout_accuracy_is_not_training_accuracy():
    # Random labels on more features than a fold has examples: a probe fits its training
    # data almost perfectly, and only the held-out score shows that nothing was learned.
    rng = np.random.default_rng(0)
    features = rng.standard_normal((60, 80))
    labels = rng.integers(0, 2, size=60)
    training = make_probe().fit(features, labels).score(features, labels)
    heldout = heldout_accuracies(features, labels, fold_splits(labels, 5, 0))
    assert training > 0.95
    assert heldout.mean() < 0.75
    assert heldout.shape == (5,)


def test_folds_are_stratified_and_seeded():
    labels = np.array([0] * 20 + [1] * 10)
    splits = fold_splits(labels, 5, seed=3)
    tests = np.concatenate([test for _, test in splits])
    assert sorted(tests.tolist()) == list(range(30))
    assert all(np.bincount(labels[test], minlength=2).tolist() == [4, 2] for _, test in splits)
    assert [test.tolist() for _, test in fold_splits(labels, 5, seed=3)] == [test.tolist() for _, test in splits]
    assert [test.tolist() for _, test in fold_splits(labels, 5, seed=4)] != [test.tolist() for _, test in splits]


def test_corrected_t_interval_widens_the_naive_interval():
    from scipy import stats

    values = np.random.default_rng(1).normal(0.2, 0.1, size=15)
    mean, lo, hi = corrected_t_interval(values, 0.25)
    scale = np.sqrt((1 / 15 + 0.25) * values.var(ddof=1))
    expected = stats.t.interval(0.95, 14, loc=values.mean(), scale=scale)
    assert mean == pytest.approx(values.mean())
    assert (lo, hi) == pytest.approx(expected)
    naive = stats.t.interval(0.95, 14, loc=values.mean(), scale=values.std(ddof=1) / np.sqrt(15))
    assert hi - lo > naive[1] - naive[0]
    assert corrected_t_interval(np.full(6, 0.5), 0.25) == (0.5, 0.5, 0.5)
    assert corrected_t_interval(np.array([0.9, 1.0, 1.0, 0.8]), 0.25, bounds=(0.0, 1.0))[2] == 1.0


def test_resolve_layers_per_hook():
    assert resolve_layers(2, "resid_pre", None) == [0, 1, 2]
    assert resolve_layers(2, "resid_post", None) == [0, 1]
    with pytest.raises(ValueError, match=r"layer index 2 is out of range for hook 'resid_post': .* 0\.\.1"):
        resolve_layers(2, "resid_post", [0, 2])
    with pytest.raises(ValueError, match="duplicates"):
        resolve_layers(2, "resid_pre", [1, 1])


@pytest.mark.parametrize("position", ["last", "first", "mean"])
def test_batched_features_match_one_text_at_a_time(hooked_model, tmp_path, position):
    from auto_research_probe.cache import CacheSettings
    from auto_research_probe.events import EventLog

    texts = random_texts(7, seed=5, min_words=1, max_words=9)
    inputs = hooked_inputs(hooked_model, texts)
    assert len({len(ids) for ids in inputs.token_ids}) > 3  # several lengths, so batches are padded
    log = EventLog(tmp_path / "events.jsonl", "20261204-000000-0000000-000000")
    cache = CacheSettings(tmp_path / "activations", log, "tiny", None)
    uncached = hooked_features(hooked_model, inputs, [0, 1], "resid_post", position, batch_size=3)
    cached = hooked_features(hooked_model, inputs, [0, 1], "resid_post", position, cache=cache, batch_size=3)
    for index, ids in enumerate(inputs.token_ids):
        with torch.no_grad():
            _, activations = hooked_model.run_with_cache(torch.tensor([ids]))
        for layer in (0, 1):
            stream = activations[f"blocks.{layer}.hook_resid_post"][0].double()
            # The model prepends BOS: "first" reads it, "mean" leaves it out.
            expected = {"last": stream[-1], "first": stream[0], "mean": stream[1:].mean(dim=0)}[position].numpy()
            np.testing.assert_allclose(uncached[layer][index], expected, atol=1e-5)
            np.testing.assert_allclose(cached[layer][index], expected, atol=1e-5)
    assert [event["event"] for event in events_of(tmp_path)] == ["cache.miss", "cache.write"]


def events_of(folder):
    return [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]


# ---------------------------------------------------------------------------------------
# The probe on the tiny model


def test_planted_property_is_selective(tmp_path, tiny_model_dir, monkeypatch):
    monkeypatch.delenv("AUTO_RESEARCH_RUN_ID", raising=False)
    texts, labels = planted_texts(120, seed=11)
    write_labels(tmp_path / "data" / "labels.jsonl", texts, labels)
    path = run_probing(tiny_config(tmp_path, tiny_model_dir), tmp_path)
    results = json.loads(path.read_text(encoding="utf-8"))

    assert results["intervention"] == "probing"
    assert results["backend"] == "transformer_lens"
    assert results["metric"] == results["primary_metric"] == "selectivity"
    assert results["layers"] == [0, 1, 2]
    assert results["n_examples"] == 40
    assert results["status"] == "exploratory"
    assert results["position"] == "last"
    assert results["hook"] == "resid_pre"
    assert sum(results["classes"].values()) == 120
    heldout = results["secondary_metrics"]["heldout_accuracy"]["values_per_layer"]
    control = results["secondary_metrics"]["control_accuracy"]["values_per_layer"]
    # Layer 0 is the last token's embedding plus its position, so the planted label is linear there.
    assert heldout[0] > 0.9
    assert max(control) < 0.75
    assert results["values_per_layer"] == pytest.approx([h - c for h, c in zip(heldout, control)])
    assert results["ci_per_layer"][0][0] > 0.2
    assert results["best_layer"] == results["layers"][int(np.argmax(results["values_per_layer"]))]
    assert results["mean"] == pytest.approx(max(results["values_per_layer"]))
    assert results["mean"] == pytest.approx(np.mean(results["values_per_seed"]))
    assert results["noise_floor"] == pytest.approx(np.std(results["values_per_seed"], ddof=1))
    assert abs(results["shuffled_control_mean"]) < 0.2
    assert abs(results["random_baseline"]) < 0.2
    assert results["effect_size"] > 1.0
    assert results["token_baselines"]["probed_token"]["mean"] > 0.9
    for name in ("heldout_accuracy", "control_accuracy", "null_selectivity"):
        metric = results["secondary_metrics"][name]
        assert all(lo <= value <= hi for value, (lo, hi) in zip(metric["values_per_layer"], metric["ci_per_layer"]))
    explanations = results["alternative_explanations_not_ruled_out"]
    assert len(set(explanations)) >= 2
    assert any("identity of the probed token" in text for text in explanations)
    assert (tmp_path / results["artifacts"][0]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert results["provenance"]["script"] == "analysis/probing_tiny.py"
    names = [event["event"] for event in events(tmp_path)]
    assert names[0] == "probe.start"
    assert names[-1] == "probe.end"
    assert "cache.miss" in names

    # A rerun reads the activations from the cache and gives the same numbers.
    again = json.loads(run_probing(tiny_config(tmp_path, tiny_model_dir), tmp_path).read_text(encoding="utf-8"))
    assert again["values_per_layer"] == results["values_per_layer"]
    rerun_events = [event["event"] for event in events(tmp_path)][len(names):]
    assert "cache.hit" in rerun_events
    assert "cache.miss" not in rerun_events
    validate_with_jar(path)


def test_label_without_signal_has_no_selectivity(tmp_path, tiny_model_dir):
    texts = random_texts(150, seed=12)
    coin = np.random.default_rng(13).integers(0, 2, size=len(texts))
    write_labels(tmp_path / "data" / "labels.jsonl", texts, [["x", "y"][int(value)] for value in coin])
    config = tiny_config(tmp_path, tiny_model_dir, n_examples=50, position="mean", hook="resid_post")
    results = json.loads(run_probing(config, tmp_path).read_text(encoding="utf-8"))
    assert results["layers"] == [0, 1]
    for value, (lo, hi) in zip(results["values_per_layer"], results["ci_per_layer"]):
        assert lo <= 0.0 <= hi
        assert abs(value) < 0.15
    assert all(value < 0.7 for value in results["secondary_metrics"]["heldout_accuracy"]["values_per_layer"])
    assert "probed_token" not in results["token_baselines"]


def test_unknown_hook_and_position_are_rejected(tmp_path, tiny_model_dir):
    with pytest.raises(ValueError, match=r"hook 'resid' is unknown: choose from resid_pre, resid_mid"):
        run_probing(tiny_config(tmp_path, tiny_model_dir, hook="resid"), tmp_path)
    with pytest.raises(ValueError, match=r"position 'middle' is unknown: choose from last, first, mean"):
        run_probing(tiny_config(tmp_path, tiny_model_dir, position="middle"), tmp_path)
    with pytest.raises(ValueError, match=r"folds must be an integer of at least 2"):
        run_probing(tiny_config(tmp_path, tiny_model_dir, folds=1), tmp_path)


@pytest.mark.parametrize(
    "lines, changes, match",
    [
        ([{"text": "the cat", "label": "a"}] * 30, {}, r"has one class only \('a'\)"),
        ([{"text": "the cat", "label": "a"}, {"text": "the dog"}] * 15, {}, r":2: missing key \"label\""),
        # 30 lines, 15 per class, pass the whole-file check; 4 examples per seed cannot fill 3 folds per class.
        ([{"text": "the cat", "label": "a"}, {"text": "the dog", "label": "b"}] * 15, {"n_examples": 4, "folds": 3},
         r"the 4 examples drawn for seed 0\) has fewer examples than folds \(3\)"),
        ([{"text": "the cat", "label": "a"}, {"text": "the dog", "label": "b"}] * 15, {"layers": [0, 3], "folds": 2},
         r"layer index 3 is out of range for hook 'resid_pre': this 2-layer model has layers 0\.\.2"),
    ],
)
def test_bad_input_fails_before_any_forward_pass(tmp_path, tiny_model_dir, monkeypatch, lines, changes, match):
    def no_forward(*args, **kwargs):
        raise AssertionError("a forward pass ran before the input was checked")

    monkeypatch.setattr(probing, "hooked_features", no_forward)
    monkeypatch.setattr(probing, "ensure_cached", no_forward)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "labels.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    with pytest.raises(ValueError, match=match):
        run_probing(tiny_config(tmp_path, tiny_model_dir, **changes), tmp_path)
    assert not (tmp_path / "results").exists()
    last = events(tmp_path)[-1]
    assert last["event"] == "probe.error"
    assert last["error_type"] == "ValueError"


# ---------------------------------------------------------------------------------------
# The generated script on the demo model


def render_probing_script(code, package, values):
    from test_templates import COMMON, render

    text = TEMPLATE.read_text(encoding="utf-8")
    assert set(re.findall(r"\{\{(\w+)\}\}", text)) == TEMPLATE_VARIABLES
    package_dir = code / "src" / package
    shutil.copytree(REPO_ROOT / "python" / "auto_research_probe", package_dir / "probe_runtime", ignore=shutil.ignore_patterns("__pycache__"))
    (package_dir / "__init__.py").write_text("", encoding="utf-8")
    common = {**COMMON, "package": package}
    (package_dir / "probe.py").write_text(render((REPO_ROOT / "templates" / "probe.py.mustache").read_text(), common), encoding="utf-8")
    script = code / "analysis" / "probing_20261204.py"
    script.parent.mkdir(parents=True)
    script.write_text(render(text, {**common, **values}), encoding="utf-8")
    return script


def test_demo_script_finds_repeats_after_block_1(tmp_path, monkeypatch):
    package = "probing_study"
    code = tmp_path / "code"
    shutil.copytree(DEMO_MODEL, code / "models" / "demo")
    (code / "data").mkdir(parents=True)
    shutil.copy(DEMO_LABELS, code / "data" / "labels.jsonl")
    hypothesis = 'The last token """knows""" \\ whether it {{slug}} repeats'

    script = render_probing_script(
        code,
        package,
        {
            "probe_id_literal": repr("probing_demo"),
            "model_id_literal": repr("models/demo"),
            "labels_path_literal": repr("data/labels.jsonl"),
            "layers_literal": "None",
            "n_examples": 64,
            "seeds_literal": "[0, 1, 2]",
            "dtype_literal": repr("float32"),
            "hypothesis_literal": repr(hypothesis),
            "hook_literal": repr("resid_pre"),
            "position_literal": repr("last"),
            "folds": 5,
        },
    )

    monkeypatch.syspath_prepend(str(code / "src"))
    try:
        with pytest.raises(SystemExit) as exited:
            runpy.run_path(str(script), run_name="__main__")
        assert exited.value.code == 0
    finally:
        for name in [name for name in sys.modules if name == package or name.startswith(package + ".")]:
            del sys.modules[name]

    path = code / "results" / "probe" / "probing_demo.json"
    results = json.loads(path.read_text(encoding="utf-8"))
    assert results["hypothesis"] == hypothesis
    assert results["model_id"] == "models/demo"
    assert results["status"] == "result"
    assert results["layers"] == [0, 1, 2]
    assert results["folds"] == 5
    assert results["provenance"]["script"] == "analysis/probing_20261204.py"
    assert results["artifacts"] == ["results/probe/probing_demo.png"]

    # Whether the last word occurred before can only come from attention to earlier positions.
    # The last token's embedding (layer 0) carries none of it. The demo model's induction head
    # in block 1 does, so the label shows after block 1 (layer 2).
    (lo0, hi0), (lo2, _) = results["ci_per_layer"][0], results["ci_per_layer"][2]
    assert lo0 <= 0.0 <= hi0
    assert results["best_layer"] == 2
    assert lo2 > 0.2
    assert results["secondary_metrics"]["heldout_accuracy"]["values_per_layer"][2] > 0.85
    validate_with_jar(path)


def test_generated_script_exits_2_on_one_class(tmp_path, monkeypatch, capsys):
    package = "probing_bad"
    code = tmp_path / "code"
    (code / "data").mkdir(parents=True)
    (code / "data" / "labels.jsonl").write_text('{"text": "baba baku", "label": "same"}\n' * 20, encoding="utf-8")
    script = render_probing_script(
        code,
        package,
        {
            "probe_id_literal": repr("probing_bad"),
            "model_id_literal": repr(str(DEMO_MODEL)),
            "labels_path_literal": repr("data/labels.jsonl"),
            "layers_literal": "[0, 1]",
            "n_examples": 64,
            "seeds_literal": "[0, 1, 2]",
            "dtype_literal": repr("float32"),
            "hypothesis_literal": repr(""),
            "hook_literal": repr("resid_post"),
            "position_literal": repr("mean"),
            "folds": 5,
        },
    )
    monkeypatch.syspath_prepend(str(code / "src"))
    try:
        with pytest.raises(SystemExit) as exited:
            runpy.run_path(str(script), run_name="__main__")
    finally:
        for name in [name for name in sys.modules if name == package or name.startswith(package + ".")]:
            del sys.modules[name]
    assert exited.value.code == 2
    assert "has one class only ('same')" in capsys.readouterr().err
    assert not (code / "results").exists()
