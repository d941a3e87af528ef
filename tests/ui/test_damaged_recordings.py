"""Replay and attach of damaged recordings: a bad event is skipped and counted, never a crash.

Each variant is one malformed line put in the middle of a real recording
(tests/fixtures/runs/demo-3-epochs): what a torn write, a disk error, another
program or another tfmon version can leave in events.jsonl.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import FIXTURES, tfmon_env
from tfmon.recorder import read_events, read_recording
from tfmon.ui.app import TfmonApp
from tfmon.schema import problem
from tfmon.ui.sources import ReplaySource

RUN = FIXTURES / "runs" / "demo-3-epochs"
T = 1795637070.0

MALFORMED = {
    "batch without step": {"type": "batch", "t": T},
    "batch with a text step": {"type": "batch", "t": T, "epoch": 1, "step": "x", "logs": {"loss": 1.0}},
    "epoch_end without epoch": {"type": "epoch_end", "t": T, "metrics": {"loss": 1.0}},
    "epoch_end metrics not a mapping": {"type": "epoch_end", "t": T, "epoch": 2, "metrics": [1, 2]},
    "epoch_end metric not a number": {"type": "epoch_end", "t": T, "epoch": 2, "metrics": {"loss": [0.5]}},
    "run_start without time": {"type": "run_start", "script": "x.py", "pid": 1},
    "status without state": {"type": "status", "t": T},
    "fit_start with text epochs": {"type": "fit_start", "t": T, "fit": 1, "epochs": "ten", "steps": 3},
    "memory with text figures": {"type": "memory", "t": T, "proc_rss_mb": "big", "sys_total_mb": None},
    "placement nodes not a list": {"type": "placement", "t": T, "nodes": "oops", "eager": 3},
    "log text not a string": {"type": "log", "t": T, "stream": "stdout", "text": ["a"]},
    "run_end with text exit code": {"type": "run_end", "t": T, "exit_code": "zero", "state": 5},
    "type not a string": {"type": 5, "t": T},
    "unknown type": {"type": "martian", "t": T},
}


def _with(line: str) -> list[str]:
    lines = (RUN / "events.jsonl").read_text().splitlines()
    middle = len(lines) // 2
    return lines[:middle] + [line] + lines[middle:]


def _run_dir(tmp_path, lines: list[str]):
    (tmp_path / "events.jsonl").write_text("\n".join(lines) + "\n")
    return tmp_path


@pytest.mark.parametrize("name", list(MALFORMED))
def test_each_malformed_variant_is_told_apart_from_a_good_event(name):
    assert problem(MALFORMED[name]) is not None
    good = [e for e in read_events(RUN)]
    assert all(problem(e) is None for e in good)  # every type tfmon writes passes


async def test_replay_with_every_malformed_variant_skips_them_counted_and_shows_the_rest(tmp_path):
    lines = (RUN / "events.jsonl").read_text().splitlines()
    step = len(lines) // (len(MALFORMED) + 1)
    for i, bad in enumerate(reversed(MALFORMED.values())):
        lines.insert(step * (len(MALFORMED) - i), json.dumps(bad))
    run_dir = _run_dir(tmp_path, lines)
    app = TfmonApp(ReplaySource(run_dir))
    async with app.run_test(size=(200, 60)) as pilot:
        await pilot.pause(0.5)
        await pilot.press("5")  # the Log pane, drawn with the damage in it
        await pilot.pause(0.6)
        assert app.is_running
        header = str(app.query_one("#header").render())
        assert "finished (exit 0)" in header and "epoch 3/3" in header  # the rest is all there
        log = "\n".join(line.text for line in app.state.log.lines)
        assert f"{len(MALFORMED)} malformed or unknown events skipped" in log, log[-500:]
        assert app.state.skipped == 0  # the reader caught them all before the state saw them
    assert app.return_code in (None, 0)


def test_garbage_lines_are_counted_by_the_reader(tmp_path):
    run_dir = _run_dir(tmp_path, _with("[1, 2]") + ["not json at all", '"a string"', '{"type": "batch", "t": 1, "ste'])
    recording = read_recording(run_dir)
    assert recording.skipped == 4
    assert len(recording.events) == len(read_events(RUN))


async def test_a_recording_without_run_end_says_where_it_ends_never_running(tmp_path):
    lines = (RUN / "events.jsonl").read_text().splitlines()
    cut = next(i for i, line in enumerate(lines) if '"type":"epoch_end"' in line) + 3
    run_dir = _run_dir(tmp_path, lines[:cut])
    app = TfmonApp(ReplaySource(run_dir))
    async with app.run_test(size=(200, 60)) as pilot:
        await pilot.pause(0.5)
        header = str(app.query_one("#header").render())
        assert "running" not in header, header
        assert "recording ends at" in header and "(no end event)" in header, header


@pytest.mark.parametrize("content", [b"", b"\x00\xff garbage\nnot json\n"])
def test_replay_of_a_file_with_no_readable_event_is_one_line_and_nonzero(tmp_path, content):
    (tmp_path / "events.jsonl").write_bytes(content)
    done = subprocess.run(
        [sys.executable, "-m", "tfmon", "replay", str(tmp_path)],
        capture_output=True, text=True, timeout=120, env=tfmon_env(), stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "holds no readable event" in done.stderr
