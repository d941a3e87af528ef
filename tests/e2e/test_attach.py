"""End to end: ``tfmon attach`` to a headless run while it trains, read with a terminal emulator.

The run is a real ``tfmon --headless`` process training a tiny model; two
views attach to it under their own pseudo-terminals (TERM=screen, no mouse,
as over SSH inside screen/tmux), show its history, follow it live, pause it
through the control channel, and leave without stopping it: one with q, the
other by losing its terminal.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import pytest

from conftest import tfmon_env
from ptyrun import PtyProcess

pytestmark = pytest.mark.slow


def _events(run_dir) -> list[dict]:
    out = []
    try:
        with open(run_dir / "events.jsonl") as f:
            for line in f:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
    except FileNotFoundError:
        pass
    return out


def _epochs(run_dir) -> list[int]:
    return [e["epoch"] for e in _events(run_dir) if e["type"] == "epoch_end"]


def _wait(cond, what: str, timeout: float = 60.0, views=()) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n" + "\n\n".join(v.text() for v in views))
        for v in views:
            v.read(0.05)
        if not views:
            time.sleep(0.1)


def _row(epoch: int) -> re.Pattern:
    # A metrics table row: fit, epoch, time, then the metrics.
    return re.compile(rf"│ 1 +{epoch} +\d\d:\d\d ")


def _attach(run_dir, tmp_path) -> PtyProcess:
    argv = [sys.executable, "-m", "tfmon", "attach", str(run_dir), "--no-mouse"]
    return PtyProcess(argv, env=tfmon_env(TERM="screen"), cwd=tmp_path, cols=120, rows=50)


def test_attach_shows_history_follows_live_pauses_and_leaves_the_run_going(tmp_path, scripts):
    run_dir = tmp_path / "run"
    cmd = [
        sys.executable, "-m", "tfmon", "--headless", "--run-dir", str(run_dir),
        str(scripts / "remote_fit.py"), "80", "40",
    ]
    run = subprocess.Popen(cmd, env=tfmon_env(), cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    views: list[PtyProcess] = []
    try:
        _wait(lambda: len(_epochs(run_dir)) >= 2, "two epochs before attaching", timeout=90)
        before = _epochs(run_dir)

        first = _attach(run_dir, tmp_path)
        views.append(first)
        first.wait_for("attached: q leaves the run going", timeout=30)
        # The history: epochs that ended before the view existed.
        _wait(lambda: all(_row(n).search(first.text()) for n in before), f"rows of epochs {before}", views=views)

        # Live: an epoch that ends after the attach appears.
        new = max(before) + 2
        _wait(lambda: _row(new).search(first.text()), f"row of epoch {new}", views=views)

        # A second view at the same time sees the same run.
        second = _attach(run_dir, tmp_path)
        views.append(second)
        second.wait_for("attached: q leaves the run going", timeout=30)
        _wait(lambda: _row(new).search(second.text()), f"row of epoch {new} in the second view", views=views)

        # p pauses the run through the control channel, p again resumes it.
        first.send("p")
        _wait(lambda: any(e["type"] == "paused" for e in _events(run_dir)), "a paused event", views=views)
        paused = next(e for e in _events(run_dir) if e["type"] == "paused")
        assert paused["source"] == "ctl"
        first.wait_for(f"paused at epoch {paused['epoch']}, step {paused['step']}", timeout=10)
        second.wait_for(f"paused at epoch {paused['epoch']}, step {paused['step']}", timeout=10)
        first.send("p")
        _wait(lambda: any(e["type"] == "resumed" for e in _events(run_dir)), "a resumed event", views=views)

        # q leaves the first view at once; the run and the other view go on.
        first.send("q")
        assert first.wait_exit(timeout=15) == 0
        assert "goes on" in first.text()
        left_at = len(_epochs(run_dir))
        _wait(lambda: len(_epochs(run_dir)) >= left_at + 2, "epochs after the first view left", views=[second])
        assert run.poll() is None
        later = max(_epochs(run_dir))
        _wait(lambda: _row(later).search(second.text()), f"row of epoch {later} in the second view", views=[second])
        # The second view's own SSH link drops: it leaves quietly (no spinning on a
        # dead terminal), and the run does not notice.
        second.hang_up()
        assert second.wait_exit(timeout=15) == 0
        assert run.poll() is None
        assert not any(e["type"] == "hangup" for e in _events(run_dir))
        assert not any(e["type"] == "control" and e["action"] == "stop" for e in _events(run_dir))

        # Done with it: stop through the channel, as tfmon ctl does.
        stop = subprocess.run(
            [sys.executable, "-m", "tfmon", "ctl", str(run_dir), "stop"],
            env=tfmon_env(), capture_output=True, text=True, timeout=60,
        )
        assert stop.returncode == 0, stop.stderr
        assert run.wait(timeout=60) == 0
    finally:
        for v in views:
            v.close()
        if run.poll() is None:
            run.kill()
            run.wait()
