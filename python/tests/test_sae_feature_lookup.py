import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from auto_research_probe import sae_feature_lookup
from auto_research_probe.sae_feature_lookup import (
    SaeFeatureLookupConfig,
    association,
    auroc_per_feature,
    bootstrap_association,
    load_sae,
    read_sae_config,
    reconstruction_metrics,
    run_sae_feature_lookup,
    save_sae,
    train_sae,
)
from tiny_model import WORDS

pytestmark = pytest.mark.torch

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_MODEL = REPO_ROOT / "python" / "demo" / "induction-demo-model"
DEMO_LABELS = REPO_ROOT / "python" / "demo" / "labels.jsonl"
JAR = REPO_ROOT / "target" / "auto-research.jar"


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # Two threads on a shared two-core machine make these small matrix products slower; one
    # thread keeps the file fast. Restored afterwards.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def planted_activations(n_tokens=8000, d_in=32, n_features=64, active_per_token=3, seed=0):
    """Activations that are sparse sums of known unit directions, plus an offset and a little noise."""
    rng = np.random.default_rng(seed)
    directions = rng.standard_normal((n_features, d_in))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    active = rng.random((n_tokens, n_features)) < active_per_token / n_features
    magnitudes = rng.uniform(0.5, 2.0, (n_tokens, n_features)) * active
    x = magnitudes @ directions + 0.01 * rng.standard_normal((n_tokens, d_in)) + 3.0 * rng.standard_normal(d_in)
    return torch.tensor(x, dtype=torch.float32), torch.tensor(directions, dtype=torch.float32)


# ---------------------------------------------------------------------------------------
# Training, metrics and the sae-lens format


def test_training_recovers_planted_sparse_features():
    x, directions = planted_activations()
    sae = train_sae(x, 128, steps=1500, seed=0)
    decoder = sae.W_dec / sae.W_dec.norm(dim=1, keepdim=True)
    best_cosine = (directions @ decoder.T).max(dim=1).values
    assert float((best_cosine > 0.9).float().mean()) >= 0.9, best_cosine.sort().values[:10]

    features = sae.encode(x)
    metrics = reconstruction_metrics(x, sae.decode(features), features)
    assert metrics["explained_variance"] > 0.8
    # Three directions per token on average: the SAE is sparse, far below its 128 features.
    assert metrics["mean_l0"] < 20

    # An SAE that has not learnt (one step) does not match the directions.
    untrained = train_sae(x, 128, steps=1, seed=0)
    untrained_decoder = untrained.W_dec / untrained.W_dec.norm(dim=1, keepdim=True)
    assert float(((directions @ untrained_decoder.T).max(dim=1).values > 0.9).float().mean()) < 0.2


def test_training_is_deterministic_for_a_seed():
    x, _ = planted_activations(n_tokens=500, d_in=8, n_features=12)
    first = train_sae(x, 16, steps=50, seed=3)
    second = train_sae(x, 16, steps=50, seed=3)
    other = train_sae(x, 16, steps=50, seed=4)
    assert torch.equal(first.W_enc, second.W_enc)
    assert torch.equal(first.b_dec, second.b_dec)
    assert not torch.equal(first.W_enc, other.W_enc)


def test_reconstruction_metrics_match_a_direct_computation():
    from sklearn.metrics import r2_score

    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 6)) * np.arange(1, 7) + 5.0
    x_hat = x + 0.3 * rng.standard_normal(x.shape)
    features = np.maximum(rng.standard_normal((200, 10)), 0.0)
    features[:, 3] = 0.0
    features[:, 7] = 0.0
    metrics = reconstruction_metrics(torch.tensor(x), torch.tensor(x_hat), torch.tensor(features))

    # 1 - total squared error over total variance: scikit-learn's variance-weighted R^2.
    assert metrics["explained_variance"] == pytest.approx(r2_score(x, x_hat, multioutput="variance_weighted"), abs=1e-12)
    assert metrics["mse"] == pytest.approx(((x - x_hat) ** 2).sum(axis=1).mean(), rel=1e-12)
    assert metrics["mean_l0"] == pytest.approx(np.count_nonzero(features, axis=1).mean())
    assert metrics["dead_fraction"] == pytest.approx(2 / 10)


