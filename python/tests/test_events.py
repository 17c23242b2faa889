import json
import re

import pytest

from auto_research_probe.events import PROGRESS_MARKER, RUN_ID_ENV, EventLog, make_run_id

ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
RUN_ID = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{7}-[0-9a-f]{6}$")


def read_lines(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_event_line_required_fields(tmp_path, monkeypatch):
    monkeypatch.delenv(RUN_ID_ENV, raising=False)
    path = tmp_path / "cache" / "events.jsonl"
    EventLog(path).emit("cache.hit", duration_ms=12.5, key="abc")
    (line,) = read_lines(path)
    assert line["event"] == "cache.hit"
    assert line["level"] == "info"
    assert ISO_UTC.match(line["ts"])
    assert RUN_ID.match(line["run_id"])
    assert line["duration_ms"] == 12.5
    assert line["key"] == "abc"


def test_event_error_line_fields(tmp_path):
    path = tmp_path / "events.jsonl"
    EventLog(path).error("probe.error", KeyError("layer_3"))
    (line,) = read_lines(path)
    assert line["level"] == "error"
    assert line["error_type"] == "KeyError"
    assert "layer_3" in line["error_message"]


def test_event_lines_append(tmp_path):
    path = tmp_path / "events.jsonl"
    log = EventLog(path)
    log.emit("cache.miss")
    log.emit("cache.write")
    assert [line["event"] for line in read_lines(path)] == ["cache.miss", "cache.write"]
    assert len({line["run_id"] for line in read_lines(path)}) == 1


def test_event_secrets_redacted(tmp_path, monkeypatch):
    monkeypatch.setenv("NDIF_API_KEY", "ndif-secret-value-123")
    monkeypatch.setenv("HF_TOKEN", "hf_abcdefghijklmnop")
    path = tmp_path / "events.jsonl"
    EventLog(path).error("remote.error", RuntimeError("bad key ndif-secret-value-123 and hf_abcdefghijklmnop"))
    text = path.read_text(encoding="utf-8")
    assert "ndif-secret-value-123" not in text
    assert "hf_abcdefghijklmnop" not in text
    assert "[redacted]" in text


def test_event_rejects_unknown_level(tmp_path):
    with pytest.raises(ValueError, match="level"):
        EventLog(tmp_path / "events.jsonl").emit("x", level="fatal")


def test_event_rejects_reserved_field(tmp_path):
    with pytest.raises(ValueError, match="reserved"):
        EventLog(tmp_path / "events.jsonl").emit("x", ts="yesterday")


def test_event_log_without_path_writes_nothing(tmp_path):
    assert EventLog(None).emit("cache.hit") is None
    assert list(tmp_path.iterdir()) == []


def test_run_id_from_environment(monkeypatch):
    monkeypatch.setenv(RUN_ID_ENV, "20261204-153000-1a2b3c4-5d6e7f")
    assert make_run_id() == "20261204-153000-1a2b3c4-5d6e7f"


def test_run_id_invalid_environment(monkeypatch):
    monkeypatch.setenv(RUN_ID_ENV, "not-a-run-id")
    with pytest.raises(ValueError, match="not-a-run-id"):
        make_run_id()


def test_run_id_uses_script_sha(tmp_path, monkeypatch):
    import hashlib

    monkeypatch.delenv(RUN_ID_ENV, raising=False)
    script = tmp_path / "probe.py"
    script.write_text("print('hi')\n", encoding="utf-8")
    run_id = make_run_id(script)
    assert RUN_ID.match(run_id)
    assert run_id.split("-")[2] == hashlib.sha256(script.read_bytes()).hexdigest()[:7]
    assert make_run_id(None).split("-")[2] == "0000000"


def test_point_event_duration_is_number(tmp_path):
    path = tmp_path / "events.jsonl"
    EventLog(path).emit("probe.start")

    line = json.loads(path.read_text(encoding="utf-8"))
    assert line["duration_ms"] == 0.0


def test_milestones_report_progress(tmp_path, capsys):
    log = EventLog(tmp_path / "events.jsonl", milestones=("model.loaded", "probe.end"))
    log.emit("model.loaded")
    log.emit("cache.hit")
    log.emit("probe.end")

    lines = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    progress = [line for line in lines if line["event"] == "progress"]
    assert [(line["step"], line["done"], line["total"]) for line in progress] == [("model.loaded", 1, 2), ("probe.end", 2, 2)]
    assert all(line["level"] == "debug" for line in progress)
    marked = [line for line in capsys.readouterr().err.splitlines() if line.startswith(PROGRESS_MARKER)]
    assert [json.loads(line[len(PROGRESS_MARKER):]) for line in marked] == [
        {"step": "model.loaded", "done": 1, "total": 2},
        {"step": "probe.end", "done": 2, "total": 2},
    ]
