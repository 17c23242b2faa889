"""Benchmark of the activation cache: speed of a hit against the forward passes, and peak memory of a write.

Run from the repository root (numbers go in BENCHMARKS.md; nothing here is a test):

    uv run --extra attention python python/benchmarks/cache_benchmark.py

The model is a HookedTransformer with GPT-2-small's shape (12 layers, d_model 768,
12 heads of 64, d_mlp 3072, vocabulary 50257, context 1024) and random weights
(seed 0), built in memory: nothing is downloaded. Prompts are random token ids.

(a) Activation step, uncached against cached, in one process: the residual stream
    entering every block and the final one (`resid_pre`, layers 0..12, the logit
    lens's request) for 32 prompts of 128 tokens, batches of 8. Each run times
    - uncached: the hooked forward passes alone, activations kept in memory (what a
      probe does without a cache; the cache's own forward code, no files);
    - miss: forward passes plus writing the entry (one shard per batch);
    - hit, warm: `cache_activations` on the entry just written (checksums, then
      memory-mapped reads, concatenated), its files in the OS page cache;
    - hit, cold: the same after evicting the entry's files from the page cache
      (`posix_fadvise(DONTNEED)`), so the shards come from the disk;
    - hit, batches: `iter_cached_batches` over the warm entry, no concatenation.
    The weights fingerprint is computed once before the runs and passed in, as the
    probes do, because they compute it once per run for the provenance anyway. Its
    time is reported on its own.
(b) Peak memory of a write: a child process per run builds the model and writes one
    entry (`ensure_cached`, a miss) for N and for 16 N prompts of 64 tokens, same
    hook point and layers, batches of 8. It reports `resource.getrusage` ru_maxrss
    before and after the write. For contrast, one child per size also calls
    `cache_activations`, which returns every prompt's activations concatenated. The
    children run before the speed part, while this process is still small, because a
    child inherits its parent's RSS as the start of its ru_maxrss.

Each measurement is repeated `--runs` times (default 5); the report gives the median
and the range. `--quick` shrinks every size for a smoke test of the script.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PYTHON_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PYTHON_DIR))

MODEL_ID = "benchmark/gpt2-small-shape-random-seed-0"
WEIGHTS_ID = "random-seed-0"  # the memory children put this in the cache key in place of the fingerprint


def build_model(quick: bool):
    import torch
    from transformer_lens import HookedTransformer, HookedTransformerConfig

    if quick:
        shape = dict(n_layers=2, d_model=64, n_heads=4, d_head=16, d_mlp=256, n_ctx=256, d_vocab=1000)
    else:
        shape = dict(n_layers=12, d_model=768, n_heads=12, d_head=64, d_mlp=3072, n_ctx=1024, d_vocab=50257)
    cfg = HookedTransformerConfig(
        **shape,
        act_fn="gelu_new",
        normalization_type="LN",
        positional_embedding_type="standard",
        model_name=MODEL_ID,
        seed=0,
        device="cpu",
        dtype=torch.float32,
    )
    model = HookedTransformer(cfg)
    model.eval()
    model.requires_grad_(False)
    return model


def random_prompts(n: int, length: int, vocab: int, seed: int) -> list[list[int]]:
    import torch

    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab, (n, length), generator=generator).tolist()


def peak_rss_mib() -> float:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def evict(folder: Path) -> None:
    """Drop the folder's files from the OS page cache, so the next read comes from the disk."""
    for path in folder.iterdir():
        descriptor = os.open(path, os.O_RDONLY)
        try:
            os.fsync(descriptor)
            os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(descriptor)


def summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def bench_speed(args: argparse.Namespace) -> dict:
    import torch

    from auto_research_probe.cache import _forward_batches, cache_activations, hook_name, iter_cached_batches
    from auto_research_probe.models import weights_fingerprint

    model = build_model(args.quick)
    n_prompts, length = (8, 16) if args.quick else (args.speed_prompts, args.speed_tokens)
    layers = list(range(model.cfg.n_layers + 1))
    prompts = random_prompts(n_prompts, length, model.cfg.d_vocab, seed=1)
    started = time.perf_counter()
    fingerprint = weights_fingerprint(model)
    fingerprint_s = time.perf_counter() - started
    names = [hook_name("resid_pre", layer, model.cfg.n_layers) for layer in layers]
    kwargs = dict(batch_size=args.batch_size, model_id=MODEL_ID, weights_sha256=fingerprint)

    times: dict[str, list[float]] = {name: [] for name in ("uncached", "miss", "hit_warm", "hit_cold", "hit_batches")}
    entry_bytes = 0
    for run in range(args.runs):
        started = time.perf_counter()
        parts: dict[str, list[torch.Tensor]] = {name: [] for name in names}
        for _, captured in _forward_batches(model, prompts, names, args.batch_size):
            for name, tensor in captured.items():
                parts[name].append(tensor)
        uncached = {name: torch.cat(chunks) for name, chunks in parts.items()}
        times["uncached"].append(time.perf_counter() - started)
        del parts

        folder = Path(tempfile.mkdtemp(prefix="cache-benchmark-"))
        try:
            started = time.perf_counter()
            cache_activations(model, prompts, layers, "resid_pre", folder, **kwargs)
            times["miss"].append(time.perf_counter() - started)

            started = time.perf_counter()
            hit = cache_activations(model, prompts, layers, "resid_pre", folder, **kwargs)
            times["hit_warm"].append(time.perf_counter() - started)
            if run == 0:
                # The cache returns exactly what the forward passes gave.
                for layer, name in zip(layers, names):
                    assert torch.equal(hit[layer], uncached[name]), layer
                entry_bytes = sum(path.stat().st_size for path in folder.iterdir())
            del hit, uncached

            started = time.perf_counter()
            for batch in iter_cached_batches(model, prompts, layers, "resid_pre", folder, **kwargs):
                pass
            times["hit_batches"].append(time.perf_counter() - started)

            evict(folder)
            started = time.perf_counter()
            cache_activations(model, prompts, layers, "resid_pre", folder, **kwargs)
            times["hit_cold"].append(time.perf_counter() - started)
        finally:
            shutil.rmtree(folder)
        print(f"speed run {run + 1}/{args.runs}: " + ", ".join(f"{name} {values[-1]:.3f} s" for name, values in times.items()), file=sys.stderr)

    result = {name: summary(values) for name, values in times.items()}
    uncached_median = result["uncached"]["median"]
    return {
        "n_prompts": n_prompts,
        "tokens_per_prompt": length,
        "layers": layers,
        "hook_point": "resid_pre",
        "batch_size": args.batch_size,
        "entry_mib": entry_bytes / 2**20,
        "weights_fingerprint_s": fingerprint_s,
        "seconds": result,
        "speedup_warm": uncached_median / result["hit_warm"]["median"],
        "speedup_cold": uncached_median / result["hit_cold"]["median"],
        "speedup_batches": uncached_median / result["hit_batches"]["median"],
        "target_10x_met": uncached_median / result["hit_cold"]["median"] >= 10 and uncached_median / result["hit_warm"]["median"] >= 10,
    }


def child_rss(args: argparse.Namespace) -> None:
    """Measure one write in this process: build the model, write one entry and print the peak RSS as JSON."""
    from auto_research_probe.cache import cache_activations, ensure_cached

    model = build_model(args.quick)
    length = 16 if args.quick else args.memory_tokens
    prompts = random_prompts(args.child_prompts, length, model.cfg.d_vocab, seed=2)
    layers = list(range(model.cfg.n_layers + 1))
    before = peak_rss_mib()
    folder = Path(args.child_folder)
    call = ensure_cached if args.child_mode == "write" else cache_activations
    started = time.perf_counter()
    call(model, prompts, layers, "resid_pre", folder, batch_size=args.batch_size, model_id=MODEL_ID, weights_sha256=WEIGHTS_ID)
    seconds = time.perf_counter() - started
    entry_bytes = sum(path.stat().st_size for path in folder.iterdir())
    print(json.dumps({"peak_before_mib": before, "peak_after_mib": peak_rss_mib(), "seconds": seconds, "entry_mib": entry_bytes / 2**20}))


