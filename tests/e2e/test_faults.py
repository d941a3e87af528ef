"""End to end: tfmon under faults. The terminal always comes back, every death is
recorded, and tfmon never takes the training down (issue 13's fault table).

Each test runs the real ``python -m tfmon`` (the supervising parent and its
child) on a real tiny Keras model, under a real pseudo-terminal read with pyte
where a terminal matters. "Restored" is checked on the pty itself: the saved
termios modes are back, and after the app's last "enter the alternate screen"
the output leaves it, shows the cursor and turns mouse reporting and bracketed
paste off.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import termios
import time

import pytest

from conftest import events_so_far, fill_disk, tfmon_env
from ptyrun import PtyProcess
from tfmon import liveness
from tfmon.run.client import call

pytestmark = pytest.mark.slow

RESTORED = (b"\x1b[?1049l", b"\x1b[?25h", b"\x1b[?1000l", b"\x1b[?1003l", b"\x1b[?1006l", b"\x1b[?2004l")


def start(tmp_path, run_dir, *script_argv, cols=100, rows=30) -> PtyProcess:
    argv = [sys.executable, "-m", "tfmon", "--run-dir", str(run_dir), *map(str, script_argv)]
    return PtyProcess(argv, env=tfmon_env(TERM="xterm"), cwd=tmp_path, cols=cols, rows=rows)


def wait_event(proc, run_dir, kind: str, timeout: float = 120, count: int = 1) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        found = [e for e in events_so_far(run_dir) if e["type"] == kind]
        if len(found) >= count:
            return found[count - 1]
        assert time.monotonic() < deadline, f"no {kind} event:\n{proc.text()}"
        assert proc.poll() is None, f"exited {proc.exit_code} before a {kind} event:\n{proc.text()}"
        proc.read()


def assert_terminal_restored(proc: PtyProcess) -> None:
    raw = bytes(proc.raw)
    entered = raw.rfind(b"\x1b[?1049h")
    assert entered >= 0, "the app never took the screen"
    after = raw[entered:]
    for seq in RESTORED:
        assert seq in after, f"{seq!r} missing after the app's last screen switch"
    assert termios.tcgetattr(proc.slave) == proc.attrs_before, "tty modes not restored (raw mode left on)"


CRASHES = {
    # how: (exit code, what output.log must hold besides the script's own lines)
    "segv": (128 + signal.SIGSEGV, ["Fatal Python error: Segmentation fault", "crash_mid_fit.py"]),
    "abort": (128 + signal.SIGABRT, ["Check failed: plugin state (fatal)", "Fatal Python error: Aborted"]),
    "kill9": (128 + signal.SIGKILL, []),
    "exit": (7, []),
}


@pytest.mark.parametrize("how", list(CRASHES))
def test_a_crash_restores_the_terminal_and_records_how_the_run_died(tmp_path, scripts, how):
    code, traces = CRASHES[how]
    run_dir = tmp_path / "run"
    proc = start(tmp_path, run_dir, scripts / "crash_mid_fit.py", how)
    try:
        assert proc.wait_exit(timeout=180) == code
        assert_terminal_restored(proc)
    finally:
        proc.close()
    said = bytes(proc.raw).decode("utf-8", "replace")
    how_said = f"exited {code}" if how == "exit" else f"died of {signal.Signals(code - 128).name}"
    assert f"tfmon: crash_mid_fit.py {how_said}" in said and str(run_dir / "output.log") in said, said[-600:]

    end = events_so_far(run_dir)[-1]
    assert end["type"] == "run_end" and end["exit_code"] == code and end["recorded_by"] == "supervisor"
    assert end["signal"] == (None if how == "exit" else signal.Signals(code - 128).name)
    assert liveness.read_status(run_dir).state == "ended"
    assert not (run_dir / "control.sock").exists()
    output = (run_dir / "output.log").read_text(errors="replace")
    assert f"crash_mid_fit dying: {how}" in output
    for text in traces:
        assert text in output, text


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_from_outside_stops_with_a_checkpoint_and_the_signal_recorded(tmp_path, scripts, sig):
    """SIGTERM to the tfmon command (a scheduler, timeout), SIGINT to the run's own pid
    (kill -INT PID from tfmon ls): like Ctrl+C once. The script then waits (its hold
    file never comes) until a second SIGTERM interrupts it; after SIGINT it just ends."""
    run_dir = tmp_path / "run"
    hold = ["hold-never"] if sig == signal.SIGTERM else []
    proc = start(tmp_path, run_dir, scripts / "remote_fit.py", 40, 25, 0, *hold)
    try:
        wait_event(proc, run_dir, "epoch_end")
        target = proc.pid if sig == signal.SIGTERM else events_so_far(run_dir)[0]["pid"]
        assert target != proc.pid or sig == signal.SIGTERM
        os.kill(target, sig)
        wait_event(proc, run_dir, "fit_end")
        if sig == signal.SIGTERM:
            time.sleep(1.0)
            assert proc.poll() is None  # the script holds after fit: only a second signal ends it
            os.kill(target, sig)
        assert proc.wait_exit(timeout=60) == 128 + sig
        assert_terminal_restored(proc)
    finally:
        proc.close()
    evs = events_so_far(run_dir)
    controls = [(e["action"], e["source"]) for e in evs if e["type"] == "control"]
    assert controls == [("checkpoint", "signal"), ("stop", "signal")]
    checkpoints = [e for e in evs if e["type"] == "checkpoint"]
    assert len(checkpoints) == 1 and checkpoints[0]["ok"] and os.path.exists(checkpoints[0]["path"])
    fit_end = next(e for e in evs if e["type"] == "fit_end")
    assert fit_end["epochs_done"] < 40
    end = [e for e in evs if e["type"] == "run_end"]
    assert len(end) == 1 and end[0]["exit_code"] == 128 + sig and end[0]["signal"] == sig.name
    assert end[0].get("recorded_by") is None  # tfmon's own exit path, not the parent's clean-up
    said = bytes(proc.raw).decode("utf-8", "replace")
    assert f"{sig.name}: stopping with a checkpoint" in said


def test_sigterm_to_the_whole_process_group_counts_once(tmp_path, scripts):
    """timeout(1) and systemd signal every process of the job: the run's process gets
    the signal directly and again from the parent. That is one request, not two."""
    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "tfmon", "--headless", "--run-dir", str(run_dir), str(scripts / "remote_fit.py"), "40", "25"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=tfmon_env(), start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not any(e["type"] == "epoch_end" for e in events_so_far(run_dir)):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 143, err
    evs = events_so_far(run_dir)
    assert [e for e in evs if e["type"] == "checkpoint"][0]["ok"]
    assert "remote_fit after fit" in (run_dir / "output.log").read_text()  # not interrupted
    ends = [e for e in evs if e["type"] == "run_end"]
    assert len(ends) == 1 and ends[0]["signal"] == "SIGTERM"
    assert out.count("stopping with a checkpoint") == 1


def test_hangup_while_paused_checkpoints_at_once(tmp_path, scripts):
    run_dir = tmp_path / "run"
    proc = start(tmp_path, run_dir, scripts / "remote_fit.py", 40, 25)
    try:
        wait_event(proc, run_dir, "epoch_end")
        proc.send("p")
        paused = wait_event(proc, run_dir, "paused")
        proc.hang_up()
        checkpoint = wait_event(proc, run_dir, "checkpoint", timeout=30)  # while still paused
        assert not any(e["type"] == "resumed" for e in events_so_far(run_dir))
        assert checkpoint["ok"] and (checkpoint["epoch"], checkpoint["step"]) == (paused["epoch"], paused["step"])
        assert call(run_dir, "stop", wait=10)["ok"]
        proc.wait_exit(timeout=60)
    finally:
        proc.close()
    assert proc.exit_code == 0


def test_hangup_after_the_run_ended_exits_at_once_without_heartbeats(tmp_path, scripts):
    run_dir = tmp_path / "run"
    proc = start(tmp_path, run_dir, scripts / "remote_fit.py", 1, 0)
    try:
        wait_event(proc, run_dir, "run_end")
        proc.wait_for("q quits", timeout=30)  # the UI waits for q, as after any run
        time.sleep(2.5)  # a heartbeat interval: none may come after run_end
        proc.hang_up()
        proc.wait_exit(timeout=15)  # at once: nothing is left to wait for
    finally:
        proc.close()
    assert proc.exit_code == 0
    kinds = [e["type"] for e in events_so_far(run_dir)]
    assert "heartbeat" not in kinds[kinds.index("run_end") :]
    assert liveness.read_status(run_dir).state == "ended"


def test_a_full_disk_stops_recording_never_the_training(tmp_path, scripts, small_disk):
    run_dir = small_disk / "run"
    fill_disk(small_disk, leave=48 * 1024)
    cmd = [sys.executable, "-m", "tfmon", "--headless", "--run-dir", str(run_dir), str(scripts / "remote_fit.py"), "3", "0", "5"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=tfmon_env())
    assert done.returncode == 5, done.stderr  # the script's own code: its prints never raised
    assert "Traceback" not in done.stderr and "No space left on device" in done.stderr
    warnings = [line for line in done.stderr.splitlines() if line.startswith("tfmon: error:")]
    assert 1 <= len(warnings) <= 2 and all("stopped" in w for w in warnings), done.stderr  # once per file
    assert "3 epochs" in done.stdout or "exit 5" in done.stdout, done.stdout
    assert not (run_dir / "control.sock").exists()
