"""What real users' scripts do, run through the real ``tfmon`` (issue 12): scripts of our
own with the same behaviours as the public ones that broke tfmon's counts, fits and
control. Headless runs read the printed lines and events.jsonl; the UI ones run under a pty."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from conftest import run_tfmon, tfmon_env
from ptyrun import PtyProcess

pytestmark = pytest.mark.slow


def test_steps_per_execution_counts_every_batch(tmp_path, scripts):
    done = run_tfmon([str(scripts / "steps_per_execution.py"), "2"], tmp_path / "run")
    assert done.code == 0, done.stderr
    ends = done.of_type("epoch_end")
    assert [(e["steps"], e["global_step"]) for e in ends] == [(100, 100), (100, 200)]
    # Batch events (at most ten a second) count in batches too: never more than 100 a epoch.
    assert all(e["global_step"] <= 100 * e["epoch"] for e in done.of_type("batch"))
    batches = done.of_type("batch")
    assert any(e["global_step"] > 10 * e["epoch"] for e in batches)
    # Keras calls the hook once per execution: every count is the end of one (10, 20, ...).
    assert batches and all(e["global_step"] % 10 == 0 for e in batches)


def test_a_fit_ended_by_a_caught_exception_is_reported_before_the_next_fit(tmp_path, scripts):
    done = run_tfmon([str(scripts / "caught_callback_error.py")], tmp_path / "run")
    assert done.code == 0, done.stderr
    lines = done.stdout.splitlines()
    ended = lines.index("tfmon: fit 1 ended after 2 epochs: failed (RuntimeError: interrupting the training)")
    second = next(i for i, line in enumerate(lines) if line.startswith("tfmon: fit 2:"))
    assert ended < second
    assert any("failed at step 4/10" in line for line in lines[:ended])


@pytest.mark.parametrize("strategy", ["default", "mirrored"])
def test_two_optimizers_each_show_their_own_rate(tmp_path, scripts, strategy):
    args = [str(scripts / "two_optimizers.py")] + (["mirrored"] if strategy == "mirrored" else [])
    done = run_tfmon(args, tmp_path / "run")
    assert done.code == 0, done.stderr
    for e in done.of_type("epoch_end"):
        rates = {k: v for k, v in e["metrics"].items() if "learning_rate" in k}
        assert rates == {"learning_rate/d_optimizer": pytest.approx(3e-4), "learning_rate/g_optimizer": pytest.approx(3e-4)}


def test_mirrored_strategy_shows_the_learning_rate(tmp_path, scripts):
    done = run_tfmon([str(scripts / "mirrored_fit.py")], tmp_path / "run")
    assert done.code == 0, done.stderr
    assert [e["metrics"].get("learning_rate") for e in done.of_type("epoch_end")] == [pytest.approx(0.05)] * 2


def test_an_unloadable_model_is_checkpointed_as_weights_saying_why(tmp_path, scripts):
    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "tfmon", "--headless", "--run-dir", str(run_dir),
           str(scripts / "unregistered_subclass.py"), "400", "50"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=tfmon_env())
    try:
        deadline = time.monotonic() + 120
        while '"fit_start"' not in _read(run_dir / "events.jsonl"):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.3)
        ctl = subprocess.run([sys.executable, "-m", "tfmon", "ctl", str(run_dir), "checkpoint"],
                             capture_output=True, text=True, env=tfmon_env(), timeout=120)
        assert ctl.returncode == 0, ctl.stdout + ctl.stderr
        subprocess.run([sys.executable, "-m", "tfmon", "ctl", str(run_dir), "stop"],
                       capture_output=True, text=True, env=tfmon_env(), timeout=120)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    saved = [line for line in out.splitlines() if line.startswith("tfmon: checkpoint saved:")]
    assert len(saved) == 1 and ".weights.h5" in saved[0] and "Scaled is not registered" in saved[0]
    assert not list((run_dir / "checkpoints").glob("*.keras"))


def _read(path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def test_quit_in_the_ui_ends_a_script_of_several_fits(tmp_path, scripts):
    run_dir = tmp_path / "run"
    argv = [sys.executable, "-m", "tfmon", "--run-dir", str(run_dir), str(scripts / "several_fits.py"), "8", "50", "10"]
    proc = PtyProcess(argv, env=tfmon_env(TERM="xterm-256color"), cwd=tmp_path, cols=120, rows=40)
    try:
        proc.wait_for("epoch 1/50", timeout=120)
        proc.send("q")
        proc.wait_for("Checkpoint, then interrupt the script and quit", timeout=20)
        proc.send("c")
        assert proc.wait_exit(120) == 130
        after = proc.text()
        assert "tfmon: checkpoint saved:" in after and "tfmon: quit: the script was interrupted" in after
        assert "Traceback" not in after
    finally:
        proc.close()
    events = (run_dir / "events.jsonl").read_text()
    assert events.count('"type":"fit_start"') == 1
    assert "fit 1 done" not in (run_dir / "output.log").read_text()


def test_a_loop_without_tfmon_calls_is_offered_only_what_can_happen(tmp_path, scripts):
    run_dir = tmp_path / "run"
    argv = [sys.executable, "-m", "tfmon", "--run-dir", str(run_dir), str(scripts / "plain_gradient_tape.py"), "100000", "5"]
    proc = PtyProcess(argv, env=tfmon_env(TERM="xterm-256color"), cwd=tmp_path, cols=120, rows=40)
    try:
        proc.wait_for("running", timeout=120)
        proc.wait_for("step 50 ", timeout=120)  # its own output, in the Log pane
        proc.send("p")
        proc.wait_for("pause waits for a fit or tfmon.step()", timeout=20)
        assert "pausing" not in proc.text()
        proc.send("q")
        proc.wait_for("Interrupt the script and quit", timeout=20)
        assert "Checkpoint, then" not in proc.text()  # (the footer still names the c key)
        proc.send("y")
        assert proc.wait_exit(120) == 130
    finally:
        proc.close()
