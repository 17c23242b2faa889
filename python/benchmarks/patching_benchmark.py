"""Benchmark of exact activation patching: the fast sweep against TransformerLens's patching functions, and the floor.

Run from the repository root (numbers go in BENCHMARKS.md; nothing here is a test):

    uv run --extra attention python python/benchmarks/patching_benchmark.py

Models (nothing is downloaded):
- gpt2-small-shape: a HookedTransformer with GPT-2 small's shape (12 layers, d_model 768,
  12 heads of 64, d_mlp 3072, vocabulary 50257, context 1024) and random weights
  (TransformerLens initialisation, seed 0), built in memory. Pairs are random token ids:
  the corrupted prompt changes a quarter of the clean prompt's positions (never the
  first), and each pair's answer and wrong answer are the tokens whose logit the
  corruption lowers most and raises most at the last position, so the clean-corrupted
  gap is wide and the normalised values are well conditioned.
- demo: the induction demo model (python/demo/induction-demo-model, 2 layers, d_model 64,
  4 heads) with the first pairs of python/demo/pairs.jsonl (16 tokens with BOS).

Each run times, interleaved in one process on the same batch:
- forward: one full forward pass of the corrupted prompts (`model(tokens)`, logits
  included), the median of `--forward-repeats` passes;
- reference: TransformerLens's own sweeps (`transformer_lens.patching`:
  get_act_patch_resid_pre, get_act_patch_attn_out, get_act_patch_mlp_out,
  get_act_patch_attn_head_out_all_pos, and generic_activation_patch with the whole
  activation for attn_out_all_pos and mlp_out_all_pos), after one clean run_with_cache;
- fast: `fast_patching.fast_patched_logit_diffs` on the same sites, after one clean
  run_with_cache of the patched hook points (what `probe run` does by default).
Both sides get the clean and corrupted baseline means, computed once before the runs.
The first run also checks that the two give the same normalised values (largest
absolute difference per sweep).

Floor. Each patch can change only the blocks from its layer on and the positions from
its position on, so it needs at least that share of a forward pass: for a patch at
layer L and position p of a T-token, n-layer model, (n - L) x (T - p) / (n x T) for
resid_pre and attn_out (block L's MLP counts as a whole layer), (n - L - 1) x (T - p) /
(n x T) for mlp_out, and the same with p = 0 for the all-position and head sites. The
sum over all patches is the sweep's forward-equivalents, and the floor is that times the
median time of one full forward pass at the same batch. The fast sweep can go below it:
it computes only two logits instead of the unembedding and only the last position of
the last block, and it shares Python and kernel overhead between patches.

Targets: the reference at least 3x slower than the fast sweep on the GPT-2
small shape, and the fast sweep within 1.3x of the floor.

`--runs N` sets the repetitions (default 5), `--quick` runs tiny sizes to check that the
script works, `--json FILE` is where the raw timings go. The report ends with a
markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from functools import partial
from pathlib import Path

# Without this, TransformerLens's sweeps print a progress bar per sweep.
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

PYTHON_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PYTHON_DIR))

DEMO_MODEL = PYTHON_DIR / "demo" / "induction-demo-model"
DEMO_PAIRS = PYTHON_DIR / "demo" / "pairs.jsonl"
ALL_SITES = ("resid_pre", "attn_out", "mlp_out", "attn_out_all_pos", "mlp_out_all_pos", "head_out")


def summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def build_gpt2_small_shape(quick: bool):
    import torch
    from transformer_lens import HookedTransformer, HookedTransformerConfig

    if quick:
        shape = dict(n_layers=3, d_model=64, n_heads=4, d_head=16, d_mlp=256, n_ctx=256, d_vocab=1000)
    else:
        shape = dict(n_layers=12, d_model=768, n_heads=12, d_head=64, d_mlp=3072, n_ctx=1024, d_vocab=50257)
    cfg = HookedTransformerConfig(
        **shape,
        act_fn="gelu_new",
        normalization_type="LN",
        positional_embedding_type="standard",
        model_name="benchmark/gpt2-small-shape-random-seed-0",
        seed=0,
        device="cpu",
        dtype=torch.float32,
    )
    model = HookedTransformer(cfg)
    model.eval()
    model.requires_grad_(False)
    return model


def random_pairs(model, batch: int, length: int, seed: int):
    """Draw random clean prompts, corrupt a quarter of the positions, and choose answers for a wide gap."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    vocab = model.cfg.d_vocab
    clean = torch.randint(0, vocab, (batch, length), generator=generator)
    corrupted = clean.clone()
    n_changed = max(1, length // 4)
    for row in range(batch):
        positions = 1 + torch.randperm(length - 1, generator=generator)[:n_changed]
        corrupted[row, positions] = torch.randint(0, vocab, (n_changed,), generator=generator)
    with torch.no_grad():
        change = model(clean)[:, -1] - model(corrupted)[:, -1]
    return clean, corrupted, change.argmax(-1), change.argmin(-1)


def demo_pairs(model, batch: int):
    from auto_research_probe.pairs import load_pairs_jsonl, pair_tensors, prepare_pairs

    pairs = prepare_pairs(model, load_pairs_jsonl(DEMO_PAIRS)[:batch])
    return pair_tensors(pairs)


def forward_equivalents(sites, n_layers: int, n_positions: int, n_heads: int) -> float:
    """Return the floor of a sweep in full forward passes: the share of blocks x positions each patch can change, summed."""
    total = 0.0
    whole = n_layers * n_positions
    for site in sites:
        for layer in range(n_layers):
            layers_after = n_layers - layer - (1 if site in ("mlp_out", "mlp_out_all_pos") else 0)
            if site in ("resid_pre", "attn_out", "mlp_out"):
                total += sum(layers_after * (n_positions - p) for p in range(n_positions)) / whole
            elif site == "head_out":
                total += n_heads * layers_after / n_layers
            else:
                total += layers_after / n_layers
    return total


def n_cells(sites, n_layers: int, n_positions: int, n_heads: int) -> int:
    per_layer = {"resid_pre": n_positions, "attn_out": n_positions, "mlp_out": n_positions, "head_out": n_heads}
    return sum(per_layer.get(site, 1) * n_layers for site in sites)


def run_reference(model, clean, corrupted, answers, wrongs, clean_mean, corrupted_mean, sites):
    """Run TransformerLens's patching functions and return the normalised grids by site."""
    import torch
    from transformer_lens import patching

    from auto_research_probe.pairs import logit_diff

    def metric(logits):
        return (logit_diff(logits, answers, wrongs).mean() - corrupted_mean) / (clean_mean - corrupted_mean)

    def whole_activation(corrupted_activation, index, clean_activation):
        return clean_activation.clone()

    with torch.no_grad():
        _, clean_cache = model.run_with_cache(clean)
        args = (model, corrupted, clean_cache, metric)
        by_layer = partial(patching.generic_activation_patch, patch_setter=whole_activation, index_axis_names=("layer",))
        functions = {
            "resid_pre": lambda: patching.get_act_patch_resid_pre(*args),
            "attn_out": lambda: patching.get_act_patch_attn_out(*args),
            "mlp_out": lambda: patching.get_act_patch_mlp_out(*args),
            "attn_out_all_pos": lambda: by_layer(*args, activation_name="attn_out"),
            "mlp_out_all_pos": lambda: by_layer(*args, activation_name="mlp_out"),
            "head_out": lambda: patching.get_act_patch_attn_head_out_all_pos(*args),
        }
        return {site: functions[site]().double().numpy() for site in sites}


def run_fast(model, clean, corrupted, answers, wrongs, sites, work=None):
    """Run one clean pass and the fast exact sweep, and return per-example logit differences by site."""
    import torch

    from auto_research_probe.fast_patching import SITE_HOOKS, fast_patched_logit_diffs

    layers = list(range(model.cfg.n_layers))
    names = {SITE_HOOKS[site].format(layer=layer) for site in sites for layer in layers}
    with torch.no_grad():
        _, acts = model.run_with_cache(clean, names_filter=lambda name: name in names, return_cache_object=False)
    return fast_patched_logit_diffs(model, corrupted, answers, wrongs, acts, sites, layers, work=work)


def bench_model(name: str, model, tensors, sites, args) -> dict:
    import torch

    from auto_research_probe.fast_patching import WorkCount, reference_block_positions
    from auto_research_probe.pairs import logit_diff

    clean, corrupted, answers, wrongs = tensors
    batch, n_positions = corrupted.shape
    cfg = model.cfg
    with torch.no_grad():
        clean_diff = logit_diff(model(clean), answers, wrongs).double()
        corrupted_diff = logit_diff(model(corrupted), answers, wrongs).double()
    clean_mean, corrupted_mean = float(clean_diff.mean()), float(corrupted_diff.mean())

    times: dict[str, list[float]] = {"forward": [], "reference": [], "fast": []}
    differences: dict[str, float] = {}
    work = WorkCount()
    for run in range(args.runs):
        passes = []
        with torch.no_grad():
            for _ in range(args.forward_repeats):
                started = time.perf_counter()
                model(corrupted)
                passes.append(time.perf_counter() - started)
        times["forward"].append(statistics.median(passes))

        started = time.perf_counter()
        reference = run_reference(model, clean, corrupted, answers, wrongs, clean_mean, corrupted_mean, sites)
        times["reference"].append(time.perf_counter() - started)

        started = time.perf_counter()
        fast = run_fast(model, clean, corrupted, answers, wrongs, sites, work if run == 0 else None)
        times["fast"].append(time.perf_counter() - started)

        if run == 0:
            for site in sites:
                ours = (fast[site].numpy().mean(axis=-1) - corrupted_mean) / (clean_mean - corrupted_mean)
                differences[site] = float(abs(ours - reference[site]).max())
        print(
            f"{name} run {run + 1}/{args.runs}: forward {times['forward'][-1]:.4f} s, "
            f"reference {times['reference'][-1]:.2f} s, fast {times['fast'][-1]:.2f} s",
            file=sys.stderr,
        )

    result = {name_: summary(values) for name_, values in times.items()}
    equivalents = forward_equivalents(sites, cfg.n_layers, n_positions, cfg.n_heads)
    floor = equivalents * result["forward"]["median"]
    cells = n_cells(sites, cfg.n_layers, n_positions, cfg.n_heads)
    ratio = result["reference"]["median"] / result["fast"]["median"]
    to_floor = result["fast"]["median"] / floor
    return {
        "model": name,
        "shape": {"n_layers": cfg.n_layers, "d_model": cfg.d_model, "n_heads": cfg.n_heads, "d_mlp": cfg.d_mlp, "d_vocab": cfg.d_vocab},
        "batch": batch,
        "positions": n_positions,
        "sites": list(sites),
        "patches": cells,
        "clean_minus_corrupted_logit_diff": clean_mean - corrupted_mean,
        "seconds": result,
        "raw_seconds": times,
        "ratio_reference_to_fast": ratio,
        "forward_equivalents": equivalents,
        "floor_seconds": floor,
        "ratio_fast_to_floor": to_floor,
        "reference_forward_passes": cells,
        "block_positions": {
            "fast": work.block_positions,
            "fast_key_only": work.key_positions,
            "reference": reference_block_positions(cells, batch, n_positions, cfg.n_layers),
        },
        "max_abs_difference_normalised": differences,
        "target_3x_met": ratio >= 3.0,
        "target_floor_1_3x_met": to_floor <= 1.3,
    }


def machine() -> dict:
    import torch
    import transformer_lens  # noqa: F401
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
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "transformer_lens": version("transformer-lens"),
        "python": platform.python_version(),
        "device": "cpu",
    }


