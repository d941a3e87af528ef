"""End to end: tfmon under a real pseudo-terminal, the screen read with a terminal emulator."""

from __future__ import annotations

import sys
import termios

import pytest

from conftest import tfmon_env
from ptyrun import PtyProcess

pytestmark = pytest.mark.slow


def test_tfmon_draws_the_run_without_stray_output_and_restores_the_terminal(tmp_path, scripts):
    run_dir = tmp_path / "run"
    argv = [sys.executable, "-m", "tfmon", "--run-dir", str(run_dir), str(scripts / "keras_variety.py")]
    proc = PtyProcess(argv, env=tfmon_env(TERM="xterm-256color"), cwd=tmp_path, cols=120, rows=40)
    try:
        proc.wait_for("finished (exit 0)")
        # The metrics table shows the last fit's final epoch (fit 3, epoch 2), at the
        # latest a frame after the header says finished.
        proc.wait_for_match(r"│ 3 +2 +\d\d:\d\d", timeout=5)
        screen = proc.text()
        assert "tfmon" in screen and "keras_variety.py" in screen
        # Nothing the script or TF wrote reached the terminal raw: no absl prefix,
        # no C-level marker outside the log pane's own formatting.
        assert "I0000 00:00" not in screen
        assert "C-LEVEL-STDOUT" not in screen.replace("  C-LEVEL-STDOUT", "")
        proc.send("q")
        code = proc.wait_exit()
        assert code == 0
        after = proc.text()
        assert "exited 0" in after
        # Terminal restored: out of the alternate screen, cursor back, cooked mode.
        assert proc.raw.rfind(b"\x1b[?1049l") > proc.raw.rfind(b"\x1b[?1049h") >= 0
        attrs = termios.tcgetattr(proc.slave)
        assert attrs[3] & termios.ICANON and attrs[3] & termios.ECHO
    finally:
        proc.close()
    events = (run_dir / "events.jsonl").read_text()
    assert '"run_end"' in events
    assert "C-LEVEL-STDERR marker" in (run_dir / "output.log").read_text()


def test_80x24_shows_one_pane_at_a_time_and_switches_with_keys(tmp_path, scripts):
    argv = [sys.executable, "-m", "tfmon", "--run-dir", str(tmp_path / "run"), str(scripts / "tiny_fit.py"), str(tmp_path / "h.json"), "2"]
    proc = PtyProcess(argv, env=tfmon_env(TERM="screen"), cwd=tmp_path, cols=80, rows=24)
    try:
        proc.wait_for("finished (exit 0)")
        proc.wait_for("1 Metrics")
        proc.wait_for("val_loss", timeout=5)
        proc.send("5")  # the log pane
        proc.wait_for("tiny_fit done")
        proc.send("\t")  # Tab wraps to the first pane
        proc.wait_for("val_loss")
        proc.send("q")
        assert proc.wait_exit() == 0
    finally:
        proc.close()


def _events(run_dir):
    import json

    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]


def test_ctrl_c_once_stops_with_a_checkpoint_and_the_script_goes_on(tmp_path, scripts):
    run_dir = tmp_path / "run"
    argv = [sys.executable, "-m", "tfmon", "--run-dir", str(run_dir), str(scripts / "slow_fit.py"), "50", "200", "5"]
    proc = PtyProcess(argv, env=tfmon_env(), cwd=tmp_path, cols=120, rows=40)
    try:
        proc.wait_for("epoch 2/50")
        proc.send("\x03")
        proc.wait_for("finished (exit 0)")
        proc.send("q")
        assert proc.wait_exit() == 0
    finally:
        proc.close()
    events = _events(run_dir)
    checkpoint = next(e for e in events if e["type"] == "checkpoint")
    assert checkpoint["ok"]
    fit_end = next(e for e in events if e["type"] == "fit_end")
    assert fit_end["reason"] == "stopped by user" and fit_end["epochs_done"] < 50
    assert "after fit" in (run_dir / "output.log").read_text()


def test_ctrl_c_twice_interrupts_the_script_and_restores_the_terminal(tmp_path, scripts):
    run_dir = tmp_path / "run"
    # The first Ctrl+C stops fit with a checkpoint, which can take less than the 0.3 s
    # before the second: the script then goes on for 30 s ("the rest of the script"),
    # so the second Ctrl+C always lands while it is still busy.
    argv = [sys.executable, "-m", "tfmon", "--run-dir", str(run_dir), str(scripts / "slow_fit.py"), "50", "2000", "20", "30"]
    proc = PtyProcess(argv, env=tfmon_env(), cwd=tmp_path, cols=120, rows=40)
    try:
        proc.wait_for("epoch 1/50")
        proc.send("\x03")
        proc.read(0.3)
        proc.send("\x03")
        assert proc.wait_exit() == 130
        attrs = termios.tcgetattr(proc.slave)
        assert attrs[3] & termios.ICANON and attrs[3] & termios.ECHO
    finally:
        proc.close()
    end = [e for e in _events(run_dir) if e["type"] == "run_end"]
    assert end and end[-1]["exit_code"] == 130


def test_getpass_under_the_ui_fails_at_once_and_the_terminal_keeps_its_modes(tmp_path, scripts):
    """getpass opens /dev/tty itself (the pty here, as over SSH) and turns echo off while it
    reads: under the app it took keys from the app and left the modes changed under it."""
    argv = [sys.executable, "-m", "tfmon", "--run-dir", str(tmp_path / "run"), str(scripts / "asks_password.py")]
    proc = PtyProcess(argv, env=tfmon_env(TERM="xterm-256color"), cwd=tmp_path, cols=120, rows=40)
    try:
        proc.wait_for("failed (exit 1)", timeout=120)
        proc.send("q")
        assert proc.wait_exit() == 1
        said = bytes(proc.raw).decode("utf-8", "replace")
        assert "getpass() has no terminal under tfmon's full UI" in said
        attrs = termios.tcgetattr(proc.slave)
        assert attrs[3] & termios.ICANON and attrs[3] & termios.ECHO
    finally:
        proc.close()
