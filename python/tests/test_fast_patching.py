"""The fast exact patching sweep and attribution patching, against TransformerLens and first principles.

Equality is checked on pairs whose answer and wrong answer are the tokens the corruption
lowers and raises most at the last position. The clean-corrupted gap is then a sizeable
part of the logits, so the normalised effect is well conditioned. With a gap of 0.2% of
the logits' size, rounding alone (two float32 evaluation orders) moves it by about 1e-5.
"""

import copy
import json
import subprocess
from functools import partial

import numpy as np
import pytest
import torch

from auto_research_probe import activation_patching as ap
from auto_research_probe import fast_patching as fp
from auto_research_probe.pairs import PatchingPair, load_pairs_jsonl, logit_diff, pair_tensors, prepare_pairs
from test_activation_patching import DEMO_MODEL, DEMO_PAIRS, JAR, demo_config

pytestmark = pytest.mark.torch
TOLERANCE = 1e-5


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def demo_model():
    from auto_research_probe.models import load_hooked_model

    return load_hooked_model(str(DEMO_MODEL), device="cpu")


def build_model(**changes):
    """Build a small HookedTransformer with random weights (TransformerLens initialisation, seed 0)."""
    from transformer_lens import HookedTransformer, HookedTransformerConfig

    values = dict(
        n_layers=3, d_model=32, n_heads=4, d_head=8, d_mlp=64, n_ctx=32, d_vocab=50,
        act_fn="gelu_new", normalization_type="LN", seed=0, device="cpu",
    )
    values.update(changes)
    model = HookedTransformer(HookedTransformerConfig(**values))
    model.eval()
    model.requires_grad_(False)
    return model