def test_auroc_per_feature_matches_sklearn_with_ties():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(1)
    scores = rng.integers(0, 4, size=(60, 5)).astype(float)
    positive = rng.random(60) < 0.4
    expected = [roc_auc_score(positive, scores[:, column]) for column in range(5)]
    assert np.allclose(auroc_per_feature(scores, positive), expected, atol=1e-12)


def test_cluster_bootstrap_matches_resampling_by_hand():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(2)
    # 40 texts with 3 positions each; ties from the rounding.
    cluster = np.repeat(np.arange(40), 3)
    score = np.round(rng.standard_normal(120), 1)
    positive = rng.random(120) < 0.3
    result = bootstrap_association(score, positive, cluster, n_bootstrap=300, seed=5)

    # The same draws (one chunk: 300 rows of 40 cluster indices), resampled explicitly.
    draws = np.random.default_rng(5).integers(0, 40, size=(300, 40))
    aurocs, differences = [], []
    for row in draws:
        units = np.concatenate([np.flatnonzero(cluster == c) for c in row])
        if positive[units].all() or not positive[units].any():
            continue
        aurocs.append(roc_auc_score(positive[units], score[units]))
        differences.append(score[units][positive[units]].mean() - score[units][~positive[units]].mean())
    assert result["auroc"] == pytest.approx(list(np.quantile(aurocs, [0.025, 0.975])), abs=1e-12)
    assert result["mean_difference"] == pytest.approx(list(np.quantile(differences, [0.025, 0.975])), abs=1e-12)


def test_label_association_finds_planted_feature():
    rng = np.random.default_rng(3)
    n_texts, n_features = 300, 64
    scores = np.maximum(rng.standard_normal((n_texts, n_features)), 0.0)
    positive = rng.random(n_texts) < 0.5
    scores[positive, 17] += 1.0
    found = association(scores, positive, np.arange(n_texts), n_top=3, n_bootstrap=500, n_permutations=300, seed=0)
    top = found["top"][0]
    assert top["feature"] == 17
    assert top["auroc_ci_95"][0] > 0.7
    assert top["mean_difference"] > 0.5
    null = found["null_max_auroc"]
    # Choosing the best of 64 features by chance gives more than 0.5, but far less than the planted feature.
    assert 0.5 < null.mean() < 0.65
    assert np.quantile(null, 0.95) < top["auroc_ci_95"][0]

    # Without the planted feature, the best feature's AUROC is what permutation gives.
    unrelated = np.maximum(rng.standard_normal((n_texts, n_features)), 0.0)
    control = association(unrelated, positive, np.arange(n_texts), n_top=1, n_bootstrap=200, n_permutations=300, seed=0)
    assert control["top"][0]["auroc"] < np.quantile(control["null_max_auroc"], 0.99)


def test_permutation_within_groups_keeps_each_groups_positives():
    # Group 0 scores above group 1 and contains all three positives. Permuting within groups keeps
    # the positives in group 0, above all six group-1 negatives: AUROC >= 18 / 27 every time.
    scores = np.concatenate([np.arange(6, 12), np.arange(6)]).astype(float)[:, None]
    positive = np.array([1, 0, 1, 0, 1, 0] + [0] * 6, dtype=bool)
    groups = np.repeat([0, 1], 6)
    within = sae_feature_lookup.permutation_max_auroc(scores, positive, 300, seed=0, groups=groups)
    pooled = sae_feature_lookup.permutation_max_auroc(scores, positive, 300, seed=0)
    assert within.min() >= 18 / 27 - 1e-12
    assert pooled.min() < 18 / 27


