"""Attention pattern probe: score positions, controls, files, offline pages, and the demo model's two heads."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from auto_research_probe import attention_pattern as ap
from auto_research_probe.attention_pattern import (
    SCORES,
    AttentionPatternConfig,
    bootstrap_ci_columns,
    head_scores,
    make_sequences,
    random_baselines,
    run_attention_pattern,
    scores_from_pattern,
)
from auto_research_probe.stats import bootstrap_ci
from test_templates import render

pytestmark = pytest.mark.torch

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_MODEL = REPO_ROOT / "python" / "demo" / "induction-demo-model"
TEMPLATE = REPO_ROOT / "templates" / "attention_pattern.py.mustache"
JAR = REPO_ROOT / "target" / "auto-research.jar"


def slow_scores(pattern: torch.Tensor, seq_len: int, bos: bool) -> dict[str, np.ndarray]:
    """The four scores written out position by position from their definitions, as [batch, head]."""
    b = int(bos)
    length = pattern.shape[-1]
    p = pattern.double().numpy()
    return {
        "previous_token": np.mean([p[..., q, q - 1] for q in range(1, length)], axis=0),
        "induction": np.mean([p[..., b + seq_len + j, b + j + 1] for j in range(seq_len)], axis=0),
        "duplicate_token": np.mean([p[..., b + seq_len + j, b + j] for j in range(seq_len)], axis=0),
        "first_token": np.mean([p[..., q, 0] for q in range(1, length)], axis=0),
    }


def causal_softmax(scores: torch.Tensor) -> torch.Tensor:
    length = scores.shape[-1]
    mask = torch.ones(length, length, dtype=torch.bool).triu(1)
    return scores.masked_fill(mask, float("-inf")).softmax(dim=-1)


@pytest.mark.parametrize("bos", [True, False])
def test_scores_read_the_defined_positions(bos):
    seq_len = 5
    length = int(bos) + 2 * seq_len
    pattern = causal_softmax(torch.randn(3, 4, length, length, generator=torch.Generator().manual_seed(1)))
    fast = scores_from_pattern(pattern, seq_len)
    expected = slow_scores(pattern, seq_len, bos)
    for name in SCORES:
        assert fast[name].shape == (3, 4)
        np.testing.assert_allclose(fast[name].double().numpy(), expected[name], atol=1e-6)


def test_ideal_heads_score_one():
    seq_len, b = 4, 1
    length = b + 2 * seq_len
    pattern = torch.zeros(1, 4, length, length)
    for q in range(length):
        pattern[0, 0, q, max(q - 1, 0)] = 1.0
        second_copy = q >= b + seq_len
        pattern[0, 1, q, q - seq_len + 1 if second_copy else 0] = 1.0
        pattern[0, 2, q, q - seq_len if second_copy else 0] = 1.0
        pattern[0, 3, q, 0] = 1.0
    scores = scores_from_pattern(pattern, seq_len)
    for head, name in enumerate(SCORES):
        assert scores[name][0, head].item() == pytest.approx(1.0), name
    assert scores["induction"][0, 0].item() == 0.0
    assert scores["previous_token"][0, 1].item() < 0.5


@pytest.mark.parametrize("bos", [True, False])
def test_uniform_attention_scores_equal_the_random_baseline(bos):
    seq_len = 6
    length = int(bos) + 2 * seq_len
    uniform = causal_softmax(torch.zeros(1, 1, length, length))
    scores = scores_from_pattern(uniform, seq_len)
    baselines = random_baselines(seq_len, bos)
    for name in SCORES:
        assert scores[name].item() == pytest.approx(baselines[name], abs=1e-6)
    assert baselines["induction"] == pytest.approx(np.mean([1 / (q + 1) for q in range(length - seq_len, length)]))


def test_column_bootstrap_equals_bootstrap_ci_per_column():
    values = np.random.default_rng(4).normal(size=(57, 3)) ** 2
    lo, hi = bootstrap_ci_columns(values, n_bootstrap=700, seed=11)
    for column in range(3):
        expected = bootstrap_ci(values[:, column], n_bootstrap=700, seed=11)
        assert (lo[column], hi[column]) == pytest.approx(expected, abs=1e-12)


def test_sequences_repeat_span_control_fresh(hooked_model):
    tokenizer = hooked_model.tokenizer
    sequences = make_sequences(hooked_model, 6, 5, seed=0)
    repeated, control = sequences.repeated, sequences.control
    assert repeated.shape == control.shape == (5, 13)
    assert sequences.bos
    assert not sequences.with_replacement
    assert (repeated[:, 0] == tokenizer.bos_token_id).all()
    assert torch.equal(repeated[:, 1:7], repeated[:, 7:])
    assert torch.equal(control[:, :7], repeated[:, :7])
    special = set(tokenizer.all_special_ids)
    for row in range(5):
        span = repeated[row, 1:7].tolist()
        assert len(set(span)) == 6
        assert not special & set(span)
        assert not set(span) & set(control[row, 7:].tolist())
    assert torch.equal(make_sequences(hooked_model, 6, 5, seed=0).repeated, repeated)
    assert not torch.equal(make_sequences(hooked_model, 6, 5, seed=1).repeated, repeated)


def test_sequences_fall_back_to_sampling_with_replacement(hooked_model):
    # The tiny tokenizer has 20 words, fewer than a span of 25.
    sequences = make_sequences(hooked_model, 25, 3, seed=0)
    assert sequences.with_replacement
    assert sequences.n_candidate_tokens == 20
    assert sequences.repeated.shape == (3, 51)
    assert torch.equal(sequences.repeated[:, 1:26], sequences.repeated[:, 26:])


def test_head_scores_match_the_cached_patterns(hooked_model):
    grid = head_scores(hooked_model, None, 5, 4, seed=3)
    tokens = make_sequences(hooked_model, 5, 4, seed=3).repeated
    with torch.no_grad():
        _, cache = hooked_model.run_with_cache(tokens)
    for layer in range(2):
        expected = slow_scores(cache[f"blocks.{layer}.attn.hook_pattern"], 5, True)
        for name in SCORES:
            assert grid[name].shape == (2, 4)
            np.testing.assert_allclose(grid[name][layer], expected[name].mean(axis=0), atol=1e-6)
    only_last = head_scores(hooked_model, [1], 5, 4, seed=3)
    assert np.isnan(only_last["induction"][0]).all()
    np.testing.assert_allclose(only_last["induction"][1], grid["induction"][1], atol=1e-9)


def test_bad_arguments_raise_before_forward(hooked_model):
    calls = []
    handle = hooked_model.embed.register_forward_pre_hook(lambda module, args: calls.append(1))
    try:
        with pytest.raises(ValueError, match=r"layers \[0, 2\].*0\.\.1"):
            head_scores(hooked_model, [0, 2], 5, 4, seed=0)
        with pytest.raises(ValueError, match=r"seq_len 32 .*2\.\.31.*64 positions"):
            head_scores(hooked_model, None, 32, 4, seed=0)
        with pytest.raises(ValueError, match=r"seq_len 1 .*2\.\.31"):
            head_scores(hooked_model, None, 1, 4, seed=0)
        assert calls == []
        head_scores(hooked_model, None, 31, 1, seed=0)  # the largest seq_len that fits
        assert calls
    finally:
        handle.remove()


def read_events(root: Path) -> list[dict]:
    return [json.loads(line) for line in (root / "cache" / "events.jsonl").read_text(encoding="utf-8").splitlines()]


def validate_with_java(*files: Path) -> subprocess.CompletedProcess:
    """Run `probe validate` on results files. Each lies in <code>/results/probe/, so its artifacts resolve against <code>/."""
    return subprocess.run(
        ["java", "-jar", str(JAR), "probe", "validate", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def write_script(root: Path) -> Path:
    """Stand in for the generated script: the schema needs the script's path and sha256 in the provenance."""
    script = root / "analysis" / "attention_pattern_20261204.py"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text("# generated attention pattern script\n", encoding="utf-8")
    return script