def run_child(args: argparse.Namespace, n_prompts: int, mode: str) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="cache-benchmark-rss-"))
    try:
        command = [
            sys.executable, str(Path(__file__).resolve()), "--child-rss",
            "--child-prompts", str(n_prompts), "--child-mode", mode, "--child-folder", str(folder),
            "--batch-size", str(args.batch_size), "--memory-tokens", str(args.memory_tokens),
        ] + (["--quick"] if args.quick else [])
        completed = subprocess.run(command, capture_output=True, text=True, check=False)
        if completed.returncode != 0:
            raise RuntimeError(f"child {command} failed with exit code {completed.returncode}:\n{completed.stderr[-4000:]}")
        return json.loads(completed.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def bench_memory(args: argparse.Namespace) -> dict:
    small = 4 if args.quick else args.memory_prompts
    sizes = {"N": small, "16N": 16 * small}
    write: dict[str, list[dict]] = {label: [] for label in sizes}
    for run in range(args.runs):
        for label, n in sizes.items():
            measured = run_child(args, n, "write")
            write[label].append(measured)
            print(f"memory run {run + 1}/{args.runs}, {label} = {n} prompts: peak RSS {measured['peak_after_mib']:.0f} MiB "
                  f"(before the write {measured['peak_before_mib']:.0f} MiB), {measured['seconds']:.1f} s", file=sys.stderr)
    contrast = {}
    for label, n in sizes.items():
        contrast[label] = run_child(args, n, "concatenate")
        print(f"contrast, {label}: cache_activations peak RSS {contrast[label]['peak_after_mib']:.0f} MiB", file=sys.stderr)

    def peaks(runs: list[dict], field: str) -> dict[str, float]:
        return summary([run[field] for run in runs])

    result = {
        "parent_peak_rss_mib_when_spawning": peak_rss_mib(),
        "tokens_per_prompt": 16 if args.quick else args.memory_tokens,
        "prompts": sizes,
        "batch_size": args.batch_size,
        "entry_mib": {label: runs[0]["entry_mib"] for label, runs in write.items()},
        "peak_rss_mib": {label: peaks(runs, "peak_after_mib") for label, runs in write.items()},
        "peak_rss_before_write_mib": {label: peaks(runs, "peak_before_mib") for label, runs in write.items()},
        "write_seconds": {label: peaks(runs, "seconds") for label, runs in write.items()},
        "contrast_concatenated_peak_rss_mib": {label: run["peak_after_mib"] for label, run in contrast.items()},
    }
    ratio = result["peak_rss_mib"]["16N"]["median"] / result["peak_rss_mib"]["N"]["median"]
    result["ratio_16N_to_N"] = ratio
    result["target_1_3x_met"] = ratio <= 1.3
    result["contrast_ratio_16N_to_N"] = contrast["16N"]["peak_after_mib"] / contrast["N"]["peak_after_mib"]
    return result


def machine() -> dict:
    import torch

    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cuda_used": False,
        "python": platform.python_version(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--speed-prompts", type=int, default=32)
    parser.add_argument("--speed-tokens", type=int, default=128)
    parser.add_argument("--memory-prompts", type=int, default=16, help="N, the prompt count of the small run (the large run writes 16 N)")
    parser.add_argument("--memory-tokens", type=int, default=64)
    parser.add_argument("--only", choices=("speed", "memory"), default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the report to this file")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to check that the script runs")
    parser.add_argument("--child-rss", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-prompts", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--child-mode", choices=("write", "concatenate"), default="write", help=argparse.SUPPRESS)
    parser.add_argument("--child-folder", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_rss:
        child_rss(args)
        return 0

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    report = {"date": time.strftime("%Y-%m-%d"), "command": "uv run --extra attention python python/benchmarks/cache_benchmark.py " + " ".join(sys.argv[1:]), "runs": args.runs}
    # Memory first: a child started after exec reports, as its ru_maxrss, at least the RSS
    # of the process it was forked from, so the children must start while this one is small.
    if args.only in (None, "memory"):
        report["memory"] = bench_memory(args)
    if args.only in (None, "speed"):
        report["speed"] = bench_speed(args)
    report["machine"] = machine()
    text = json.dumps(report, indent=2)
    print(text)
    if args.json is not None:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