def _range(stats: dict[str, float], digits: int) -> str:
    return f"{stats['median']:.{digits}f} s ({stats['min']:.{digits}f} to {stats['max']:.{digits}f})"


def markdown(report: dict) -> str:
    lines = [
        "| model | batch x tokens | patches | TransformerLens reference | fast sweep | reference / fast | one forward | floor (forward-equivalents) | fast / floor | max abs difference |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for entry in report["models"]:
        seconds = entry["seconds"]
        lines.append(
            f"| {entry['model']} | {entry['batch']} x {entry['positions']} | {entry['patches']} | "
            f"{_range(seconds['reference'], 2)} | {_range(seconds['fast'], 2)} | **{entry['ratio_reference_to_fast']:.1f}x** | "
            f"{seconds['forward']['median'] * 1000:.1f} ms | {entry['floor_seconds']:.2f} s ({entry['forward_equivalents']:.1f}) | "
            f"**{entry['ratio_fast_to_floor']:.2f}** | {max(entry['max_abs_difference_normalised'].values()):.1e} |"
        )
    info = report["machine"]
    lines.append("")
    lines.append(
        f"Median of {report['runs']} runs, range in brackets; {info['cpu']}, {info['cpus']} CPUs, torch {info['torch']} "
        f"with {info['torch_threads']} threads, transformer-lens {info['transformer_lens']}, {report['date']}."
    )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--forward-repeats", type=int, default=3, help="full forward passes per run for the floor")
    parser.add_argument("--models", default="gpt2-small-shape,demo", help="comma-separated: gpt2-small-shape, demo")
    parser.add_argument("--batch", type=int, default=4, help="pairs per batch on the GPT-2 small shape")
    parser.add_argument("--tokens", type=int, default=16, help="tokens per prompt on the GPT-2 small shape")
    parser.add_argument("--demo-batch", type=int, default=32, help="pairs per batch on the demo model (the probe's batch_size)")
    parser.add_argument("--sites", default=",".join(ALL_SITES), help="comma-separated sweeps")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own choice)")
    parser.add_argument("--json", type=Path, default=Path("patching_benchmark.json"), help="where the raw timings go")
    parser.add_argument("--quick", action="store_true", help="tiny sizes and 2 runs, to check that the script works")
    args = parser.parse_args()

    import torch

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.quick:
        args.runs = min(args.runs, 2)
        args.batch, args.tokens, args.demo_batch = 2, 8, 4
    sites = [site.strip() for site in args.sites.split(",") if site.strip()]
    unknown = [site for site in sites if site not in ALL_SITES]
    if unknown:
        parser.error(f"unknown site {unknown[0]!r}: choose from {', '.join(ALL_SITES)}")

    report = {
        "date": time.strftime("%Y-%m-%d"),
        "command": "uv run --extra attention python python/benchmarks/patching_benchmark.py " + " ".join(sys.argv[1:]),
        "runs": args.runs,
        "machine": machine(),
        "models": [],
    }
    for name in [name.strip() for name in args.models.split(",") if name.strip()]:
        if name == "gpt2-small-shape":
            model = build_gpt2_small_shape(args.quick)
            tensors = random_pairs(model, args.batch, args.tokens, seed=1)
        elif name == "demo":
            from auto_research_probe.models import load_hooked_model

            model = load_hooked_model(str(DEMO_MODEL), device="cpu")
            tensors = demo_pairs(model, args.demo_batch)
        else:
            parser.error(f"unknown model {name!r}: choose gpt2-small-shape or demo")
        report["models"].append(bench_model(name, model, tensors, sites, args))
        del model

    table = markdown(report)
    report["markdown"] = table
    args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({key: value for key, value in report.items() if key != "markdown"}, indent=2))
    print()
    print(table)
    print(f"\nraw timings: {args.json.resolve()}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