@pytest.fixture(scope="module")
def tiny_run(tiny_model_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("attention_project")
    shutil.copytree(tiny_model_dir, root / "models" / "tiny")
    config = AttentionPatternConfig(
        script_path=str(write_script(root)),
        probe_id="attention_tiny",
        model_id="models/tiny",
        seq_len=6,
        n_examples=8,
        seeds=(0, 1, 2),
        n_bootstrap=300,
        device="cpu",
        hypothesis="layer 1 holds an induction head",
    )
    path = run_attention_pattern(config, root)
    return root, path, json.loads(path.read_text(encoding="utf-8"))


def test_run_results_cover_every_head(tiny_run):
    root, path, results = tiny_run
    assert path == root / "results" / "probe" / "attention_tiny.json"
    assert results["intervention"] == "attention_pattern"
    assert results["backend"] == "transformer_lens"
    assert results["metric"] == results["primary_metric"] == "induction_score"
    assert results["status"] == "exploratory"
    assert results["layers"] == [0, 1]
    assert results["n_examples"] == 8
    assert results["seeds"] == [0, 1, 2]

    components = {component["name"]: component for component in results["components"]}
    assert len(components) == 2 * 4 * len(SCORES)
    induction = {name: item["value"] for name, item in components.items() if name.endswith(" induction")}
    top_name = max(induction, key=induction.get).split()[0]
    assert results["top_heads"]["induction"]["head"] == top_name
    assert results["mean"] == pytest.approx(induction[f"{top_name} induction"])
    assert results["values_per_layer"][int(top_name[1])] == pytest.approx(results["mean"])
    for layer in (0, 1):
        assert results["values_per_layer"][layer] == pytest.approx(max(v for n, v in induction.items() if n.startswith(f"L{layer}H")))
    for item in [*components.values(), {"value": results["mean"], "ci_95": results["ci_95"]}]:
        lo, hi = item["ci_95"]
        assert lo - 1e-12 <= item["value"] <= hi + 1e-12
    assert set(results["secondary_metrics"]) == {"previous_token_score", "duplicate_token_score", "first_token_score"}

    assert len(results["values_per_seed"]) == 3
    assert results["mean"] == pytest.approx(np.mean(results["values_per_seed"]))
    assert results["noise_floor"] == pytest.approx(np.std(results["values_per_seed"], ddof=1))
    # BOS + 2 * 6 tokens: the second copy is queries 7..12.
    assert results["random_baseline"] == pytest.approx(np.mean([1 / (q + 1) for q in range(7, 13)]))
    assert 0.0 <= results["shuffled_control_mean"] <= 1.0
    assert np.isfinite(results["effect_size"])

    explanations = results["alternative_explanations_not_ruled_out"]
    assert len(set(explanations)) >= 2
    assert all(text.strip() for text in explanations)
    assert top_name in explanations[0]
    assert f"{results['mean']:.2f}" in explanations[0]
    assert "6 uniformly drawn token ids" in explanations[1]
    assert results["provenance"]["weights_sha256"]
    assert results["provenance"]["script"] == "analysis/attention_pattern_20261204.py"

    assert [event["event"] for event in read_events(root) if event["event"] != "progress"][:2] == ["probe.start", "model.loaded"]
    assert read_events(root)[-1]["event"] == "probe.end"


def test_run_artifacts_without_temp_files(tiny_run):
    root, _, results = tiny_run
    assert results["artifacts"] == [
        "results/probe/attention_tiny_layer0.html",
        "results/probe/attention_tiny_layer1.html",
        "results/probe/attention_tiny.png",
    ]
    assert (root / results["artifacts"][2]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    names = sorted(path.name for path in (root / "results" / "probe").iterdir())
    assert names == ["attention_tiny.json", "attention_tiny.png", "attention_tiny_layer0.html", "attention_tiny_layer1.html"]


def test_pages_open_offline(tiny_run):
    root, _, results = tiny_run
    for artifact in results["artifacts"][:2]:
        page = (root / artifact).read_text(encoding="utf-8")
        assert page.startswith("<!DOCTYPE html>")
        assert "CircuitsVis.render(" in page
        assert "AttentionPatterns" in page
        assert not re.search(r"<script[^>]*\bsrc\s*=", page, re.IGNORECASE)
        assert not re.search(r"<link[^>]*\bhref\s*=\s*[\"']?(https?:)?//", page, re.IGNORECASE)
        assert not re.search(r"\bimport\b[^;\n]*?[\"'](https?:)?//", page)
        assert not re.search(r"\bimport\s*\(\s*[\"'](https?:)?//", page)
        assert not re.search(r"url\(\s*[\"']?(https?:)?//", page)
        assert "unpkg.com" not in page
        assert "cdn.jsdelivr" not in page


def test_token_labels_cannot_end_the_inline_script():
    class Tokenizer:
        def decode(self, ids):
            return ["</script>", "<!--", "<|bos|>"][ids[0]]

    class Model:
        tokenizer = Tokenizer()

    labels = ap._token_labels(Model(), [0, 1, 2])
    assert not any("</" in label or "<!--" in label for label in labels)
    assert labels[2] == "<|bos|>"


@pytest.mark.skipif(not JAR.is_file(), reason="target/auto-research.jar is missing: build it with mvn -B -q package -DskipTests")
@pytest.mark.skipif(shutil.which("java") is None, reason="java is not on PATH")
def test_results_pass_the_java_validator(tiny_run):
    _, path, _ = tiny_run
    completed = validate_with_java(path)
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_run_rejects_bad_layers_and_seq_len(tiny_model_dir, tmp_path):
    for overrides, pattern in (({"layers": [0, 3]}, r"layers \[0, 3\].*0\.\.1"), ({"seq_len": 40}, r"seq_len 40 .*2\.\.31")):
        config = AttentionPatternConfig(probe_id="bad_config", model_id=str(tiny_model_dir), device="cpu", n_bootstrap=10, **overrides)
        with pytest.raises(ValueError, match=pattern):
            run_attention_pattern(config, tmp_path)
        assert not (tmp_path / "results" / "probe").exists()
        last = read_events(tmp_path)[-1]
        assert last["event"] == "probe.error"
        assert last["error_type"] == "ValueError"


def test_failed_write_keeps_the_old_files(tiny_model_dir, tmp_path, monkeypatch):
    results_dir = tmp_path / "results" / "probe"
    results_dir.mkdir(parents=True)
    (results_dir / "atomic.json").write_text("old results\n", encoding="utf-8")
    (results_dir / "atomic.png").write_bytes(b"old plot")
    real_replace = ap.os.replace

    def replace(source, target):
        if str(target).endswith(".png"):
            raise OSError("disk full")
        real_replace(source, target)

    monkeypatch.setattr(ap.os, "replace", replace)
    config = AttentionPatternConfig(probe_id="atomic", model_id=str(tiny_model_dir), seq_len=4, n_examples=2, seeds=(0,), n_bootstrap=10, device="cpu")
    with pytest.raises(OSError, match="disk full"):
        run_attention_pattern(config, tmp_path)
    # The plot failed before the results file: both keep their old bytes, and no temporary file is left.
    assert (results_dir / "atomic.png").read_bytes() == b"old plot"
    assert (results_dir / "atomic.json").read_text(encoding="utf-8") == "old results\n"
    assert sorted(path.name for path in results_dir.iterdir()) == ["atomic.json", "atomic.png", "atomic_layer0.html", "atomic_layer1.html"]


@pytest.fixture(scope="module")
def demo_model():
    from auto_research_probe.models import load_hooked_model

    return load_hooked_model(str(DEMO_MODEL), device="cpu")


def test_demo_head_scores_find_previous_token_then_induction(demo_model):
    # Span length 12 is within the spans the demo model was trained on (6 to 12 words).
    grid = head_scores(demo_model, None, 12, 32, seed=5)
    baselines = random_baselines(12, True)
    previous_layer, previous_head = np.unravel_index(np.argmax(grid["previous_token"]), grid["previous_token"].shape)
    induction_layer, induction_head = np.unravel_index(np.argmax(grid["induction"]), grid["induction"].shape)
    assert previous_layer == 0
    assert induction_layer == 1
    assert grid["previous_token"][previous_layer, previous_head] > 4 * baselines["previous_token"]
    assert grid["induction"][induction_layer, induction_head] > 10 * baselines["induction"]
    # Layer 0 cannot compose with an earlier head, so none of its heads does induction.
    assert grid["induction"][0].max() < 3 * baselines["induction"]


def test_demo_run_separates_induction_from_the_control(tmp_path):
    config = AttentionPatternConfig(
        script_path=str(write_script(tmp_path)),
        probe_id="demo_attention",
        model_id=str(DEMO_MODEL),
        n_examples=16,
        seeds=(0, 1, 2),
        n_bootstrap=1000,
        device="cpu",
    )
    path = run_attention_pattern(config, tmp_path)
    results = json.loads(path.read_text(encoding="utf-8"))
    assert results["top_heads"]["previous_token"]["layer"] == 0
    assert results["top_heads"]["induction"]["layer"] == 1
    lo, _ = results["ci_95"]
    assert lo > 5 * results["shuffled_control_mean"]
    assert lo > 5 * results["random_baseline"]
    assert results["effect_size"] > 2.0
    previous = results["top_heads"]["previous_token"]
    assert previous["ci_95"][0] > 2 * previous["random_baseline"]
    if JAR.is_file() and shutil.which("java"):
        completed = validate_with_java(path)
        assert completed.returncode == 0, completed.stdout + completed.stderr


def test_template_uses_exactly_the_contract_variables_and_compiles():
    text = TEMPLATE.read_text(encoding="utf-8")
    common = {
        "tool_version", "generated_on", "package", "probe_id_literal", "model_id_literal",
        "n_examples", "seeds_literal", "dtype_literal", "hypothesis_literal", "layers_literal",
    }
    assert set(re.findall(r"\{\{(\w+)\}\}", text)) == common | {"seq_len", "research_question_literal"}
    lens_header = (REPO_ROOT / "templates" / "logit_lens.py.mustache").read_text(encoding="utf-8").split('"""', 1)[0]
    assert text.startswith(lens_header)
    values = {
        "tool_version": "0.1.0",
        "generated_on": "2026-12-04",
        "package": "tiny_study",
        "probe_id_literal": repr("attention_tiny"),
        "model_id_literal": repr("models/tiny"),
        "n_examples": 64,
        "seeds_literal": "[0, 1, 2]",
        "dtype_literal": repr("float32"),
        "hypothesis_literal": repr('an """induction""" head \\ {{slug}}\n'),
        "layers_literal": "[0, 1]",
        "seq_len": 20,
    }
    source = render(text, values)
    compile(source, "attention_pattern_20261204.py", "exec")
    assert "SEQ_LEN = 20" in source
    assert "seq_len=SEQ_LEN" in source
    assert "script_path=__file__" in source
    assert "from tiny_study.probe_runtime.attention_pattern import AttentionPatternConfig, run_attention_pattern" in source
