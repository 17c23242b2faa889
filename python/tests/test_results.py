import json
import os
import re

import pytest

from auto_research_probe.results import build_provenance, decide_status, validate_probe_id, write_json_atomic


def test_write_json_atomic_writes_file(tmp_path):
    target = tmp_path / "results" / "probe" / "p.json"
    write_json_atomic(target, {"a": [1, 2.5], "b": "ü"})
    assert json.loads(target.read_text(encoding="utf-8")) == {"a": [1, 2.5], "b": "ü"}
    assert [path.name for path in target.parent.iterdir()] == ["p.json"]


@pytest.mark.parametrize("payload", [{"x": float("nan")}, {"x": object()}, {"x": [1.0, float("inf")]}])
def test_write_json_atomic_no_file_on_failure(tmp_path, payload):
    target = tmp_path / "p.json"
    with pytest.raises((ValueError, TypeError)):
        write_json_atomic(target, payload)
    assert list(tmp_path.iterdir()) == []


def test_write_json_atomic_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "p.json"
    write_json_atomic(target, {"version": 1})
    with pytest.raises(TypeError):
        write_json_atomic(target, {"version": object()})
    assert json.loads(target.read_text(encoding="utf-8")) == {"version": 1}
    assert [path.name for path in tmp_path.iterdir()] == ["p.json"]


@pytest.mark.parametrize(
    ("n_examples", "seeds", "expected"),
    [(64, [0, 1, 2], "result"), (63, [0, 1, 2], "exploratory"), (64, [0, 1], "exploratory"), (256, [0, 0, 1], "exploratory"), (500, [1, 2, 3, 4], "result")],
)
def test_decide_status_rule(n_examples, seeds, expected):
    assert decide_status(n_examples, seeds) == expected


def test_validate_probe_id():
    assert validate_probe_id("logit_lens_layers_0_to_31") == "logit_lens_layers_0_to_31"
    for bad in ["", "Logit", "_x", "a-b", "a" * 81]:
        with pytest.raises(ValueError, match="probe_id"):
            validate_probe_id(bad)


def test_build_provenance_fields(tmp_path):
    script = tmp_path / "analysis" / "probe.py"
    script.parent.mkdir()
    script.write_text("x = 1\n", encoding="utf-8")
    provenance = build_provenance(
        script_path=script,
        project_root=tmp_path,
        run_id="20261204-153000-1a2b3c4-5d6e7f",
        model_id="models/tiny",
        weights_sha256="0" * 64,
        dtype="float32",
        device="cpu",
        duration_s=1.23456,
    )
    assert set(provenance) == {
        "created_at", "run_id", "script", "script_sha256", "package_versions",
        "model_id", "weights_sha256", "dtype", "device", "duration_s",
    }
    assert provenance["script"] == "analysis/probe.py"
    assert re.fullmatch(r"[0-9a-f]{64}", provenance["script_sha256"])
    assert set(provenance["package_versions"]) == {"torch", "transformer-lens", "transformers", "nnsight", "numpy"}
    assert provenance["duration_s"] == 1.235
    assert provenance["created_at"].endswith("Z")


def test_atomic_json_is_readable_by_group(tmp_path):
    previous = os.umask(0o022)
    try:
        written = write_json_atomic(tmp_path / "r.json", {"a": 1})
    finally:
        os.umask(previous)

    assert written.stat().st_mode & 0o777 == 0o644
