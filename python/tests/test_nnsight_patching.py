"""Activation patching on the nnsight backend agrees with TransformerLens on the demo model.

The trace functions under test are the generated script's own: the nnsight template is
rendered into a temporary project and imported from there, so a change to the template
is what these tests check. TransformerLens is the reference (`patched_logit_diffs` with
its reference engine, one full forward pass per patch).
"""

from __future__ import annotations

import importlib.util
import json
import os
import py_compile
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from auto_research_probe.activation_patching import (
    SITES,
    ActivationPatchingConfig,
    NnsightTraces,
    baseline_logit_diffs,
    derangement_sources,
    nnsight_baseline_logit_diffs,
    nnsight_patched_logit_diffs,
    normalise,
    patched_logit_diffs,
    run_activation_patching,
)
from auto_research_probe.pairs import PairRecord, load_pairs_jsonl, pair_tensors, prepare_pairs
from test_templates import COMMON, PACKAGE, RUNTIME, TEMPLATES, render

pytestmark = pytest.mark.torch

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_MODEL = REPO_ROOT / "python" / "demo" / "induction-demo-model"
DEMO_PAIRS = REPO_ROOT / "python" / "demo" / "pairs.jsonl"
# The largest difference allowed between the backends, on raw and on normalised logit differences.
TOLERANCE = 1e-4
N_PAIRS = 8


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # Tiny forward passes on a shared machine: one thread is faster. Restored afterwards.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def template_values(probe_id: str, **changes) -> dict:
    values = {
        **COMMON,
        "probe_id_literal": repr(probe_id),
        "model_id_literal": repr(str(DEMO_MODEL)),
        "pairs_path_literal": repr("data/pairs.jsonl"),
        "layers_literal": "None",
        "n_examples": 8,
        "seeds_literal": "[0, 1]",
        "dtype_literal": repr("float32"),
        "hypothesis_literal": repr("L1 heads copy the induced token"),
        "method_literal": repr("exact"),
        "remote_literal": "False",
        "device_map_literal": "None",
        "recheck_float32": 4,
    }
    values.update(changes)
    return values


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A research project's code/ folder with the runtime, demo pairs and both rendered scripts."""
    code = tmp_path_factory.mktemp("project") / "code"
    package_dir = code / "src" / PACKAGE
    import shutil

    shutil.copytree(RUNTIME, package_dir / "probe_runtime", ignore=shutil.ignore_patterns("__pycache__"))
    (package_dir / "__init__.py").write_text("", encoding="utf-8")
    (package_dir / "probe.py").write_text(render((TEMPLATES / "probe.py.mustache").read_text(), COMMON), encoding="utf-8")
    (code / "data").mkdir()
    lines = DEMO_PAIRS.read_text(encoding="utf-8").splitlines()[:24]
    (code / "data" / "pairs.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (code / "analysis").mkdir()
    (code / "analysis" / "patching_tl.py").write_text(
        render((TEMPLATES / "activation_patching.py.mustache").read_text(), template_values("patching_tl")), encoding="utf-8"
    )
    (code / "analysis" / "patching_nnsight.py").write_text(
        render((TEMPLATES / "activation_patching_nnsight.py.mustache").read_text(), template_values("patching_nnsight")),
        encoding="utf-8",
    )
    return code


@pytest.fixture(scope="module")
def script(project):
    """The rendered nnsight script, imported as a module (its sys.path entry is removed afterwards)."""
    path = project / "analysis" / "patching_nnsight.py"
    spec = importlib.util.spec_from_file_location("patching_nnsight_script", path)
    module = importlib.util.module_from_spec(spec)
    saved_path = list(sys.path)
    spec.loader.exec_module(module)
    sys.path[:] = saved_path
    return module


@pytest.fixture(scope="module")
def traces(script):
    return NnsightTraces(script.logit_diffs, script.clean_activations, script.patched_logit_diffs)


@pytest.fixture(scope="module")
def lm():
    from auto_research_probe.nnsight_backend import load_nnsight_lm

    return load_nnsight_lm(str(DEMO_MODEL), device="cpu")


@pytest.fixture(scope="module")
def tl_model():
    from auto_research_probe.models import load_hooked_model

    return load_hooked_model(str(DEMO_MODEL), device="cpu")


@pytest.fixture(scope="module")
def pairs(lm, tl_model):
    records = load_pairs_jsonl(DEMO_PAIRS)[:N_PAIRS]
    ours = prepare_pairs(lm, records)
    assert ours == prepare_pairs(tl_model, records), "both backends must tokenize the pairs alike"
    return ours


@pytest.fixture(scope="module")
def tl_sweeps(tl_model, pairs):
    return patched_logit_diffs(tl_model, pairs, SITES, batch_size=5, engine="reference")


@pytest.fixture(scope="module")
def nnsight_sweeps(lm, pairs, traces):
    return nnsight_patched_logit_diffs(lm, pairs, SITES, traces, batch_size=5)


def test_sweeps_agree_with_transformer_lens(lm, tl_model, pairs, traces, tl_sweeps, nnsight_sweeps):
    # Sub-batches of 5 (8 pairs), so batching across sub-batches is covered too.
    clean, corrupted = nnsight_baseline_logit_diffs(lm, pairs, traces, batch_size=5)
    tl_clean, tl_corrupted = baseline_logit_diffs(tl_model, pairs, batch_size=5)
    assert np.abs(clean - tl_clean).max() <= TOLERANCE
    assert np.abs(corrupted - tl_corrupted).max() <= TOLERANCE
    assert (clean - corrupted).min() > 5, "the demo pairs must have a wide clean-corrupted gap"

    for site in SITES:
        ours, reference = nnsight_sweeps[site], tl_sweeps[site]
        assert ours.shape == reference.shape, site
        assert np.abs(ours - reference).max() <= TOLERANCE, site
        difference = np.abs(normalise(ours, clean, corrupted) - normalise(reference, tl_clean, tl_corrupted)).max()
        assert difference <= TOLERANCE, site
        # Not vacuous: every sweep has patches that move the logit difference a long way.
        assert np.abs(ours - corrupted).max() > 5, site


def test_shuffled_sources_agree_with_transformer_lens(lm, tl_model, pairs, traces):
    sources, used = derangement_sources(pairs, [list(range(len(pairs)))], seed=0)
    assert used.all()
    ours = nnsight_patched_logit_diffs(lm, pairs, ["head_out"], traces, sources=sources)["head_out"]
    reference = patched_logit_diffs(tl_model, pairs, ["head_out"], sources=sources, engine="reference")["head_out"]
    assert np.abs(ours - reference).max() <= TOLERANCE
    own = nnsight_patched_logit_diffs(lm, pairs, ["head_out"], traces)["head_out"]
    assert np.abs(ours - own).max() > 1, "a shuffled source must change some patched values"


def test_mixed_lengths_run_in_buckets(lm, tl_model, traces):
    # Dropping the first word of three pairs gives a second token length, and each length runs in its own batches.
    records = load_pairs_jsonl(DEMO_PAIRS)[:6]
    shortened = [
        PairRecord(r.clean.split(" ", 1)[1], r.corrupted.split(" ", 1)[1], r.answer, r.wrong_answer, r.line_number) for r in records[3:]
    ]
    mixed = records[:3] + shortened
    nnsight_pairs, tl_pairs = prepare_pairs(lm, mixed), prepare_pairs(tl_model, mixed)
    assert sorted({len(pair.clean_ids) for pair in nnsight_pairs}) == [15, 16]
    sites = ["attn_out_all_pos", "head_out"]
    ours = nnsight_patched_logit_diffs(lm, nnsight_pairs, sites, traces)
    reference = patched_logit_diffs(tl_model, tl_pairs, sites, engine="reference")
    for site in sites:
        assert np.abs(ours[site] - reference[site]).max() <= TOLERANCE, site
    with pytest.raises(ValueError, match=r"one token length, got lengths \[15, 16\]"):
        nnsight_patched_logit_diffs(lm, nnsight_pairs, ["resid_pre"], traces)


def test_batch_of_two_equals_each_alone(lm, pairs, traces, nnsight_sweeps):
    # The transformers-5 trap: a block's output is a tensor, so `output[0]` is the first
    # prompt of the batch. A trace that indexed it so would give every row the first
    # pair's patch, and a batch of two would differ from each pair run alone.
    both = [0, 1]
    together = nnsight_patched_logit_diffs(lm, [pairs[i] for i in both], SITES, traces)
    for row, index in enumerate(both):
        alone = nnsight_patched_logit_diffs(lm, [pairs[index]], SITES, traces)
        for site in SITES:
            assert np.abs(together[site][..., row] - alone[site][..., 0]).max() <= 1e-5, (site, index)
            # The batch of eight (sub-batches of five) agrees too.
            assert np.abs(nnsight_sweeps[site][..., index] - alone[site][..., 0]).max() <= 1e-5, (site, index)
    for site in SITES:
        assert np.abs(together[site][..., 0] - together[site][..., 1]).max() > 1, f"{site}: the two pairs must differ"


def test_remote_local_equals_local_run(lm, pairs, traces):
    # remote="local" serialises every trace as for NDIF and runs it here.
    clean_tokens, corrupted_tokens, answers, wrongs = pair_tensors(pairs[:3])
    # Two cells per call, so the request carries two invokes with different patches.
    cells = {"resid_pre": [5, 9], "attn_out": [14, 3], "mlp_out": [15, 8], "attn_out_all_pos": [None], "mlp_out_all_pos": [None], "head_out": [2, 0]}

    def run_all():
        diffs = [traces.logit_diffs(lm, tokens, answers, wrongs) for tokens in (clean_tokens, corrupted_tokens)]
        acts = traces.clean_activations(lm, clean_tokens, SITES, [0, 1])
        for site, chosen in cells.items():
            diffs.extend(traces.patched_logit_diffs(lm, corrupted_tokens, answers, wrongs, acts, site, 1, chosen))
        return torch.stack([torch.as_tensor(values) for values in diffs])

    local = run_all()
    lm.remote = "local"
    try:
        remote = run_all()
    finally:
        lm.remote = False
    assert torch.allclose(remote, local, atol=1e-6, rtol=0)
    assert (local[2:] - local[1]).abs().max() > 1, "the patches must change the corrupted logit differences"


def test_template_renders_settings_and_sections(tmp_path):
    values = template_values(
        "patching_sections",
        remote_literal="True",
        device_map_literal=repr("auto"),
        trust_remote_code=[{}],
        has_research_question=[{}],
        research_question_literal=repr("RQ1: which head copies?"),
    )
    text = render((TEMPLATES / "activation_patching_nnsight.py.mustache").read_text(), values)
    for line in ("REMOTE = True\n", "DEVICE_MAP = 'auto'\n", "RECHECK_FLOAT32 = 4\n", "MODULE_PATHS = {}\n", "METHOD = 'exact'\n"):
        assert line in text, line
    assert "RESEARCH_QUESTION = 'RQ1: which head copies?'\n" in text
    assert "        trust_remote_code=True,\n" in text
    assert "{{" not in text
    script_path = tmp_path / "activation_patching_20261204.py"
    script_path.write_text(text, encoding="utf-8")
    py_compile.compile(str(script_path), doraise=True)


def numeric_leaves(value, path=""):
    """Yield (path, number) for every number in a JSON value; bools and strings are not numbers."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from numeric_leaves(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from numeric_leaves(item, f"{path}[{index}]")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield path, float(value)


def run_script(code: Path, name: str, extra_env: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
    env.pop("PYTHONPATH", None)
    env.pop("AUTO_RESEARCH_RUN_ID", None)
    env.update(extra_env or {})
    return subprocess.run([sys.executable, f"analysis/{name}"], cwd=code, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.integration
def test_both_scripts_write_same_numbers(project):
    for name in ("patching_tl.py", "patching_nnsight.py"):
        completed = run_script(project, name)
        assert completed.returncode == 0, completed.stderr[-3000:]
    results = {
        backend: json.loads((project / "results" / "probe" / f"patching_{backend}.json").read_text(encoding="utf-8"))
        for backend in ("tl", "nnsight")
    }
    assert results["tl"]["backend"] == "transformer_lens"
    assert results["nnsight"]["backend"] == "nnsight"
    # float32 runs write no precision check, even with RECHECK_FLOAT32 = 4.
    assert "precision_check" not in results["tl"]
    assert "precision_check" not in results["nnsight"]

    skipped = {"provenance", "artifacts"}
    leaves = {
        backend: dict(numeric_leaves({k: v for k, v in result.items() if k not in skipped})) for backend, result in results.items()
    }
    shared = sorted(set(leaves["tl"]) & set(leaves["nnsight"]))
    assert len(shared) > 400, f"too few shared numbers to compare: {len(shared)}"
    assert set(leaves["tl"]) == set(leaves["nnsight"]), set(leaves["tl"]) ^ set(leaves["nnsight"])
    differences = {path: abs(leaves["tl"][path] - leaves["nnsight"][path]) for path in shared}
    worst = max(differences, key=differences.get)
    assert differences[worst] <= TOLERANCE, (worst, leaves["tl"][worst], leaves["nnsight"][worst])
    assert results["tl"]["top_component"] == results["nnsight"]["top_component"]


@pytest.mark.integration
def test_remote_script_without_key_exits_2(project):
    script = project / "analysis" / "patching_remote.py"
    script.write_text(
        render((TEMPLATES / "activation_patching_nnsight.py.mustache").read_text(), template_values("patching_remote", remote_literal="True")),
        encoding="utf-8",
    )
    completed = run_script(project, script.name, {"NDIF_API_KEY": ""})
    assert completed.returncode == 2, completed.stderr[-3000:]
    assert "NDIF_API_KEY" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert not (project / "results" / "probe" / "patching_remote.json").exists()


def nnsight_config(**changes) -> ActivationPatchingConfig:
    values = dict(
        probe_id="patching_nnsight_unit",
        model_id=str(DEMO_MODEL),
        pairs_path="data/pairs.jsonl",
        n_examples=8,
        seeds=(0,),
        n_bootstrap=200,
        device="cpu",
        backend="nnsight",
    )
    values.update(changes)
    return ActivationPatchingConfig(**values)


@pytest.mark.parametrize("backend", ["nnsight"])
def test_bfloat16_run_records_precision_check(project, traces, backend):
    config = nnsight_config(
        probe_id=f"patching_bf16_{backend}", backend=backend, dtype="bfloat16", recheck_float32=4, sites=("attn_out_all_pos", "head_out")
    )
    results = json.loads(run_activation_patching(config, project, traces).read_text(encoding="utf-8"))
    assert results["backend"] == backend
    check = results["precision_check"]
    assert check["dtype"] == "bfloat16"
    assert check["reference_dtype"] == "float32"
    assert check["n_examples"] == 4
    assert check["metric"] == "logit_diff_clean_and_corrupted"
    # bfloat16 keeps 8 significant bits. On 24 demo pairs (CPU) logit differences of about 10 moved by
    # 0.06 on average and 0.45 at most, so a float32 rerun must differ, by well under 1.
    assert 0 < check["mean_abs_diff"] <= check["max_abs_diff"] < 1.0
    # The tolerance is 5% of the float32 clean-corrupted gap (about 20 on the demo pairs).
    assert 0.3 < check["tolerance"] < 3.0
    assert check["within_tolerance"] is (check["max_abs_diff"] <= check["tolerance"])
    assert check["within_tolerance"]
    assert results["provenance"]["dtype"] == "bfloat16"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"method": "attribution"}, r"method 'attribution' runs only on the transformer_lens backend"),
        ({"backend": "transformer_lens", "remote": True}, r"remote applies to the nnsight backend only"),
        ({"backend": "transformer_lens", "recheck_float32": 4}, r"recheck_float32 applies to the nnsight backend only"),
        ({"backend": "pytorch"}, r"backend 'pytorch' is unknown"),
        ({"recheck_float32": -1}, r"recheck_float32 must be a whole number"),
    ],
)
def test_invalid_settings_name_the_value(project, traces, changes, message):
    with pytest.raises(ValueError, match=message):
        run_activation_patching(nnsight_config(**changes), project, traces)


def test_nnsight_backend_requires_traces(project):
    with pytest.raises(ValueError, match=r"needs the script's trace functions"):
        run_activation_patching(nnsight_config(), project)


def test_unknown_module_path_is_named(project, traces):
    with pytest.raises(ValueError, match=r"module path 'transformer\.h\.0\.ffn' \(role mlp\) does not exist"):
        run_activation_patching(nnsight_config(module_paths={"mlp": "ffn"}), project, traces)
    assert not (project / "results" / "probe" / "patching_nnsight_unit.json").exists()


def test_long_pair_rejected_before_trace(project, lm):
    words = " ".join(json.loads(line)["clean"] for line in DEMO_PAIRS.read_text(encoding="utf-8").splitlines()[:6]).split()
    long_prompt = " ".join(words[:70])
    assert len(lm.tokenizer(long_prompt)["input_ids"]) + 1 == 71  # with BOS
    lines = (project / "data" / "pairs.jsonl").read_text(encoding="utf-8").splitlines()[:7]
    lines.append(json.dumps({"clean": long_prompt, "corrupted": long_prompt, "answer": " piva", "wrong_answer": " lufa"}))
    (project / "data" / "long_pairs.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def reject(*arguments):
        raise AssertionError("a trace ran before the context length was checked")

    rejecting = NnsightTraces(reject, reject, reject)
    config = nnsight_config(probe_id="patching_long", pairs_path="data/long_pairs.jsonl", n_examples=8)
    with pytest.raises(ValueError, match=r"pairs line 8: prompts have 71 tokens, more than the model's context of 64"):
        run_activation_patching(config, project, rejecting)
    assert not (project / "results" / "probe" / "patching_long.json").exists()


def test_patching_roles_follow_the_sites():
    from auto_research_probe.activation_patching import nnsight_roles

    assert nnsight_roles(SITES) == ("blocks", "attn", "attn_out_proj", "mlp")
    assert nnsight_roles(("attn_out_all_pos", "head_out")) == ("blocks", "attn", "attn_out_proj")


def test_unknown_architecture_needs_only_the_roles_read(project, traces, monkeypatch):
    from auto_research_probe import nnsight_backend

    monkeypatch.delitem(nnsight_backend.ARCHITECTURES, "GPT2LMHeadModel")
    paths = {"blocks": "transformer.h", "attn": "attn", "attn_out_proj": "attn.c_proj"}
    config = nnsight_config(probe_id="patching_unknown", module_paths=paths, sites=("attn_out_all_pos", "head_out"), n_examples=4)
    results = json.loads(run_activation_patching(config, project, traces).read_text(encoding="utf-8"))
    assert results["provenance"]["module_paths"] == paths
    assert results["provenance"]["remote"] is False
    with pytest.raises(ValueError, match=r"\(mlp missing\)"):
        run_activation_patching(nnsight_config(probe_id="patching_unknown_mlp", module_paths=paths), project, traces)