def test_saved_sae_round_trips_through_sae_lens(tmp_path):
    from sae_lens import SAE, StandardSAE

    x, _ = planted_activations(n_tokens=2000, d_in=16, n_features=24)
    trained = train_sae(x, 48, steps=200, seed=1)
    folder = tmp_path / "sae"
    save_sae(trained, folder, hook_name="blocks.1.hook_resid_post", model_name="models/demo", prepend_bos=True, context_size=64)
    assert sorted(path.name for path in folder.iterdir()) == ["cfg.json", "sae_weights.safetensors"]

    loaded = SAE.load_from_disk(folder)
    assert isinstance(loaded, StandardSAE)
    assert (loaded.cfg.d_in, loaded.cfg.d_sae) == (16, 48)
    assert loaded.cfg.metadata.hook_name == "blocks.1.hook_resid_post"
    with torch.no_grad():
        assert torch.equal(loaded.encode(x), trained.encode(x))
        features = trained.encode(x)
        assert torch.allclose(loaded.decode(features), trained.decode(features), atol=1e-6)
    # The runtime's own loader goes through the same sae-lens call.
    assert torch.equal(load_sae(folder).encode(x), trained.encode(x))


def test_sae_folder_checks_name_the_missing_file(tmp_path):
    with pytest.raises(ValueError, match="SAE folder not found"):
        read_sae_config(tmp_path / "nowhere")
    (tmp_path / "sae").mkdir()
    (tmp_path / "sae" / "cfg.json").write_text(json.dumps({"d_in": 32, "d_sae": 64}))
    with pytest.raises(ValueError, match="has no sae_weights.safetensors"):
        read_sae_config(tmp_path / "sae")
    (tmp_path / "sae" / "sae_weights.safetensors").write_bytes(b"")
    (tmp_path / "sae" / "cfg.json").unlink()
    with pytest.raises(ValueError, match="has no cfg.json"):
        read_sae_config(tmp_path / "sae")


