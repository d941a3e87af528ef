"""events.jsonl thinning: the same final state from far fewer events (docs/events.md)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks import synthetic_run  # noqa: E402
from conftest import final_view, fold  # noqa: E402
from tfmon import thinning  # noqa: E402
from tfmon.recorder import read_events  # noqa: E402
from tfmon.thinning import Thinner  # noqa: E402

HOUR = 3600.0


def thin(stream):
    thinner = Thinner()
    out = [kept for e in stream for kept in thinner.add(e)]
    return out + thinner.close()


def test_thinned_long_run_gives_the_same_final_state_at_a_bounded_rate():
    full = list(synthetic_run.events(days=0.3, epoch_s=1800.0, every=20.0))
    thinned = thin(full)
    assert final_view(fold(thinned)) == final_view(fold(full))
    assert len(thinned) < len(full) / 4
    # After the first hour no thinned series writes more than one event per 10 s
    # (plus the one held back before each mark: epochs, checkpoints, pauses).
    start = full[0]["t"]
    later = [e for e in thinned if e["t"] - start > HOUR]
    hours = (full[-1]["t"] - start - HOUR) / HOUR
    marks = sum(1 for e in later if e["type"] in thinning.MARKS)
    for kind in ("batch", "memory"):
        assert sum(e["type"] == kind for e in later) <= hours * 360 + marks
    assert sum(e["type"] == "placement" for e in later) <= hours * 3600 / thinning.EAGER_INTERVAL + marks + 1
    # Every exact event is there, unchanged.
    for kind in ("epoch_end", "checkpoint", "fallback", "tf_warning", "control", "paused",
                 "resumed", "fit_end", "run_end"):
        assert [e for e in thinned if e["type"] == kind] == [e for e in full if e["type"] == kind], kind


def test_the_real_recording_keeps_its_final_state():
    """A real run (tests/fixtures/runs) thinned: the first hour keeps all but the eager counts' events."""
    full = read_events(ROOT / "tests/fixtures/runs/demo-3-epochs")
    thinned = thin(full)
    assert final_view(fold(thinned)) == final_view(fold(full))
    assert [e for e in thinned if e["type"] == "batch"] == [e for e in full if e["type"] == "batch"]


def test_the_ladder():
    assert [thinning.interval(age) for age in (0, 3599, 3600, 86399, 86400, 7 * 86400)] == [0, 0, 10, 10, 60, 60]


def test_log_lines_over_the_rate_are_counted_in_one_line():
    t0 = 1000.0
    stream = [{"type": "log", "stream": "stdout", "text": f"line {i}", "t": t0 + i * 0.001} for i in range(5000)]
    stream.append({"type": "epoch_end", "epoch": 1, "metrics": {}, "t": t0 + 6})
    thinned = thin(stream)
    logs = [e for e in thinned if e["type"] == "log"]
    notes = [e for e in logs if e["stream"] == "tfmon"]
    # Every line left out is counted, in a note at most once a minute and before the mark.
    assert len(notes) == 2 and sum(n["dropped"] for n in notes) == 5000 - (len(logs) - len(notes))
    assert thinned[-1]["type"] == "epoch_end" and thinned[-2] is notes[-1]
    assert [e["text"] for e in logs[:thinning.LOG_BURST]] == [f"line {i}" for i in range(thinning.LOG_BURST)]


def test_heartbeats_after_the_first_hour_only_when_nothing_else_was_written():
    thinner = Thinner()
    thinner.add({"type": "run_start", "t": 0.0})
    early = [thinner.add({"type": "heartbeat", "pid": 1, "t": t}) for t in (2.0, 4.0)]
    assert all(early)  # the first hour: every one
    kept = [e["t"] for t in range(4000, 4040, 2) for e in thinner.add({"type": "heartbeat", "pid": 1, "t": float(t)})]
    # Liveness (tfmon ls, attach) needs an event at most 10 s old.
    assert kept and all(b - a <= thinning.HEARTBEAT_GAP for a, b in zip(kept, kept[1:])) and len(kept) <= 11
    thinner.add({"type": "epoch_end", "epoch": 1, "metrics": {}, "t": 4041.0})
    assert thinner.add({"type": "heartbeat", "pid": 1, "t": 4042.0}) == []


def test_a_line_being_redrawn_is_written_once_finished_or_at_a_mark():
    thinner = Thinner()
    out = []
    for i in range(100):  # a progress bar redrawn with \r: partial updates of one line
        out += thinner.add({"type": "log", "stream": "stdout", "text": f"{i}%", "partial": True, "t": 1.0 + i / 100})
    out += thinner.add({"type": "log", "stream": "stdout", "text": "100% done", "t": 3.0})
    out += thinner.add({"type": "log", "stream": "stdout", "text": "5%", "partial": True, "t": 4.0})
    out += thinner.add({"type": "log", "stream": "stdout", "text": "7%", "partial": True, "t": 4.5})
    out += thinner.add({"type": "epoch_end", "epoch": 1, "metrics": {}, "t": 5.0})
    assert [(e["type"], e.get("text")) for e in out] == [("log", "100% done"), ("log", "7%"), ("epoch_end", None)]
