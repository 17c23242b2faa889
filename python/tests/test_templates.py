"""Render the Mustache templates into a research-project layout and run the scripts.

The renderer here covers only the subset the templates use: `{{name}}` variables,
the `{{#probes}}...{{/probes}}` list section, the `{{#trust_remote_code}}` section (a list
here: empty is off) and `{{! ... }}` comments. The Java renderer is the real one; this checks the templates themselves.
"""

from __future__ import annotations

import json
import os
import py_compile
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = REPO_ROOT / "templates"
RUNTIME = REPO_ROOT / "python" / "auto_research_probe"
PACKAGE = "tiny_study"


def render(template: str, values: dict) -> str:
    template = re.sub(r"\{\{![^}]*\}\}", "", template)

    def section(match: re.Match) -> str:
        body = match.group(2).lstrip("\n")
        # A section without a value is off, as --trust-remote-code and --rq are by default.
        return "".join(render(body, {**values, **item}) for item in values.get(match.group(1), []))

    template = re.sub(r"^\{\{#(\w+)\}\}\n(.*?)^\{\{/\1\}\}\n", section, template, flags=re.MULTILINE | re.DOTALL)

    def variable(match: re.Match) -> str:
        name = match.group(1)
        if name not in values:
            raise KeyError(f"template variable {name!r} has no value")
        return str(values[name])

    # Substitution is one pass, so "{{" inside a rendered literal is left alone.
    return re.sub(r"\{\{(\w+)\}\}", variable, template)


COMMON = {"slug": "tiny-study", "package": PACKAGE, "tool_version": "0.1.0", "generated_on": "2026-12-04", "trust_remote_code": [],
          "has_research_question": [], "research_question_literal": "None"}
HOSTILE_HYPOTHESIS = 'Layer 1 """predicts""" the \\ answer\n{{slug}} \u2028 end'


def make_project(root: Path, model_dir: Path) -> Path:
    code = root / "code"
    package_dir = code / "src" / PACKAGE
    shutil.copytree(RUNTIME, package_dir / "probe_runtime", ignore=shutil.ignore_patterns("__pycache__"))
    (package_dir / "__init__.py").write_text("", encoding="utf-8")
    (package_dir / "probe.py").write_text(render((TEMPLATES / "probe.py.mustache").read_text(), COMMON), encoding="utf-8")

    shutil.copytree(model_dir, code / "models" / "tiny")
    (code / "data").mkdir()
    words = ["cat", "dog", "bird", "tree", "mat", "house"]
    lines = [json.dumps({"prompt": f"the {words[i % 6]} sat on the {words[(i // 6) % 6]}", "answer": "and"}) for i in range(36)]
    (code / "data" / "prompts.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")

    lens_values = {
        **COMMON,
        "probe_id_literal": repr("logit_lens_tiny"),
        "model_id_literal": repr("models/tiny"),
        "prompts_path_literal": repr("data/prompts.jsonl"),
        "layers_literal": "None",
        "n_examples": 12,
        "seeds_literal": "[0, 1, 2]",
        "dtype_literal": repr("float32"),
        "hypothesis_literal": repr(HOSTILE_HYPOTHESIS),
    }
    (code / "analysis").mkdir()
    (code / "analysis" / "logit_lens_20261204.py").write_text(
        render((TEMPLATES / "logit_lens.py.mustache").read_text(), lens_values), encoding="utf-8"
    )
    main_values = {
        **COMMON,
        "hypothesis_literal": repr(HOSTILE_HYPOTHESIS),
        "probes": [{"script_literal": repr("analysis/logit_lens_20261204.py"), "probe_id_literal": repr("logit_lens_tiny")}],
    }
    (code / "analysis" / "tiny-study.py").write_text(
        render((TEMPLATES / "main.py.mustache").read_text(), main_values), encoding="utf-8"
    )
    return code


def test_render_subset_sections_and_comments():
    rendered = render("{{! note }}A {{x}}\n{{#probes}}\n- {{y}}\n{{/probes}}\nend\n", {"x": 1, "probes": [{"y": 2}, {"y": 3}]})
    assert rendered == "A 1\n- 2\n- 3\nend\n"


def test_templates_render_and_compile(tmp_path, tiny_model_dir):
    code = make_project(tmp_path, tiny_model_dir)
    for path in [code / "src" / PACKAGE / "probe.py", *(code / "analysis").glob("*.py")]:
        py_compile.compile(str(path), doraise=True)


def test_templates_user_text_only_in_literals():
    for template in TEMPLATES.glob("*.py.mustache"):
        tags = set(re.findall(r"\{\{([#/]?\w+)\}\}", template.read_text()))
        raw = {tag for tag in tags if not tag.endswith("_literal") and not tag.startswith(("#", "/"))}
        assert raw <= {"slug", "package", "tool_version", "generated_on", "n_examples", "seq_len", "top_k", "folds", "recheck_float32"}, template.name


