"""End to end: the terminal goes away mid-training (a dropped SSH link) and the run goes on.

tfmon runs under a real pseudo-terminal as the session leader with the pty as
its controlling terminal, as a login shell's job would after ``setsid``. The
test closes the master side, which is what sshd does when the link dies: the
kernel hangs the terminal up (writes fail with EIO, reads return nothing) and
sends SIGHUP to the session leader. A second SIGHUP, as a shell forwarding it
to its jobs would send, must change nothing.
"""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest

from conftest import events_so_far, tfmon_env
from ptyrun import PtyProcess

pytestmark = pytest.mark.slow

EPOCHS = 16
SCRIPT_EXIT = 3


def test_hangup_keeps_training_to_the_end_with_a_checkpoint_and_the_scripts_exit_code(tmp_path, scripts):
    run_dir = tmp_path / "run"
    argv = [
        sys.executable, "-m", "tfmon", "--run-dir", str(run_dir),
        str(scripts / "remote_fit.py"), str(EPOCHS), "25", str(SCRIPT_EXIT),
    ]
    proc = PtyProcess(argv, env=tfmon_env(TERM="screen"), cwd=tmp_path, cols=100, rows=30)
    try:
        # Training has started and the app is drawing it.
        deadline = time.monotonic() + 90
        while not any(e["type"] == "epoch_end" for e in events_so_far(run_dir)):
            assert time.monotonic() < deadline, proc.text()
            assert proc.poll() is None, proc.text()
            proc.read()
        proc.wait_for("remote_fit.py", timeout=10)
        before = max(e["epoch"] for e in events_so_far(run_dir) if e["type"] == "epoch_end")
        assert before < EPOCHS - 3, "training ended too soon to hang up in the middle"

        # The link drops: sshd closes the master side.
        proc.hang_up()
        hung_up_at = time.time()
        time.sleep(1.0)
        assert proc.poll() is None, f"tfmon died on the hang-up: exit {proc.exit_code}"
        os.kill(proc.pid, signal.SIGHUP)  # what a shell forwards to its jobs

        proc.wait_exit(timeout=120)
    finally:
        proc.close()

    assert proc.exit_code == SCRIPT_EXIT
    events = events_so_far(run_dir)
    kinds = [e["type"] for e in events]

    hangups = [e for e in events if e["type"] == "hangup"]
    assert len(hangups) == 1, hangups
    assert hangups[0]["t"] >= hung_up_at - 0.5
    assert hangups[0]["reason"] in ("SIGHUP", "terminal write failed: EIO", "terminal read failed: EIO")
    assert hangups[0]["checkpoint_requested"] is True

    # Complete: every epoch, in order, with the steps adding up; no silence in the file.
    epochs = [e for e in events if e["type"] == "epoch_end"]
    assert [e["epoch"] for e in epochs] == list(range(1, EPOCHS + 1))
    assert [e["global_step"] for e in epochs] == [25 * n for n in range(1, EPOCHS + 1)]
    assert any(e["t"] > hangups[0]["t"] for e in epochs)
    times = [e["t"] for e in events]
    assert max(b - a for a, b in zip(times, times[1:])) < 5.0  # heartbeats every 2 s

    ends = [e for e in events if e["type"] == "run_end"]
    assert len(ends) == 1 and ends[0]["exit_code"] == SCRIPT_EXIT and ends[0]["state"] == "failed"
    # After run_end only what the fd readers flush while shutting down, and heartbeats.
    assert set(kinds[kinds.index("run_end") + 1 :]) <= {"heartbeat", "log", "placement"}

    # output.log keeps the script's lines from before and after the hang-up.
    output = (run_dir / "output.log").read_text()
    for n in range(1, EPOCHS + 1):
        assert f"remote_fit epoch {n} done" in output
    assert "remote_fit after fit" in output

    # A checkpoint taken at the first batch boundary after the hang-up, and it loads.
    checkpoints = [e for e in events if e["type"] == "checkpoint"]
    assert len(checkpoints) == 1 and checkpoints[0]["ok"], checkpoints
    assert checkpoints[0]["t"] > hangups[0]["t"]
    path = checkpoints[0]["path"]
    assert os.path.exists(path) and path.endswith(".keras")

    import keras
    import numpy as np

    model = keras.models.load_model(path)
    assert model.predict(np.zeros((4, 8), dtype="float32"), verbose=0).shape == (4, 2)

    # The control socket is gone with the run.
    assert not (run_dir / "control.sock").exists()
