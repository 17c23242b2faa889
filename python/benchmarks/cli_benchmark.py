"""Benchmark of the command-line tool: `probe setup`, `uv sync` with nothing to do, and `probe run` overhead.

Run from the repository root, with a built launcher jar and uv on PATH:

    export PATH=~/.auto-research/uv/bin:$PATH
    python3 python/benchmarks/cli_benchmark.py --jar /tmp/auto-research-bench.jar

Everything happens in a new temporary folder (removed at the end unless `--keep`), with
UV_OFFLINE=1 and HF_HUB_OFFLINE=1: uv resolves and installs from its local cache only and
nothing is downloaded. The probe is a logit lens on the demo model
(python/demo/induction-demo-model) over the first 8 demo prompts, one seed: a short
script, so that the timings are mostly the tool's own.

Steps, each repeated `--runs` times (default 5):
- JVM start: `java -jar JAR --version`, the floor of every command;
- probe setup, new project: `probe setup <slug> --intervention logit_lens --init ...` in a
  new root each time (uv init, uv add --optional attention --no-sync, the runtime copy,
  the rendered scripts);
- probe setup, again: the same command on an unchanged project (every file kept);
- uv sync, nothing changed: `uv sync --extra attention` in code/ after an earlier sync;
- bare script: `uv run --extra attention python analysis/logit_lens_<date>.py` in code/,
  the command `probe run` itself uses for each script;
- probe run: `probe run <slug>` (uv sync, the same script, validation of the results);
- probe validate: `probe validate` of the results file, to show how much of the overhead
  is the JVM start and the validation.
The bare script and `probe run` alternate, in changing order, after one untimed
`probe run` that installs the environment and fills the activation cache, so both see
the same warm state. The orchestration overhead is each run's `probe run` time minus
the bare script's time of the same run (paired), summarised by median and range.
Target: overhead at most 1.0 s median.

The report is a JSON object on stdout (`--json FILE` also writes it, raw timings
included), then a markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_MODEL = REPO_ROOT / "python" / "demo" / "induction-demo-model"
DEMO_PROMPTS = REPO_ROOT / "python" / "demo" / "prompts.jsonl"
SLUG = "cli-bench"
HYPOTHESIS = "H1: the demo model's next-token prediction on repeated spans forms in layer 1."


def summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    """Run `command` and return its wall-clock seconds, raising RuntimeError with its output when it fails."""
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} (in {cwd}) exited with {completed.returncode}:\n"
            f"{completed.stdout[-2000:]}\n{completed.stderr[-4000:]}"
        )
    return seconds


def setup_command(jar: Path, root: Path, prompts: Path) -> list[str]:
    return [
        "java", "-jar", str(jar), "probe", "setup", SLUG,
        "--intervention", "logit_lens",
        "--model", str(DEMO_MODEL),
        "--prompts", str(prompts),
        "--n-examples", "8",
        "--seeds", "0",
        "--hypothesis", HYPOTHESIS,
        "--init",
        "--root", str(root),
    ]


def machine(jar: Path, uv: str) -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()
    uv_version = subprocess.run([uv, "--version"], capture_output=True, text=True).stdout.strip()
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "java": java[0] if java else "",
        "uv": uv_version,
        "jar": str(jar),
        "jar_bytes": jar.stat().st_size,
    }


def bench(args: argparse.Namespace, folder: Path, env: dict[str, str], uv: str) -> dict:
    jar = args.jar.resolve()
    prompts = folder / "prompts.jsonl"
    prompts.write_text("\n".join(DEMO_PROMPTS.read_text(encoding="utf-8").splitlines()[:8]) + "\n", encoding="utf-8")
    times: dict[str, list[float]] = {
        "jvm_start": [], "setup_new_project": [], "setup_again": [], "uv_sync_nothing_changed": [],
        "bare_script": [], "probe_run": [], "probe_validate": [],
    }

    for run in range(args.runs):
        times["jvm_start"].append(timed(["java", "-jar", str(jar), "--version"], folder, env))
        root = folder / f"setup-{run}"
        root.mkdir()
        times["setup_new_project"].append(timed(setup_command(jar, root, prompts), folder, env))
        times["setup_again"].append(timed(setup_command(jar, root, prompts), folder, env))
        print(f"setup run {run + 1}/{args.runs}: new {times['setup_new_project'][-1]:.2f} s, "
              f"again {times['setup_again'][-1]:.2f} s", file=sys.stderr)

    # The run workspace: set up once, then one untimed run installs the environment and fills the cache.
    root = folder / "work"
    root.mkdir()
    timed(setup_command(jar, root, prompts), folder, env)
    code = root / ".research" / SLUG / "code"
    scripts = sorted((code / "analysis").glob("logit_lens_*.py"))
    if len(scripts) != 1:
        raise RuntimeError(f"expected one logit lens script in {code / 'analysis'}, found {scripts}")
    script = scripts[0].relative_to(code)
    run_command = ["java", "-jar", str(jar), "probe", "run", SLUG, "--root", str(root)]
    bare_command = [uv, "run", "--extra", "attention", "python", str(script)]
    first_run = timed(run_command, folder, env)
    print(f"first probe run (installs the environment): {first_run:.1f} s", file=sys.stderr)

    for run in range(args.runs):
        times["uv_sync_nothing_changed"].append(timed([uv, "sync", "--extra", "attention"], code, env))
        order = ("bare", "run") if run % 2 == 0 else ("run", "bare")
        for which in order:
            if which == "bare":
                times["bare_script"].append(timed(bare_command, code, env))
            else:
                times["probe_run"].append(timed(run_command, folder, env))
        results = sorted((code / "results" / "probe").glob("logit_lens_*.json"))
        times["probe_validate"].append(timed(["java", "-jar", str(jar), "probe", "validate", *map(str, results)], folder, env))
        print(f"run {run + 1}/{args.runs}: uv sync {times['uv_sync_nothing_changed'][-1]:.3f} s, bare script "
              f"{times['bare_script'][-1]:.2f} s, probe run {times['probe_run'][-1]:.2f} s", file=sys.stderr)

    overhead = [run - bare for run, bare in zip(times["probe_run"], times["bare_script"])]
    result = {name: summary(values) for name, values in times.items()}
    result["probe_run_overhead"] = summary(overhead)
    return {
        "seconds": result,
        "raw_seconds": {**times, "probe_run_overhead": overhead, "first_probe_run_with_install": first_run},
        "bare_command": " ".join(bare_command),
        "run_command": f"java -jar {jar} probe run {SLUG} --root <workspace>",
        "target_overhead_1s_met": result["probe_run_overhead"]["median"] <= 1.0,
    }


ROWS = [
    ("jvm_start", "JVM start (`java -jar JAR --version`)"),
    ("setup_new_project", "`probe setup` into a new project (`--init`: uv init, uv add, runtime, scripts)"),
    ("setup_again", "`probe setup` again, nothing changed"),
    ("uv_sync_nothing_changed", "`uv sync --extra attention`, nothing changed"),
    ("bare_script", "bare `uv run --extra attention python analysis/logit_lens_<date>.py`"),
    ("probe_run", "`probe run` (uv sync, the same script, validation)"),
    ("probe_validate", "`probe validate` of the results file alone (JVM start included), part of the overhead"),
    ("probe_run_overhead", "**`probe run` overhead** (probe run minus bare script, paired per run)"),
]


def markdown(report: dict) -> str:
    seconds = report["results"]["seconds"]
    lines = ["| step | median | range |", "|---|---|---|"]
    for key, label in ROWS:
        stats = seconds[key]
        digits = 3 if stats["median"] < 0.1 else 2
        lines.append(f"| {label} | {stats['median']:.{digits}f} s | {stats['min']:.{digits}f} to {stats['max']:.{digits}f} s |")
    info = report["machine"]
    met = "met" if report["results"]["target_overhead_1s_met"] else "not met"
    lines.append("")
    lines.append(
        f"Median of {report['runs']} runs; {info['cpu']}, {info['cpus']} CPUs, {info['java']}, {info['uv']}, "
        f"{report['date']}. Target for the overhead (at most 1.0 s median): {met}."
    )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jar", type=Path, default=Path("/tmp/auto-research-bench.jar"), help="the built launcher jar")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path, default=Path("cli_benchmark.json"), help="where the raw timings go")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    if not args.jar.is_file():
        parser.error(f"{args.jar} is missing: build it with mvn -B -q package -DskipTests and pass --jar")
    uv = shutil.which("uv")
    if uv is None:
        parser.error("uv is not on PATH (export PATH=~/.auto-research/uv/bin:$PATH)")
    if shutil.which("java") is None:
        parser.error("java is not on PATH")

    env = {**os.environ, "UV_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "MPLBACKEND": "Agg"}
    env.pop("AUTO_RESEARCH_RUN_ID", None)
    env.pop("VIRTUAL_ENV", None)
    folder = Path(tempfile.mkdtemp(prefix="cli-benchmark-"))
    report = {
        "date": time.strftime("%Y-%m-%d"),
        "command": "python3 python/benchmarks/cli_benchmark.py " + " ".join(sys.argv[1:]),
        "runs": args.runs,
        "machine": machine(args.jar.resolve(), uv),
        "folder": str(folder),
    }
    try:
        report["results"] = bench(args, folder, env, uv)
    finally:
        if args.keep:
            print(f"kept {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)
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