@pytest.mark.integration
@pytest.mark.torch
def test_generated_scripts_run_end_to_end(tmp_path, tiny_model_dir):
    code = make_project(tmp_path, tiny_model_dir)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "MPLBACKEND": "Agg"}
    env.pop("AUTO_RESEARCH_RUN_ID", None)
    env.pop("PYTHONPATH", None)
    completed = subprocess.run(
        [sys.executable, "analysis/tiny-study.py"], cwd=code, env=env, capture_output=True, text=True, timeout=600
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "logit_lens_tiny: logit_lens exploratory, rank_of_correct_token" in completed.stdout
    assert str(code / "results" / "probe" / "logit_lens_tiny.json") in completed.stdout

    results = json.loads((code / "results" / "probe" / "logit_lens_tiny.json").read_text(encoding="utf-8"))
    assert results["schema_version"] == "1"
    assert results["intervention"] == "logit_lens"
    assert results["hypothesis"] == HOSTILE_HYPOTHESIS
    assert results["model_id"] == "models/tiny"
    assert results["layers"] == [0, 1, 2]
    assert results["n_examples"] == 12
    assert results["seeds"] == [0, 1, 2]
    assert len(results["ci_per_layer"]) == 3
    assert results["artifacts"] == ["results/probe/logit_lens_tiny.png"]
    provenance = results["provenance"]
    assert provenance["script"] == "analysis/logit_lens_20261204.py"
    assert re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{7}-[0-9a-f]{6}", provenance["run_id"])
    # The id as the script names it, so the results stay true when the project moves.
    assert provenance["model_id"] == "models/tiny"
    assert (code / "cache" / "events.jsonl").is_file()
    assert list((code / "cache" / "activations").glob("*.safetensors"))


@pytest.mark.integration
@pytest.mark.torch
def test_generated_script_exits_2_on_invalid_input(tmp_path, tiny_model_dir):
    code = make_project(tmp_path, tiny_model_dir)
    # A prompt of one token has nothing to predict from, which the runtime rejects with ValueError.
    (code / "data" / "prompts.jsonl").write_text('{"prompt": "a"}\n' * 3, encoding="utf-8")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "MPLBACKEND": "Agg"}
    env.pop("PYTHONPATH", None)

    completed = subprocess.run(
        [sys.executable, "analysis/logit_lens_20261204.py"], cwd=code, env=env, capture_output=True, text=True, timeout=600
    )

    assert completed.returncode == 2, completed.stderr[-3000:]
    assert "has 1 token(s) after BOS; without an answer it needs at least 2 tokens" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert not (code / "results" / "probe" / "logit_lens_tiny.json").exists()


@pytest.mark.parametrize(
    "optional",
    [
        {"sae_path_literal": "None", "sae_width_literal": "None", "target_label_literal": "None", "target_token_literal": "None"},
        {
            "sae_path_literal": repr("saes/layer 1 \"resid\""),
            "sae_width_literal": "256",
            "target_label_literal": repr("it's \"true\""),
            "target_token_literal": repr(" cat"),
        },
    ],
)
def test_sae_feature_lookup_template_renders_and_compiles(tmp_path, optional):
    values = {
        **COMMON,
        "probe_id_literal": repr("sae_feature_lookup_layer_1"),
        "model_id_literal": repr("models/tiny"),
        "labels_path_literal": repr("data/labels.jsonl"),
        "layers_literal": "[1]",
        "n_examples": 64,
        "seeds_literal": "[0, 1, 2]",
        "dtype_literal": repr("float32"),
        "hypothesis_literal": repr(HOSTILE_HYPOTHESIS),
        "hook_literal": repr("resid_post"),
        "top_k": 10,
        **optional,
    }
    script = tmp_path / "sae_feature_lookup_20261204.py"
    script.write_text(render((TEMPLATES / "sae_feature_lookup.py.mustache").read_text(), values), encoding="utf-8")
    py_compile.compile(str(script), doraise=True)


@pytest.mark.parametrize("method", ["exact", "attribution"])
def test_activation_patching_template_passes_the_method(tmp_path, method):
    values = {
        **COMMON,
        "probe_id_literal": repr("activation_patching_layers_0_to_1"),
        "model_id_literal": repr("models/tiny"),
        "pairs_path_literal": repr("data/pairs.jsonl"),
        "layers_literal": "None",
        "n_examples": 64,
        "seeds_literal": "[0, 1, 2]",
        "dtype_literal": repr("float32"),
        "hypothesis_literal": repr(HOSTILE_HYPOTHESIS),
        "method_literal": repr(method),
    }
    text = render((TEMPLATES / "activation_patching.py.mustache").read_text(), values)
    assert f"METHOD = {method!r}\n" in text
    assert "method=METHOD," in text
    script = tmp_path / "activation_patching_20261204.py"
    script.write_text(text, encoding="utf-8")
    py_compile.compile(str(script), doraise=True)
