"""Benchmark of the nnsight backend against TransformerLens: patching sweeps, logit lens and model load.

Run from the repository root (numbers go in BENCHMARKS.md; nothing here is a test):

    uv run --extra attention python python/benchmarks/nnsight_benchmark.py --runs 5 --threads 1

Models (nothing is downloaded):
- demo: the induction demo model (python/demo/induction-demo-model, GPT-2 architecture,
  2 layers, d_model 64, 4 heads, vocabulary 204);
- gpt2-mid: a Hugging Face GPT2LMHeadModel with random weights (torch seed 0), 6 layers,
  d_model 384, 6 heads of 64, d_mlp 1536, context 64 and the demo tokenizer's vocabulary
  (204). The script saves it with the demo tokenizer into a temporary folder, and both
  backends load it from there like any local model folder.

Each model is timed on the same inputs, interleaved run by run in one process:
- patching: the exact sweeps of every site (resid_pre, attn_out, mlp_out,
  attn_out_all_pos, mlp_out_all_pos, head_out) on the first `--pairs` demo pairs
  (python/demo/pairs.jsonl), batch size `--batch-size`:
  nnsight, `nnsight_patched_logit_diffs` with the trace functions of the rendered
  activation_patching_nnsight script; TransformerLens fast, `patched_logit_diffs`
  with engine "fast" (the default of `probe run`); TransformerLens reference,
  `patched_logit_diffs` with engine "reference" (one forward pass per patch).
  Each side runs its own clean passes; the baselines are not part of the timing.
- logit lens: lens logits at every layer (0 to n_layers) and every prompt's last
  position for the first `--prompts` demo prompts (python/demo/prompts.jsonl), batch
  size `--batch-size`: nnsight, the `lens_logits` trace of the rendered
  logit_lens_nnsight script in left-padded batches (what the nnsight script runs);
  TransformerLens with the cache off, the forward passes `cache_activations` runs on a
  miss (`cache._forward_batches`, hooks on resid_pre, realigned) and the decoding
  (`compute_lens_logits`); TransformerLens on a fresh cache, `cache_activations` into a
  new empty cache folder (what a first `probe run` does: forward passes plus writing
  the entry) and the same decoding.
- load: `load_nnsight_lm` and `load_hooked_model` of the model folder on the CPU, in
  float32. Both read the same files; the page cache is warm after the warm-up run.

The warm-up run (not counted) also checks that the numbers agree: the largest absolute
difference of the raw patched logit differences (nnsight and fast, each against the
reference) and of the lens log-probabilities, the log-softmax of the lens logits (nnsight
against TransformerLens; TransformerLens centres the unembedding, which shifts each row of
logits by a constant, so the raw logits differ while ranks and log-probabilities agree). Then `--runs`
timed runs (default 5); the report gives the median and the range.

The nnsight trace functions are the generated scripts' own: the templates are rendered
into a temporary project with the tests' renderer (python/tests/test_templates.py).

`--quick` runs a tiny random model, a few pairs and prompts and one timed run, to check
that the script works. `--json FILE` writes the raw timings; without it nothing is
written outside the temporary folder, which is deleted at the end. The report ends with
markdown tables for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

PYTHON_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PYTHON_DIR))
sys.path.insert(0, str(PYTHON_DIR / "tests"))

DEMO_DIR = PYTHON_DIR / "demo"
DEMO_MODEL = DEMO_DIR / "induction-demo-model"
DEMO_PAIRS = DEMO_DIR / "pairs.jsonl"
DEMO_PROMPTS = DEMO_DIR / "prompts.jsonl"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")
PACKAGE = "nnsight_benchmark_study"


def summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


# ---------------------------------------------------------------------------------------
# Models and scripts


def build_mid_model(folder: Path, quick: bool) -> Path:
    """Save a random GPT-2 with the demo tokenizer into `folder` and return it."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    demo = json.loads((DEMO_MODEL / "config.json").read_text(encoding="utf-8"))
    shape = dict(n_layer=2, n_embd=64, n_head=4) if quick else dict(n_layer=6, n_embd=384, n_head=6)
    config = GPT2Config(
        **shape,
        vocab_size=demo["vocab_size"],
        n_positions=demo["n_positions"],
        activation_function="gelu_new",
        bos_token_id=demo["bos_token_id"],
        eos_token_id=demo["eos_token_id"],
        pad_token_id=demo["pad_token_id"],
        attn_pdrop=0.0,
        embd_pdrop=0.0,
        resid_pdrop=0.0,
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    model = GPT2LMHeadModel(config).eval()
    folder.mkdir(parents=True)
    model.save_pretrained(folder)
    for name in TOKENIZER_FILES:
        shutil.copy(DEMO_MODEL / name, folder / name)
    return folder


def render_scripts(root: Path) -> dict[str, object]:
    """Render both nnsight scripts into a project under `root`, import them and return {intervention: module}."""
    from test_templates import COMMON, RUNTIME, TEMPLATES, render

    code = root / "code"
    package_dir = code / "src" / PACKAGE
    shutil.copytree(RUNTIME, package_dir / "probe_runtime", ignore=shutil.ignore_patterns("__pycache__"))
    (package_dir / "__init__.py").write_text("", encoding="utf-8")
    common = {**COMMON, "package": PACKAGE}
    (package_dir / "probe.py").write_text(render((TEMPLATES / "probe.py.mustache").read_text(), common), encoding="utf-8")
    (code / "analysis").mkdir()
    values = {
        **common,
        "model_id_literal": repr(str(DEMO_MODEL)),
        "layers_literal": "None",
        "n_examples": 8,
        "seeds_literal": "[0]",
        "dtype_literal": repr("float32"),
        "hypothesis_literal": repr("benchmark"),
        "method_literal": repr("exact"),
        "remote_literal": "False",
        "device_map_literal": "None",
        "recheck_float32": 0,
        "pairs_path_literal": repr("data/pairs.jsonl"),
        "prompts_path_literal": repr("data/prompts.jsonl"),
    }
    modules = {}
    for intervention in ("activation_patching", "logit_lens"):
        path = code / "analysis" / f"{intervention}_nnsight.py"
        text = render((TEMPLATES / f"{intervention}_nnsight.py.mustache").read_text(), {**values, "probe_id_literal": repr(intervention)})
        path.write_text(text, encoding="utf-8")
        name = f"{PACKAGE}_{intervention}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        saved_path = list(sys.path)
        spec.loader.exec_module(module)
        sys.path[:] = saved_path
        modules[intervention] = module
    return modules


def load_models(folder: Path):
    from auto_research_probe.models import load_hooked_model
    from auto_research_probe.nnsight_backend import load_nnsight_lm

    return load_nnsight_lm(str(folder), device="cpu"), load_hooked_model(str(folder), device="cpu")


# ---------------------------------------------------------------------------------------
# The timed steps


def patch_nnsight(lm, pairs, traces, batch_size):
    from auto_research_probe.activation_patching import SITES, nnsight_patched_logit_diffs

    return nnsight_patched_logit_diffs(lm, pairs, SITES, traces, batch_size=batch_size)


def patch_tl(model, pairs, batch_size, engine):
    from auto_research_probe.activation_patching import SITES, patched_logit_diffs

    return patched_logit_diffs(model, pairs, SITES, batch_size=batch_size, engine=engine)


def lens_nnsight(lm, examples, layers, lens_logits, batch_size):
    from auto_research_probe.logit_lens import _lens_logits_in_batches

    return _lens_logits_in_batches(lm, examples, layers, lens_logits, batch_size)


def _decode_last(model, resid_by_layer, examples):
    """Lens logits [n_examples, d_vocab] per layer at each example's last position, as `lens_metrics` decodes them."""
    import torch

    from auto_research_probe.logit_lens import compute_lens_logits

    positions = torch.tensor([len(example.input_ids) - 1 for example in examples])
    rows = torch.arange(len(examples))
    with torch.no_grad():
        return {layer: compute_lens_logits(model, resid[rows, positions][:, None, :])[:, 0, :] for layer, resid in resid_by_layer.items()}


def lens_tl_no_cache(model, examples, layers, batch_size):
    import torch

    from auto_research_probe.cache import _forward_batches, hook_name

    token_ids = [example.input_ids for example in examples]
    names = {layer: hook_name("resid_pre", layer, model.cfg.n_layers) for layer in layers}
    parts: dict[int, list[torch.Tensor]] = {layer: [] for layer in layers}
    for _, captured in _forward_batches(model, token_ids, sorted(set(names.values())), batch_size):
        for layer in layers:
            parts[layer].append(captured[names[layer]])
    return _decode_last(model, {layer: torch.cat(values) for layer, values in parts.items()}, examples)


def lens_tl_fresh_cache(model, examples, layers, batch_size, cache_dir, fingerprint):
    from auto_research_probe.cache import cache_activations

    resid = cache_activations(
        model, [example.input_ids for example in examples], layers, "resid_pre", cache_dir,
        batch_size=batch_size, model_id="benchmark", weights_sha256=fingerprint,
    )
    return _decode_last(model, resid, examples)


def timed(function, *args):
    started = time.perf_counter()
    value = function(*args)
    return time.perf_counter() - started, value


def log_probs(logits_by_layer: dict) -> dict:
    """Return the log-softmax of the lens logits per layer.

    TransformerLens centres the unembedding, which shifts each row of logits by a constant.
    Raw logits therefore differ between the backends, while ranks and log-probabilities agree.
    """
    return {layer: logits.double().log_softmax(dim=-1).numpy() for layer, logits in logits_by_layer.items()}


def max_difference(first: dict, second: dict) -> float:
    import numpy as np

    return max(float(np.abs(np.asarray(first[key], dtype=np.float64) - np.asarray(second[key], dtype=np.float64)).max()) for key in first)


def bench_model(name: str, folder: Path, scripts: dict, args, scratch: Path) -> dict:
    import torch

    from auto_research_probe.activation_patching import NnsightTraces
    from auto_research_probe.logit_lens import prepare_example
    from auto_research_probe.models import weights_fingerprint
    from auto_research_probe.pairs import load_pairs_jsonl, prepare_pairs
    from auto_research_probe.datasets import load_prompts_jsonl

    patching = scripts["activation_patching"]
    traces = NnsightTraces(patching.logit_diffs, patching.clean_activations, patching.patched_logit_diffs)
    lens_logits = scripts["logit_lens"].lens_logits

    lm, tl = load_models(folder)
    records = load_pairs_jsonl(DEMO_PAIRS)[: args.pairs]
    pairs = prepare_pairs(lm, records)
    if pairs != prepare_pairs(tl, records):
        raise RuntimeError("the two backends tokenize the demo pairs differently, so their sweeps are not comparable")
    prompts = load_prompts_jsonl(DEMO_PROMPTS)[: args.prompts]
    examples = [prepare_example(lm, prompt) for prompt in prompts]
    if examples != [prepare_example(tl, prompt) for prompt in prompts]:
        raise RuntimeError("the two backends tokenize the demo prompts differently, so their lens logits are not comparable")
    layers = list(range(tl.cfg.n_layers + 1))
    fingerprint = weights_fingerprint(tl)
    lengths = sorted({len(example.input_ids) for example in examples})

    steps = ("load_nnsight", "load_tl", "patch_nnsight", "patch_fast", "patch_reference", "lens_nnsight", "lens_tl_no_cache", "lens_tl_fresh_cache")
    times: dict[str, list[float]] = {step: [] for step in steps}
    agreement: dict[str, float] = {}
    for run in range(args.runs + 1):
        warm_up = run == 0
        seconds = {}
        seconds["load_nnsight"], _ = timed(_load_nnsight, folder)
        seconds["load_tl"], _ = timed(_load_tl, folder)
        seconds["patch_nnsight"], ours = timed(patch_nnsight, lm, pairs, traces, args.batch_size)
        seconds["patch_fast"], fast = timed(patch_tl, tl, pairs, args.batch_size, "fast")
        seconds["patch_reference"], reference = timed(patch_tl, tl, pairs, args.batch_size, "reference")
        seconds["lens_nnsight"], lens_ours = timed(lens_nnsight, lm, examples, layers, lens_logits, args.batch_size)
        seconds["lens_tl_no_cache"], lens_plain = timed(lens_tl_no_cache, tl, examples, layers, args.batch_size)
        cache_dir = scratch / f"cache-{name}-{run}"
        seconds["lens_tl_fresh_cache"], lens_cached = timed(lens_tl_fresh_cache, tl, examples, layers, args.batch_size, cache_dir, fingerprint)
        shutil.rmtree(cache_dir, ignore_errors=True)
        if warm_up:
            agreement = {
                "patching_nnsight_vs_reference": max_difference(ours, reference),
                "patching_fast_vs_reference": max_difference(fast, reference),
                "lens_nnsight_vs_tl": max_difference(log_probs(lens_ours), log_probs(lens_plain)),
                "lens_tl_cache_vs_no_cache": max_difference(log_probs(lens_cached), log_probs(lens_plain)),
            }
            print(f"{name} agreement (max abs difference): {json.dumps(agreement)}", file=sys.stderr)
        else:
            for step in steps:
                times[step].append(seconds[step])
        print(
            f"{name} {'warm-up' if warm_up else f'run {run}/{args.runs}'}: "
            + ", ".join(f"{step} {value:.3f} s" for step, value in seconds.items()),
            file=sys.stderr,
        )
        del ours, fast, reference, lens_ours, lens_plain, lens_cached

    result = {step: summary(values) for step, values in times.items()}
    median = {step: stats["median"] for step, stats in result.items()}
    cfg = tl.cfg
    n_positions = len(pairs[0].clean_ids)
    return {
        "model": name,
        "shape": {"n_layers": cfg.n_layers, "d_model": cfg.d_model, "n_heads": cfg.n_heads, "d_mlp": cfg.d_mlp, "d_vocab": cfg.d_vocab},
        "parameters": sum(parameter.numel() for parameter in lm.hf_model.parameters()),
        "pairs": len(pairs),
        "pair_positions": n_positions,
        "prompts": len(examples),
        "prompt_lengths": [lengths[0], lengths[-1]],
        "lens_layers": len(layers),
        "batch_size": args.batch_size,
        "seconds": result,
        "raw_seconds": times,
        "ratios": {
            "patching_nnsight_to_fast": median["patch_nnsight"] / median["patch_fast"],
            "patching_nnsight_to_reference": median["patch_nnsight"] / median["patch_reference"],
            "lens_nnsight_to_tl_no_cache": median["lens_nnsight"] / median["lens_tl_no_cache"],
            "lens_nnsight_to_tl_fresh_cache": median["lens_nnsight"] / median["lens_tl_fresh_cache"],
            "load_nnsight_to_tl": median["load_nnsight"] / median["load_tl"],
        },
        "max_abs_difference": agreement,
        "torch_threads": torch.get_num_threads(),
    }


def _load_nnsight(folder: Path):
    from auto_research_probe.nnsight_backend import load_nnsight_lm

    return load_nnsight_lm(str(folder), device="cpu")


def _load_tl(folder: Path):
    from auto_research_probe.models import load_hooked_model

    return load_hooked_model(str(folder), device="cpu")


# ---------------------------------------------------------------------------------------
# Report


def machine() -> dict:
    import torch
    from importlib.metadata import version

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "transformer_lens": version("transformer-lens"),
        "nnsight": version("nnsight"),
        "transformers": version("transformers"),
    }


