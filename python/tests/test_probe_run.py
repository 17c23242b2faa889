"""The steps every probe shares: settings checks, the event wrapper and atomic plots."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auto_research_probe.probe_run import check_run_settings, resolve_in_project, run_with_events, save_figure_atomic


def read_events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize(
    "arguments, message",
    [
        (("Bad Id", 8, [0]), "probe_id 'Bad Id' is invalid"),
        (("ok", 0, [0]), "n_examples must be at least 1, got 0"),
        (("ok", 8, []), "seeds is empty"),
        (("ok", 8, [1, 1]), "seeds contains duplicates: [1, 1]"),
    ],
)
def test_check_run_settings_rejects(arguments, message):
    with pytest.raises(ValueError) as raised:
        check_run_settings(*arguments)
    assert message in str(raised.value)


def test_check_run_settings_rejects_sizes():
    with pytest.raises(ValueError, match="batch_size must be at least 1, got 0"):
        check_run_settings("ok", 8, [0], batch_size=0)
    with pytest.raises(ValueError, match="n_bootstrap must be at least 1, got -1"):
        check_run_settings("ok", 8, [0], n_bootstrap=-1)
    check_run_settings("ok", 8, [0, 1], batch_size=1, n_bootstrap=1)


def test_resolve_in_project_keeps_absolute(tmp_path):
    assert resolve_in_project("results/probe", tmp_path) == tmp_path / "results/probe"
    assert resolve_in_project(tmp_path / "elsewhere", Path("/unused")) == tmp_path / "elsewhere"


def test_run_with_events_logs_start_and_end(tmp_path):
    events = tmp_path / "events.jsonl"
    result = run_with_events(
        intervention="logit_lens", probe_id="demo", events_path=events, script_path=None,
        body=lambda log, started: tmp_path / "demo.json",
    )

    assert result == tmp_path / "demo.json"
    lines = read_events(events)
    # probe.end is always the last progress step, reported just before its own line.
    assert [line["event"] for line in lines] == ["probe.start", "progress", "probe.end"]
    assert lines[0]["intervention"] == "logit_lens"
    assert (lines[1]["step"], lines[1]["done"], lines[1]["total"]) == ("probe.end", 1, 1)
    assert lines[2]["results"] == str(tmp_path / "demo.json")
    assert lines[0]["run_id"] == lines[1]["run_id"] == lines[2]["run_id"]


def test_run_with_events_logs_error_and_reraises(tmp_path):
    events = tmp_path / "events.jsonl"

    def fail(log, started):
        raise ValueError("pairs line 3: answer ' x y' tokenizes to 2 tokens")

    with pytest.raises(ValueError, match="pairs line 3"):
        run_with_events(intervention="path_patching", probe_id="demo", events_path=events, script_path=None, body=fail)

    lines = read_events(events)
    assert [line["event"] for line in lines] == ["probe.start", "probe.error"]
    assert lines[1]["level"] == "error"
    assert lines[1]["error_type"] == "ValueError"
    assert "pairs line 3" in lines[1]["error_message"]


def test_save_figure_atomic_keeps_old_file_on_failure(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    target = tmp_path / "plot.png"
    figure = plt.figure()
    save_figure_atomic(figure, target)
    first = target.read_bytes()
    assert first.startswith(b"\x89PNG")

    broken = plt.figure()
    monkeypatch.setattr(broken, "savefig", lambda *args, **kwargs: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        save_figure_atomic(broken, target)
    assert target.read_bytes() == first
    assert sorted(path.name for path in tmp_path.iterdir()) == ["plot.png"]
    assert not plt.fignum_exists(broken.number)