def wide_gap_pairs(model, n, length, seed=0, first_token=0):
    """Draw random pairs (about half the positions after the first corrupted) and choose answers for a wide gap."""
    generator = torch.Generator().manual_seed(seed)
    vocab = model.cfg.d_vocab
    clean = torch.randint(first_token, vocab, (n, length), generator=generator)
    corrupted = clean.clone()
    for row in range(n):
        positions = 1 + torch.randperm(length - 1, generator=generator)[: max(1, length // 2)]
        corrupted[row, positions] = torch.randint(first_token, vocab, (len(positions),), generator=generator)
    with torch.no_grad():
        change = model(clean)[:, -1] - model(corrupted)[:, -1]
    answers, wrongs = change.argmax(-1), change.argmin(-1)
    return [
        PatchingPair(clean[i].tolist(), corrupted[i].tolist(), int(answers[i]), int(wrongs[i]), i + 1) for i in range(n)
    ]


def tl_sweeps(model, pairs, sites):
    """Run TransformerLens's patching functions on one batch, with the batch-mean normalised metric."""
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
    functions = {
        "resid_pre": lambda: patching.get_act_patch_resid_pre(*args),
        "attn_out": lambda: patching.get_act_patch_attn_out(*args),
        "mlp_out": lambda: patching.get_act_patch_mlp_out(*args),
        "head_out": lambda: patching.get_act_patch_attn_head_out_all_pos(*args),
        "attn_out_all_pos": lambda: by_layer(*args, activation_name="attn_out"),
        "mlp_out_all_pos": lambda: by_layer(*args, activation_name="mlp_out"),
    }
    with torch.no_grad():
        return {site: functions[site]().double().numpy() for site in sites}


def assert_equal_to_transformer_lens(model, pairs, sites, batch_size, engine="fast"):
    reference = tl_sweeps(model, pairs, sites)
    clean, corrupted = ap.baseline_logit_diffs(model, pairs, batch_size)
    patched = ap.patched_logit_diffs(model, pairs, sites, batch_size=batch_size, engine=engine)
    for site in sites:
        ours = ap.normalise(patched[site], clean, corrupted)
        assert ours.shape == reference[site].shape, site
        assert np.abs(ours - reference[site]).max() <= TOLERANCE, (site, np.abs(ours - reference[site]).max())
        # Not vacuous: every sweep has cells far above the tolerance.
        assert np.abs(ours).max() > 1000 * TOLERANCE, site


def test_fast_sweeps_match_tiny_gpt2(hooked_model):
    # Special tokens (pad, unk, bos, eos) are ids 0..3 of the tiny tokenizer. Prompts use words only.
    pairs = wide_gap_pairs(hooked_model, 6, 6, seed=3, first_token=4)
    assert ap.exact_engine(hooked_model, pairs) == ("fast", None)
    # Sub-batches of 4 (6 pairs), so two sub-batches of different sizes are covered.
    assert_equal_to_transformer_lens(hooked_model, pairs, ap.SITES, batch_size=4, engine="fast")
    assert_equal_to_transformer_lens(hooked_model, pairs, ap.SITES, batch_size=4, engine="reference")


def test_fast_sweeps_match_demo_model(demo_model):
    pairs = prepare_pairs(demo_model, load_pairs_jsonl(DEMO_PAIRS)[:10])
    assert_equal_to_transformer_lens(demo_model, pairs, ap.SITES, batch_size=4, engine="fast")


CONFIGS = {
    # No MLP: the sweep skips the MLP after a patched attention output.
    "attn_only": dict(attn_only=True),
    # LayerNorm not folded (normalization_type LN with its weights) and rotary positions.
    "layernorm_unfolded_rotary": dict(positional_embedding_type="rotary", rotary_dim=8),
    # RMS norm, gated MLP, per-head attention results, grouped keys and values, soft caps.
    "rms_gated_gqa_softcap": dict(
        normalization_type="RMS", gated_mlp=True, act_fn="silu", use_attn_result=True, n_key_value_heads=2,
        positional_embedding_type="rotary", rotary_dim=8, attn_scores_soft_cap=5.0, output_logits_soft_cap=3.0,
    ),
    # No normalisation at all, and QK normalisation inside attention.
    "no_norm_qk_norm": dict(normalization_type=None, use_qk_norm=True),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_fast_sweeps_match_other_configs(name):
    model = build_model(**CONFIGS[name])
    pairs = wide_gap_pairs(model, 5, 7, seed=1)
    assert ap.exact_engine(model, pairs) == ("fast", None)
    sites = [site for site in ap.SITES if not (model.cfg.attn_only and site in ap.MLP_SITES)]
    assert_equal_to_transformer_lens(model, pairs, sites, batch_size=3)


def test_mixed_lengths_match_per_bucket(hooked_model):
    pairs = wide_gap_pairs(hooked_model, 3, 5, seed=1, first_token=4) + wide_gap_pairs(hooked_model, 3, 8, seed=2, first_token=4)
    sites = ["attn_out_all_pos", "mlp_out_all_pos", "head_out"]
    fast = ap.patched_logit_diffs(hooked_model, pairs, sites, batch_size=2, engine="fast")
    clean, corrupted = ap.baseline_logit_diffs(hooked_model, pairs)
    for bucket in ([0, 1, 2], [3, 4, 5]):
        reference = tl_sweeps(hooked_model, [pairs[i] for i in bucket], sites)
        for site in sites:
            ours = ap.normalise(fast[site][..., bucket], clean[bucket], corrupted[bucket])
            assert np.abs(ours - reference[site]).max() <= TOLERANCE, site


@pytest.mark.parametrize(
    "changes, reason",
    [
        (dict(use_split_qkv_input=True), "use_split_qkv_input"),
        (dict(positional_embedding_type="shortformer"), "positional_embedding_type 'shortformer'"),
        (dict(parallel_attn_mlp=True), "parallel_attn_mlp"),
    ],
)
def test_unsupported_configs_use_reference_loop(changes, reason):
    model = build_model(**changes)
    pairs = wide_gap_pairs(model, 4, 6, seed=1)
    engine, why = ap.exact_engine(model, pairs)
    assert engine == "reference"
    assert reason in why
    with pytest.raises(ValueError, match=rf"the fast patching sweep cannot run here: .*{reason}"):
        ap.patched_logit_diffs(model, pairs, ["head_out"], engine="fast")
    # The default engine runs the reference loop and still gives TransformerLens's numbers.
    assert_equal_to_transformer_lens(model, pairs, ["head_out", "resid_pre"], batch_size=4, engine="auto")


def test_hooks_and_left_padding_fall_back(model_copy):
    pairs = wide_gap_pairs(model_copy, 2, 5, seed=1, first_token=4)
    model_copy.blocks[0].hook_attn_out.add_hook(lambda activation, hook: activation)
    assert "blocks.0.hook_attn_out" in ap.exact_engine(model_copy, pairs)[1]
    model_copy.reset_hooks()
    assert ap.exact_engine(model_copy, pairs) == ("fast", None)
    # A left-padding tokenizer makes TransformerLens mask leading pad tokens (id 0 here).
    model_copy.tokenizer.padding_side = "left"
    assert ap.exact_engine(model_copy, pairs) == ("fast", None)
    padded = [PatchingPair([0] + pair.clean_ids[1:], [0] + pair.corrupted_ids[1:], pair.answer_id, pair.wrong_id, 1) for pair in pairs]
    engine, why = ap.exact_engine(model_copy, padded)
    assert engine == "reference"
    assert "pad tokens" in why


def count_mlp_positions(model):
    """Count positions through each block's MLP (every full or partial block evaluation), with torch hooks."""
    counted = {"positions": 0}

    def hook(module, inputs, output):
        counted["positions"] += inputs[0].shape[0] * inputs[0].shape[1]

    handles = [block.mlp.register_forward_hook(hook) for block in model.blocks]
    return counted, handles


def test_fast_sweep_needs_less_work(demo_model):
    pairs = prepare_pairs(demo_model, load_pairs_jsonl(DEMO_PAIRS)[:8])
    n_layers, n_positions = demo_model.cfg.n_layers, len(pairs[0].clean_ids)
    counted, handles = count_mlp_positions(demo_model)
    try:
        work = fp.WorkCount()
        ap.patched_logit_diffs(demo_model, pairs, ap.SITES, batch_size=8, engine="fast", work=work)
        fast_positions = counted["positions"]
        counted["positions"] = 0
        ap.patched_logit_diffs(demo_model, pairs, ap.SITES, batch_size=8, engine="reference")
        reference_positions = counted["positions"]
    finally:
        for handle in handles:
            handle.remove()
    cells = sum(np.prod(ap._cells(demo_model, site, n_positions)) for site in ap.SITES) * n_layers
    # The reference loop: a clean run, then one full forward pass per patch.
    assert reference_positions == (cells + 1) * len(pairs) * n_positions * n_layers
    # WorkCount counts the sweep's own evaluations; the hooks also see the clean run.
    assert fast_positions == work.block_positions + len(pairs) * n_positions * n_layers
    # Floor of these sweeps on this model: 37.75 of the 108 patches' forward passes.
    assert fast_positions < 0.3 * reference_positions
    assert work.passes < cells


def test_pass_size_keeps_values(demo_model):
    pairs = prepare_pairs(demo_model, load_pairs_jsonl(DEMO_PAIRS)[:3])
    clean_tokens, corrupted_tokens, answers, wrongs = pair_tensors(pairs)
    layers = list(range(demo_model.cfg.n_layers))
    names = {fp.SITE_HOOKS[site].format(layer=layer) for site in fp.SITES for layer in layers}
    with torch.no_grad():
        _, clean = demo_model.run_with_cache(clean_tokens, names_filter=lambda name: name in names, return_cache_object=False)
    works = {}
    values = {}
    # One huge pass per position, against one patch (and one head) per pass.
    for tokens_per_pass in (10**6, 1):
        works[tokens_per_pass] = fp.WorkCount()
        values[tokens_per_pass] = fp.fast_patched_logit_diffs(
            demo_model, corrupted_tokens, answers, wrongs, clean, fp.SITES, layers,
            tokens_per_pass=tokens_per_pass, work=works[tokens_per_pass],
        )
    for site in fp.SITES:
        assert torch.allclose(values[1][site], values[10**6][site], atol=1e-5), site
    assert works[1].passes > 2 * works[10**6].passes
    with pytest.raises(ValueError, match="tokens_per_pass must be positive"):
        fp.fast_patched_logit_diffs(demo_model, corrupted_tokens, answers, wrongs, clean, ["head_out"], layers, tokens_per_pass=0)


def test_attribution_matches_finite_differences(model_copy):
    model = model_copy
    model.to(torch.float64)
    pairs = wide_gap_pairs(model, 3, 5, seed=4, first_token=4)
    clean_tokens, corrupted_tokens, answers, wrongs = pair_tensors(pairs)
    estimates = ap.attribution_patched_logit_diffs(model, pairs, ap.SITES, batch_size=2)
    with torch.no_grad():
        _, clean_cache = model.run_with_cache(clean_tokens)
        corrupted_diff = logit_diff(model(corrupted_tokens), answers, wrongs)

    def moved(site, layer, cell, step):
        """Return the logit difference with the patched entries moved `step` of the way to their clean values."""
        name = ap._HOOKS[site].format(layer=layer)

        def hook(activation, hook):
            if site in ap.POSITIONAL_SITES:
                index = (slice(None), cell[0])
            elif site == "head_out":
                index = (slice(None), slice(None), cell[0])
            else:
                index = (slice(None),)
            out = activation.clone()
            out[index] = activation[index] + step * (clean_cache[name][index] - activation[index])
            return out

        with torch.no_grad():
            return logit_diff(model.run_with_hooks(corrupted_tokens, fwd_hooks=[(name, hook)]), answers, wrongs)

    step = 1e-4
    largest = 0.0
    for site in ap.SITES:
        for row, layer in enumerate(range(model.cfg.n_layers)):
            for cell in np.ndindex(*ap._cells(model, site, len(pairs[0].clean_ids))):
                slope = (moved(site, layer, cell, step) - moved(site, layer, cell, -step)) / (2 * step)
                linear = estimates[site][(row, *cell)] - corrupted_diff.numpy()
                assert np.abs(linear - slope.numpy()).max() <= 1e-7, (site, layer, cell)
                largest = max(largest, float(np.abs(linear).max()))
    # The linear terms are not all zero.
    assert largest > 0.1


def test_spearman_ranks():
    assert ap.spearman(np.array([1.0, 2.0, 3.0, 4.0]), np.array([10.0, 20.0, 25.0, 100.0])) == pytest.approx(1.0)
    assert ap.spearman(np.array([1.0, 2.0, 3.0]), np.array([3.0, 2.0, 1.0])) == pytest.approx(-1.0)
    assert ap.spearman(np.array([1.0, 1.0, 1.0]), np.array([3.0, 2.0, 1.0])) is None
    # Ties take average ranks: ranks (1.5, 1.5, 3) against (1, 2, 3).
    assert ap.spearman(np.array([0.0, 0.0, 1.0]), np.array([1.0, 2.0, 3.0])) == pytest.approx(np.sqrt(0.75))


def write_demo_pairs(tmp_path, count):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "pairs.jsonl").write_text("\n".join(DEMO_PAIRS.read_text().splitlines()[:count]) + "\n")


def test_attribution_run_reports_correlation(tmp_path, monkeypatch):
    monkeypatch.delenv("AUTO_RESEARCH_RUN_ID", raising=False)
    write_demo_pairs(tmp_path, 24)
    # The validator requires the generating script in the provenance.
    script = tmp_path / "analysis" / "activation_patching_demo.py"
    script.parent.mkdir()
    script.write_text("# stands in for the generated script\n", encoding="utf-8")
    config = demo_config(tmp_path, n_examples=8, seeds=(0, 1), n_bootstrap=50, method="attribution", script_path=str(script))
    path = ap.run_activation_patching(config, tmp_path)
    results = json.loads(path.read_text(encoding="utf-8"))
    assert results["method"] == "attribution"
    assert results["exact_engine"] == "fast"
    assert "Attribution patching" in results["ci_method"]
    check = results["attribution_check"]
    assert check["n_examples"] == 8
    assert check["seed"] == 0
    assert "first seed" in check["sample"]
    assert check["n_cells"] == sum(np.asarray(results["sweeps"][site]["values"]).size for site in ap.SITES)
    assert -1.0 <= check["spearman"] <= 1.0
    assert set(check["spearman_per_sweep"]) == set(ap.SITES)
    assert all(value is None or -1.0 <= value <= 1.0 for value in check["spearman_per_sweep"].values())
    # The all-position sweeps have one cell per layer (2 here): too few for a rank correlation.
    assert check["n_cells_per_sweep"]["attn_out_all_pos"] == 2
    assert check["spearman_per_sweep"]["attn_out_all_pos"] is None
    assert check["spearman_per_sweep"]["head_out"] is not None
    assert results["status"] == "exploratory"
    assert check["max_abs_difference"] >= check["mean_abs_difference"] >= 0.0
    assert any("rank correlation with exact patching" in text for text in results["alternative_explanations_not_ruled_out"])
    assert np.asarray(results["sweeps"]["resid_pre"]["values"]).shape == (2, 16)
    events = [json.loads(line)["event"] for line in (tmp_path / "cache" / "events.jsonl").read_text().splitlines()]
    assert "patching.attribution_check" in events

    if JAR.is_file():
        completed = subprocess.run(["java", "-jar", str(JAR), "probe", "validate", str(path)], capture_output=True, text=True, timeout=120)
        assert completed.returncode == 0, completed.stdout + completed.stderr


def test_exact_run_names_engine(tmp_path, monkeypatch):
    monkeypatch.delenv("AUTO_RESEARCH_RUN_ID", raising=False)
    write_demo_pairs(tmp_path, 12)
    results = json.loads(ap.run_activation_patching(demo_config(tmp_path, n_examples=6, seeds=(0,), n_bootstrap=20), tmp_path).read_text())
    assert results["method"] == "exact"
    assert results["exact_engine"] == "fast"
    assert "exact_engine_fallback_reason" not in results
    assert "attribution_check" not in results


def test_unknown_method_rejected_early(tmp_path, monkeypatch):
    def no_load(*args, **kwargs):
        raise AssertionError("the model was loaded although the method is unknown")

    monkeypatch.setattr(ap, "load_hooked_model", no_load)
    write_demo_pairs(tmp_path, 4)
    with pytest.raises(ValueError, match=r"unknown method 'gradient': choose 'exact' .* or 'attribution'"):
        ap.run_activation_patching(demo_config(tmp_path, method="gradient"), tmp_path)
    assert not (tmp_path / "results").exists()


def test_unknown_engine_rejected(hooked_model):
    pairs = wide_gap_pairs(hooked_model, 2, 5, first_token=4)
    with pytest.raises(ValueError, match=r"unknown engine 'turbo': choose from auto, fast, reference"):
        ap.patched_logit_diffs(hooked_model, pairs, ["head_out"], engine="turbo")