def test_unreadable_sae_weights_raise_value_error(tmp_path):
    x, _ = planted_activations(n_tokens=300, d_in=8, n_features=8)
    folder = tmp_path / "sae"
    save_sae(train_sae(x, 16, steps=5), folder, hook_name="blocks.0.hook_resid_post", model_name="tiny", prepend_bos=True, context_size=64)
    config = json.loads((folder / "cfg.json").read_text())
    (folder / "cfg.json").write_text(json.dumps({**config, "d_sae": 17}))
    with pytest.raises(ValueError, match="sae-lens cannot read the SAE in"):
        load_sae(folder)
    (folder / "cfg.json").write_text(json.dumps(config))
    (folder / "sae_weights.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="sae-lens cannot read the SAE in"):
        load_sae(folder)


# ---------------------------------------------------------------------------------------
# The probe on the tiny model


def tiny_texts(n, seed=0, labelled=True):
    """Texts of tiny-model words; label "cat" when the last word is "cat", which a feature at the last token can read."""
    rng = np.random.default_rng(seed)
    lines = []
    for index in range(n):
        words = [WORDS[int(i)] for i in rng.integers(0, len(WORDS), size=int(rng.integers(4, 9)))]
        if index % 2 == 0:
            words[-1] = "cat"
        elif words[-1] == "cat":
            words[-1] = "dog"
        record = {"text": " ".join(words)}
        if labelled:
            record["label"] = "cat" if words[-1] == "cat" else "other"
        lines.append(json.dumps(record))
    return "\n".join(lines) + "\n"


def tiny_config(root, tiny_model_dir, **changes):
    (root / "data").mkdir(exist_ok=True)
    labels = root / "data" / "labels.jsonl"
    if not labels.exists():
        labels.write_text(tiny_texts(60))
    # A script file, so that the provenance names one (the validator requires it).
    script = root / "analysis" / "sae_probe.py"
    script.parent.mkdir(exist_ok=True)
    script.write_text("# the probe's script\n")
    settings = dict(
        probe_id="sae_tiny",
        model_id=str(tiny_model_dir),
        labels_path="data/labels.jsonl",
        layer=1,
        n_examples=20,
        seeds=[0, 1, 2],
        train_steps=300,
        n_bootstrap=300,
        n_permutations=100,
        device="cpu",
        script_path=str(script),
    )
    settings.update(changes)
    return SaeFeatureLookupConfig(**settings)


def read_events(root):
    return [json.loads(line) for line in (root / "cache" / "events.jsonl").read_text().splitlines()]


def validate_with_java(path):
    if not JAR.is_file():
        pytest.skip(f"{JAR} is missing (build it with mvn -B -q package -DskipTests); results checked in Python only")
    completed = subprocess.run(["java", "-jar", str(JAR), "probe", "validate", str(path)], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_tiny_model_lookup_end_to_end(tmp_path, tiny_model_dir):
    config = tiny_config(tmp_path, tiny_model_dir, target_label="cat", target_token="dog")
    path = run_sae_feature_lookup(config, tmp_path)
    results = json.loads(path.read_text())

    assert results["intervention"] == "sae_feature_lookup"
    assert results["backend"] == "transformer_lens"
    assert results["layers"] == [1]
    assert results["hook_name"] == "blocks.1.hook_resid_post"
    assert results["metric"] == results["primary_metric"] == "top_feature_label_auroc"
    assert [block["target"] for block in results["label_associations"]] == ["cat"]
    assert results["status"] == "exploratory"
    assert results["n_examples"] == 20
    assert len(results["values_per_seed"]) == 3
    lo, hi = results["ci_per_layer"][0]
    assert lo <= results["values_per_layer"][0] == results["mean"] <= hi
    assert len(results["alternative_explanations_not_ruled_out"]) >= 2
    # The label is "the last word is cat": a feature at the last token separates it.
    assert results["mean"] > results["label_associations"][0]["permutation_control"]["max_auroc_p95"]
    token = results["token_association"]
    assert token["target"] == "dog"
    assert token["unit"] == "token position"
    assert token["top_features"][0]["auroc"] > token["permutation_control"]["max_auroc_p95"]
    # Every analysed token is a real token after BOS: one per word of each text.
    texts = [json.loads(line)["text"] for line in (tmp_path / "data" / "labels.jsonl").read_text().splitlines()]
    assert results["n_tokens"] <= sum(len(text.split()) for text in texts)
    density = results["feature_density"]
    assert len(density["per_feature"]) == results["sae"]["d_sae"] == 4 * 32
    assert sum(density["histogram_counts"]) + density["n_dead"] == results["sae"]["d_sae"]
    for feature in results["features"]:
        examples = feature["top_examples"]
        assert 0 < len(examples) <= 10
        assert [e["activation"] for e in examples] == sorted((e["activation"] for e in examples), reverse=True)
        assert all(len(e["context"]) <= 8 and e["position"] >= 1 for e in examples)
    assert results["artifacts"] == [
        "results/probe/sae_tiny_sae/sae_weights.safetensors",
        "results/probe/sae_tiny_sae/cfg.json",
        "results/probe/sae_tiny.png",
    ]
    assert all((tmp_path / artifact).is_file() for artifact in results["artifacts"])
    assert results["sae"]["source"] == "trained"
    assert results["sae"]["path"] == "results/probe/sae_tiny_sae"
    assert results["reconstruction"]["evaluation_split"].startswith("held-out texts")
    assert [e["event"] for e in read_events(tmp_path)].count("cache.miss") == 1

    # A rerun reads the activations from the cache and trains the same SAE again.
    rerun = json.loads(run_sae_feature_lookup(config, tmp_path).read_text())
    events = [e["event"] for e in read_events(tmp_path)]
    assert events.count("cache.hit") == 1
    assert events.count("cache.miss") == 1
    assert rerun["top_feature"] == results["top_feature"]
    assert rerun["reconstruction"]["explained_variance"] == results["reconstruction"]["explained_variance"]

    # The saved SAE, loaded from disk, gives the same feature activations, hence the same top feature.
    loaded = json.loads(
        run_sae_feature_lookup(
            tiny_config(tmp_path, tiny_model_dir, probe_id="sae_tiny_loaded", target_label="cat", sae_path="results/probe/sae_tiny_sae"), tmp_path
        ).read_text()
    )
    assert loaded["sae"]["source"] == "loaded"
    assert loaded["top_feature"]["feature"] == results["top_feature"]["feature"]
    assert loaded["top_feature"]["auroc"] == pytest.approx(results["top_feature"]["auroc"], abs=1e-12)
    assert loaded["artifacts"] == ["results/probe/sae_tiny_loaded.png"]

    # Texts without labels and a target token: the token association is the primary metric.
    (tmp_path / "data" / "texts.jsonl").write_text(tiny_texts(30, seed=1, labelled=False))
    token_only = run_sae_feature_lookup(
        tiny_config(tmp_path, tiny_model_dir, probe_id="sae_tiny_token", labels_path="data/texts.jsonl", target_token="dog", sae_path="results/probe/sae_tiny_sae"),
        tmp_path,
    )
    token_results = json.loads(token_only.read_text())
    assert token_results["metric"] == "top_feature_token_auroc"
    assert token_results["label_associations"] == []
    assert token_results["mean"] == token_results["token_association"]["top_features"][0]["auroc"]
    assert token_results["shuffled_control_mean"] == token_results["token_association"]["permutation_control"]["max_auroc_mean"]
    validate_with_java(path)
    validate_with_java(token_only)


def tiny_sae_folder(root, d_in, hook):
    x, _ = planted_activations(n_tokens=300, d_in=d_in, n_features=8)
    folder = root / "saes" / f"width{d_in}"
    save_sae(train_sae(x, 16, steps=5), folder, hook_name=hook, model_name="tiny", prepend_bos=True, context_size=64)
    return folder


@pytest.fixture()
def no_activations(monkeypatch):
    def reject(*args, **kwargs):
        raise AssertionError("activations were computed although the input is invalid")

    monkeypatch.setattr(sae_feature_lookup, "cache_activations", reject)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"sae_path": "WIDTH16"}, r"takes inputs of width d_in=16, but the model's hook blocks\.1\.hook_resid_post has width 32"),
        ({"sae_path": "HOOK_PRE0"}, r"trained on hook 'blocks\.0\.hook_resid_pre', but this probe reads 'blocks\.1\.hook_resid_post'"),
        ({"target_token": "cat dog"}, r"target_token 'cat dog' is not a single token: the tokenizer splits it into 2 tokens"),
        ({"target_token": "zebra"}, r"target_token 'zebra' is not in the tokenizer's vocabulary"),
        ({"layer": 2}, r"layer 2 is out of range: blocks of this 2-layer model are 0\.\.1"),
    ],
)
def test_invalid_input_fails_before_activations(tmp_path, tiny_model_dir, no_activations, changes, message):
    if changes.get("sae_path") == "WIDTH16":
        changes["sae_path"] = str(tiny_sae_folder(tmp_path, 16, "blocks.1.hook_resid_post"))
    elif changes.get("sae_path") == "HOOK_PRE0":
        changes["sae_path"] = str(tiny_sae_folder(tmp_path, 32, "blocks.0.hook_resid_pre"))
    with pytest.raises(ValueError, match=message):
        run_sae_feature_lookup(tiny_config(tmp_path, tiny_model_dir, **changes), tmp_path)
    assert not (tmp_path / "results").exists()
    assert read_events(tmp_path)[-1]["error_type"] == "ValueError"


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"target_label": "nope"}, r"target_label 'nope' is not a label in data/labels\.jsonl \(labels found: 'cat', 'other'\)"),
        ({"hook": "resid_final"}, r"unknown hook 'resid_final': choose one of resid_post, resid_pre, resid_mid, attn_out, mlp_out"),
        ({"sae_path": "saes/empty"}, r"SAE folder .*saes/empty has no cfg\.json and no sae_weights\.safetensors"),
        ({"layer": -1}, r"layer must be one block index >= 0, got -1"),
    ],
)
def test_invalid_input_fails_before_the_model_loads(tmp_path, tiny_model_dir, monkeypatch, changes, message):
    def reject(*args, **kwargs):
        raise AssertionError("the model was loaded although the input is invalid")

    monkeypatch.setattr(sae_feature_lookup, "load_hooked_model", reject)
    (tmp_path / "saes" / "empty").mkdir(parents=True)
    with pytest.raises(ValueError, match=message):
        run_sae_feature_lookup(tiny_config(tmp_path, tiny_model_dir, **changes), tmp_path)
    assert not (tmp_path / "results").exists()


