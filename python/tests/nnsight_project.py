"""A research project with the demo model and the logit lens and probing scripts of both backends.

The scripts are rendered from the real templates with `test_templates.render` and
imported as modules (nnsight reads trace bodies from the script's source file, which
an imported file has). Each project gets its own package name, so several projects in
one test session do not share `sys.modules` entries.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import shutil
import sys
from pathlib import Path
from types import ModuleType

from test_templates import COMMON, RUNTIME, TEMPLATES, render

DEMO_DIR = Path(__file__).resolve().parents[1] / "demo"
DEMO_MODEL = DEMO_DIR / "induction-demo-model"
_COUNTER = itertools.count()

SCRIPTS = {
    ("logit_lens", "transformer_lens"): "logit_lens.py.mustache",
    ("logit_lens", "nnsight"): "logit_lens_nnsight.py.mustache",
    ("probing", "transformer_lens"): "probing.py.mustache",
    ("probing", "nnsight"): "probing_nnsight.py.mustache",
}


def make_demo_project(root: Path, *, n_examples: int, seeds: list[int], dtype: str = "float32", recheck_float32: int = 0,
                      folds: int = 3, hook: str = "resid_post", position: str = "last") -> tuple[Path, str]:
    """Lay out code/ with the runtime, the demo model and inputs, and all four scripts; return (code, package)."""
    package = f"nnsight_study_{next(_COUNTER)}"
    code = root / "code"
    package_dir = code / "src" / package
    shutil.copytree(RUNTIME, package_dir / "probe_runtime", ignore=shutil.ignore_patterns("__pycache__"))
    (package_dir / "__init__.py").write_text("", encoding="utf-8")
    common = {**COMMON, "package": package}
    (package_dir / "probe.py").write_text(render((TEMPLATES / "probe.py.mustache").read_text(), common), encoding="utf-8")
    shutil.copytree(DEMO_MODEL, code / "models" / "demo")
    (code / "data").mkdir()
    shutil.copy(DEMO_DIR / "prompts.jsonl", code / "data" / "prompts.jsonl")
    shutil.copy(DEMO_DIR / "labels.jsonl", code / "data" / "labels.jsonl")
    (code / "analysis").mkdir()
    shared = {
        **common,
        "model_id_literal": repr("models/demo"),
        "layers_literal": "None",
        "n_examples": n_examples,
        "seeds_literal": json.dumps(seeds),
        "dtype_literal": repr(dtype),
        "hypothesis_literal": repr("the demo model copies repeated spans"),
        "remote_literal": "False",
        "device_map_literal": "None",
        "recheck_float32": recheck_float32,
    }
    for (intervention, backend), template in SCRIPTS.items():
        values = {**shared, "probe_id_literal": repr(f"{intervention}_{backend}")}
        if intervention == "logit_lens":
            values["prompts_path_literal"] = repr("data/prompts.jsonl")
        else:
            values.update(labels_path_literal=repr("data/labels.jsonl"), hook_literal=repr(hook), position_literal=repr(position), folds=folds)
        (code / "analysis" / f"{intervention}_{backend}.py").write_text(render((TEMPLATES / template).read_text(), values), encoding="utf-8")
    return code, package


def import_script(code: Path, intervention: str, backend: str) -> ModuleType:
    """Import analysis/<intervention>_<backend>.py as a module of its own."""
    path = code / "analysis" / f"{intervention}_{backend}.py"
    name = f"{code.parent.name}_{intervention}_{backend}".replace("-", "_")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def run_script(code: Path, intervention: str, backend: str) -> dict:
    """Run a script's main() in this process and return its results file."""
    module = import_script(code, intervention, backend)
    assert module.main() == 0
    return json.loads((code / "results" / "probe" / f"{intervention}_{backend}.json").read_text(encoding="utf-8"))