def _cell(stats: dict[str, float]) -> str:
    digits = 3 if stats["median"] < 1 else 2
    return f"{stats['median']:.{digits}f} s ({stats['min']:.{digits}f} to {stats['max']:.{digits}f})"


def markdown(report: dict) -> str:
    lines = [
        "| model | pairs | nnsight | TransformerLens fast | TransformerLens reference | nnsight / fast | nnsight / reference | max abs difference (nnsight, fast) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for entry in report["models"]:
        s, r, d = entry["seconds"], entry["ratios"], entry["max_abs_difference"]
        lines.append(
            f"| {entry['model']} | {entry['pairs']} | {_cell(s['patch_nnsight'])} | {_cell(s['patch_fast'])} | {_cell(s['patch_reference'])} | "
            f"**{r['patching_nnsight_to_fast']:.1f}x** | **{r['patching_nnsight_to_reference']:.2f}x** | "
            f"{d['patching_nnsight_vs_reference']:.1e}, {d['patching_fast_vs_reference']:.1e} |"
        )
    lines += [
        "",
        "| model | prompts x layers | nnsight | TransformerLens, cache off | TransformerLens, fresh cache | nnsight / cache off | nnsight / fresh cache | max abs difference (log-probabilities) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for entry in report["models"]:
        s, r, d = entry["seconds"], entry["ratios"], entry["max_abs_difference"]
        lines.append(
            f"| {entry['model']} | {entry['prompts']} x {entry['lens_layers']} | {_cell(s['lens_nnsight'])} | {_cell(s['lens_tl_no_cache'])} | "
            f"{_cell(s['lens_tl_fresh_cache'])} | **{r['lens_nnsight_to_tl_no_cache']:.2f}x** | **{r['lens_nnsight_to_tl_fresh_cache']:.2f}x** | "
            f"{d['lens_nnsight_vs_tl']:.1e} |"
        )
    lines += ["", "| model | nnsight load | TransformerLens load | nnsight / TransformerLens |", "|---|---|---|---|"]
    for entry in report["models"]:
        s, r = entry["seconds"], entry["ratios"]
        lines.append(f"| {entry['model']} | {_cell(s['load_nnsight'])} | {_cell(s['load_tl'])} | **{r['load_nnsight_to_tl']:.2f}x** |")
    info = report["machine"]
    lines.append("")
    lines.append(
        f"Median of {report['runs']} runs after one warm-up, range in brackets; {info['cpu']}, {info['cpus']} CPUs, torch {info['torch']} "
        f"with {info['torch_threads']} threads, transformer-lens {info['transformer_lens']}, nnsight {info['nnsight']}, "
        f"transformers {info['transformers']}, {report['date']}."
    )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs after the warm-up (default 5)")
    parser.add_argument("--models", default="demo,gpt2-mid", help="comma-separated: demo, gpt2-mid")
    parser.add_argument("--pairs", type=int, default=32, help="demo pairs for the patching sweeps (default 32)")
    parser.add_argument("--prompts", type=int, default=128, help="demo prompts for the logit lens (default 128)")
    parser.add_argument("--batch-size", type=int, default=32, help="the probes' batch_size (default 32)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--json", type=Path, default=None, help="also write the raw timings to this file")
    parser.add_argument("--quick", action="store_true", help="a tiny model, few inputs and one timed run, to check that the script works")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.pairs, args.prompts, args.batch_size = 1, 4, 8, 4

    import torch

    torch.set_num_threads(args.threads)
    names = [name.strip() for name in args.models.split(",") if name.strip()]
    unknown = [name for name in names if name not in ("demo", "gpt2-mid")]
    if unknown:
        parser.error(f"unknown model {unknown[0]!r}: choose demo or gpt2-mid")

    report = {
        "date": time.strftime("%Y-%m-%d"),
        "command": "uv run --extra attention python python/benchmarks/nnsight_benchmark.py " + " ".join(sys.argv[1:]),
        "runs": args.runs,
        "quick": args.quick,
        "machine": machine(),
        "models": [],
    }
    scratch = Path(tempfile.mkdtemp(prefix="nnsight-benchmark-"))
    try:
        scripts = render_scripts(scratch / "project")
        for name in names:
            folder = DEMO_MODEL if name == "demo" else build_mid_model(scratch / "gpt2-mid", args.quick)
            report["models"].append(bench_model(name, folder, scripts, args, scratch))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    table = markdown(report)
    report["markdown"] = table
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"raw timings: {args.json.resolve()}", file=sys.stderr)
    print(json.dumps({key: value for key, value in report.items() if key != "markdown"}, indent=2))
    print()
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