def test_seed_without_both_classes_fails(tmp_path, tiny_model_dir, monkeypatch):
    monkeypatch.setattr(sae_feature_lookup, "load_hooked_model", lambda *a, **k: pytest.fail("model loaded"))
    (tmp_path / "data").mkdir()
    lines = [json.dumps({"text": "the cat", "label": "a"})] * 6 + [json.dumps({"text": "a dog", "label": "b"})]
    (tmp_path / "data" / "labels.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"seed \d drew 2 labelled text\(s\) from data/labels\.jsonl, \d with label 'b'"):
        run_sae_feature_lookup(tiny_config(tmp_path, tiny_model_dir, n_examples=2), tmp_path)


# ---------------------------------------------------------------------------------------
# The demo model


def demo_labels_text():
    """The demo labels file, or (while it does not exist) texts over the demo vocabulary labelled by whether
    the final word already occurred earlier."""
    if DEMO_LABELS.is_file():
        return DEMO_LABELS.read_text(encoding="utf-8")
    sys.path.insert(0, str(REPO_ROOT / "python" / "demo"))
    import induction_task

    rng = np.random.default_rng(7)
    lines = []
    for index in range(240):
        words = induction_task.sample_span(rng, induction_task.WORDS, int(rng.integers(8, 16)))
        if index % 2:
            words[-1] = words[int(rng.integers(0, len(words) - 2))]
        lines.append(json.dumps({"text": " ".join(words), "label": bool(index % 2)}))
    return "\n".join(lines) + "\n"


def test_demo_model_finds_a_feature_for_the_label(tmp_path):
    text = demo_labels_text()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "labels.jsonl").write_text(text)
    script = tmp_path / "analysis" / "sae_demo.py"
    script.parent.mkdir()
    script.write_text("# the probe's script\n")
    n_per_seed = min(64, sum(1 for line in text.splitlines() if line.strip()) // 3)
    config = SaeFeatureLookupConfig(
        probe_id="sae_demo",
        model_id=str(DEMO_MODEL),
        labels_path="data/labels.jsonl",
        layer=1,
        n_examples=n_per_seed,
        n_bootstrap=1000,
        n_permutations=200,
        device="cpu",
        hypothesis="a layer-1 feature marks a final word that occurred earlier",
        script_path=str(script),
    )

    path = run_sae_feature_lookup(config, tmp_path)
    results = json.loads(path.read_text())
    print(
        "demo:", {key: results["reconstruction"][key] for key in ("explained_variance", "mean_l0", "dead_fraction")},
        results["top_feature"], results["label_associations"][0]["permutation_control"],
    )

    assert results["status"] == ("result" if n_per_seed >= 64 else "exploratory")
    assert results["reconstruction"]["explained_variance"] > 0.5
    block = results["label_associations"][0]
    assert results["top_feature"]["auroc"] > block["permutation_control"]["max_auroc_p95"]
    assert results["ci_95"][0] > 0.5
    assert results["effect_size"] > 0
    assert results["sae"]["training"]["n_training_tokens"] > 0
    validate_with_java(path)


# ---------------------------------------------------------------------------------------
# The template

TEMPLATE = REPO_ROOT / "templates" / "sae_feature_lookup.py.mustache"
TEMPLATE_VARIABLES = {
    "tool_version", "generated_on", "package", "probe_id_literal", "model_id_literal", "labels_path_literal",
    "layers_literal", "n_examples", "seeds_literal", "dtype_literal", "hypothesis_literal", "hook_literal",
    "sae_path_literal", "sae_width_literal", "target_label_literal", "target_token_literal", "top_k",
 "research_question_literal",
}


def render_project(tmp_path, tiny_model_dir, **overrides):
    import shutil

    from test_templates import COMMON, render

    text = TEMPLATE.read_text(encoding="utf-8")
    assert set(re.findall(r"\{\{(\w+)\}\}", text)) == TEMPLATE_VARIABLES
    package = "sae_study"
    code = tmp_path / "code"
    package_dir = code / "src" / package
    shutil.copytree(REPO_ROOT / "python" / "auto_research_probe", package_dir / "probe_runtime", ignore=shutil.ignore_patterns("__pycache__"))
    (package_dir / "__init__.py").write_text("", encoding="utf-8")
    values = {**COMMON, "package": package}
    (package_dir / "probe.py").write_text(render((REPO_ROOT / "templates" / "probe.py.mustache").read_text(), values), encoding="utf-8")
    shutil.copytree(tiny_model_dir, code / "models" / "tiny")
    (code / "data").mkdir()
    (code / "data" / "texts.jsonl").write_text(tiny_texts(24, labelled=False))
    script = code / "analysis" / "sae_feature_lookup_20261204.py"
    script.parent.mkdir()
    literals = {
        **values,
        "probe_id_literal": repr("sae_template"),
        "model_id_literal": repr("models/tiny"),
        "labels_path_literal": repr("data/texts.jsonl"),
        "layers_literal": "[0]",
        "n_examples": 8,
        "seeds_literal": "[0, 1, 2]",
        "dtype_literal": repr("float32"),
        "hypothesis_literal": repr('SAE """features""" \\ of {{slug}}'),
        "hook_literal": repr("mlp_out"),
        "sae_path_literal": "None",
        "sae_width_literal": "48",
        "target_label_literal": "None",
        "target_token_literal": "None",
        "top_k": 5,
        **overrides,
    }
    script.write_text(render(text, literals), encoding="utf-8")
    return code, package, script


def run_script(code, package, script, monkeypatch):
    import runpy

    monkeypatch.syspath_prepend(str(code / "src"))
    try:
        with pytest.raises(SystemExit) as exited:
            runpy.run_path(str(script), run_name="__main__")
    finally:
        for name in [name for name in sys.modules if name == package or name.startswith(package + ".")]:
            del sys.modules[name]
    return exited.value.code


def test_template_renders_and_runs_without_labels(tmp_path, tiny_model_dir, monkeypatch):
    code, package, script = render_project(tmp_path, tiny_model_dir)
    assert run_script(code, package, script, monkeypatch) == 0
    results = json.loads((code / "results" / "probe" / "sae_template.json").read_text(encoding="utf-8"))
    # No labels and no target token: the primary metric is the SAE's explained variance.
    assert results["metric"] == "explained_variance"
    assert results["label_associations"] == []
    assert results["token_association"] is None
    assert results["hypothesis"] == 'SAE """features""" \\ of {{slug}}'
    assert results["layers"] == [0]
    assert results["hook_name"] == "blocks.0.hook_mlp_out"
    assert results["sae"]["d_sae"] == 48
    assert all(len(feature["top_examples"]) <= 5 for feature in results["features"])
    assert results["provenance"]["script"] == "analysis/sae_feature_lookup_20261204.py"
    assert results["shuffled_control_mean"] < results["mean"]
    validate_with_java(code / "results" / "probe" / "sae_template.json")
    from sae_lens import SAE

    assert SAE.load_from_disk(code / "results" / "probe" / "sae_template_sae").cfg.d_sae == 48


def test_template_exits_2_on_a_bad_target(tmp_path, tiny_model_dir, monkeypatch, capsys):
    code, package, script = render_project(tmp_path, tiny_model_dir, target_label_literal=repr("positive"))
    assert run_script(code, package, script, monkeypatch) == 2
    assert "target_label 'positive' is not a label in data/texts.jsonl (labels found: none)" in capsys.readouterr().err
