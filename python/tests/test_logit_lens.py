import json

import numpy as np
import pytest
import torch

from auto_research_probe.logit_lens import (
    LogitLensConfig,
    compute_lens_logits,
    log_prob_of_correct_token,
    rank_of_correct_token,
    run_logit_lens,
)

pytestmark = pytest.mark.torch


def tokens_for(model, text):
    from auto_research_probe.models import tokenize_prompt

    return torch.tensor([tokenize_prompt(model, text)])


def test_lens_last_layer_equals_logits(hooked_model):
    tokens = tokens_for(hooked_model, "the cat sat on the mat and the dog ran")
    with torch.no_grad():
        logits, cache = hooked_model.run_with_cache(tokens)
        lens = compute_lens_logits(hooked_model, cache["blocks.1.hook_resid_post"])
    assert (lens - logits).abs().max().item() <= 1e-4


def test_lens_fresh_norm_differs_from_reused_scale(hooked_model):
    tokens = tokens_for(hooked_model, "the cat sat on the mat and the dog ran")
    with torch.no_grad():
        _, cache = hooked_model.run_with_cache(tokens)
        resid = cache["blocks.0.hook_resid_pre"]
        fresh = compute_lens_logits(hooked_model, resid)
        final_scale = cache["ln_final.hook_scale"]
        centred = resid - resid.mean(dim=-1, keepdim=True)
        reused = hooked_model.unembed(centred / final_scale)
        own_scale = (centred.pow(2).mean(dim=-1, keepdim=True) + hooked_model.cfg.eps).sqrt()
    assert not torch.allclose(own_scale, final_scale, rtol=0.05)
    assert (fresh - reused).abs().max().item() > 1e-2
    assert torch.allclose(fresh, hooked_model.unembed(centred / own_scale), atol=1e-5)


def test_rank_one_for_forced_token(model_copy):
    forced = 9
    with torch.no_grad():
        model_copy.unembed.b_U[forced] += 1000.0
        logits = model_copy(tokens_for(model_copy, "the cat sat"))[:, -1, :]
    ranks = rank_of_correct_token(logits, torch.tensor([forced]))
    assert ranks.tolist() == [1]
    assert log_prob_of_correct_token(logits, torch.tensor([forced])).item() > -1e-3


def test_rank_matches_sorted_position():
    logits = torch.randn(5, 50, generator=torch.Generator().manual_seed(0))
    correct = torch.tensor([0, 7, 13, 49, 21])
    order = logits.argsort(dim=-1, descending=True)
    expected = [(order[row] == correct[row]).nonzero().item() + 1 for row in range(5)]
    assert rank_of_correct_token(logits, correct).tolist() == expected


def test_rank_ties_count_in_favour():
    logits = torch.tensor([[1.0, 3.0, 3.0, 0.0]])
    assert rank_of_correct_token(logits, torch.tensor([2])).tolist() == [1]
    assert rank_of_correct_token(logits, torch.tensor([0])).tolist() == [3]


def test_metrics_reject_bad_shapes():
    with pytest.raises(ValueError, match="expected logits"):
        rank_of_correct_token(torch.zeros(2, 5), torch.tensor([1]))
    with pytest.raises(ValueError, match="0..4"):
        log_prob_of_correct_token(torch.zeros(1, 5), torch.tensor([5]))


def write_prompts(path, count):
    words = ["cat", "dog", "bird", "tree", "mat", "house"]
    lines = []
    for index in range(count):
        a, b = words[index % 6], words[(index // 6) % 6]
        if index % 2:
            lines.append(json.dumps({"prompt": f"the {a} sat on the {b} and the {a}", "answer": "sat"}))
        else:
            lines.append(json.dumps({"prompt": f"a {b} ran to the {a} then a {b} ran"}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_run_logit_lens_results_file(tiny_model_dir, tmp_path, monkeypatch):
    import shutil

    monkeypatch.delenv("AUTO_RESEARCH_RUN_ID", raising=False)
    shutil.copytree(tiny_model_dir, tmp_path / "models" / "tiny")
    (tmp_path / "data").mkdir()
    write_prompts(tmp_path / "data" / "prompts.jsonl", 20)
    config = LogitLensConfig(
        probe_id="logit_lens_tiny",
        model_id="models/tiny",
        prompts_path="data/prompts.jsonl",
        n_examples=8,
        seeds=(0, 1, 2),
        n_bootstrap=500,
        device="cpu",
    )
    path = run_logit_lens(config, tmp_path)
    assert path == tmp_path / "results" / "probe" / "logit_lens_tiny.json"
    results = json.loads(path.read_text(encoding="utf-8"))
    assert results["layers"] == [0, 1, 2]
    assert results["status"] == "exploratory"
    # 20 prompts shared by 3 seeds without overlap leave 6 per seed, fewer than the 8 requested.
    assert results["n_examples"] == 6
    assert len(results["values_per_layer"]) == 3
    assert all(lo <= value <= hi for value, (lo, hi) in zip(results["values_per_layer"], results["ci_per_layer"]))
    assert len(results["values_per_seed"]) == 3
    assert results["mean"] == results["values_per_layer"][-1]
    assert results["secondary_metrics"]["log_prob_of_correct_token"]["values_per_layer"][-1] < 0
    assert len(set(results["alternative_explanations_not_ruled_out"])) == 2
    assert (tmp_path / results["artifacts"][0]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert results["provenance"]["weights_sha256"]
    assert results["backend"] == "transformer_lens"
    assert "precision_check" not in results
    assert results["provenance"]["remote"] is False
    assert results["provenance"]["device_map"] is None
    assert np.isfinite(results["shuffled_control_mean"])
    assert results["layer_semantics"].endswith("Each prompt starts with one BOS token.")

    events = [json.loads(line) for line in (tmp_path / "cache" / "events.jsonl").read_text().splitlines()]
    assert [line["event"] for line in events].count("cache.miss") == 3
    run_logit_lens(config, tmp_path)
    events = [json.loads(line) for line in (tmp_path / "cache" / "events.jsonl").read_text().splitlines()]
    assert [line["event"] for line in events].count("cache.hit") == 3


def test_run_logit_lens_rejects_bad_layers(tiny_model_dir, tmp_path):
    (tmp_path / "data").mkdir()
    write_prompts(tmp_path / "data" / "p.jsonl", 4)
    config = LogitLensConfig(probe_id="bad_layers", model_id=str(tiny_model_dir), prompts_path="data/p.jsonl", layers=[0, 5], device="cpu")
    with pytest.raises(ValueError, match=r"0\.\.2"):
        run_logit_lens(config, tmp_path)
    assert not (tmp_path / "results" / "probe" / "bad_layers.json").exists()
    events = [json.loads(line) for line in (tmp_path / "cache" / "events.jsonl").read_text().splitlines()]
    assert events[-1]["event"] == "probe.error"
    assert events[-1]["error_type"] == "ValueError"


def test_unknown_answer_token_rejected(hooked_model):
    from auto_research_probe.datasets import PromptExample
    from auto_research_probe.logit_lens import prepare_example

    example = PromptExample(prompt="the cat sat", answer=" zzzznotaword", line_number=7)

    with pytest.raises(ValueError, match="line 7.*not in the model's vocabulary"):
        prepare_example(hooked_model, example)
