"""Custom training loops (issue 8), on real TensorFlow.

- ``tf.summary`` scalars written by the script (inside a ``tf.function`` and
  eagerly) reach ``events.jsonl`` with the values its own TensorBoard log holds;
- ``tfmon.step`` is the batch boundary: pause blocks the loop there, stop is
  returned, checkpoint saves what ``tfmon.checkpointable`` registered;
- the same example runs under plain ``python`` with no trace of tfmon.

Two subprocesses (the example under ``tfmon --headless`` and under ``python``);
the control tests run LiveRun in this process, in a thread, as the UI does.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, SCRIPTS, run_tfmon, tfmon_env

pytestmark = pytest.mark.slow

EXAMPLE = ROOT / "examples" / "custom_loop.py"


def tensorboard_scalars(logdir: Path) -> dict[tuple[str, int], float]:
    """What TensorBoard will show: every scalar in the event files, read with TF's own reader."""
    import tensorflow as tf

    values = {}
    for path in sorted(Path(logdir).glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == "scalars":
                    values[(value.tag, event.step)] = float(tf.make_ndarray(value.tensor))
    return values


# -- the example under tfmon, and under python


def test_example_under_tfmon_summary_scalars_equal_the_tensorboard_log(tmp_path):
    results = tmp_path / "results.json"
    logdir = tmp_path / "logs"
    done = run_tfmon(
        [str(EXAMPLE), "--epochs", "3", "--logdir", str(logdir), "--ckpt-dir", str(tmp_path / "own-ckpt"),
         "--results", str(results)],
        tmp_path / "run", cwd=tmp_path,
    )
    assert done.code == 0, done.stderr + done.output_log()[-3000:]
    figures = json.loads(results.read_text())
    written = tensorboard_scalars(logdir)
    # The script's own log is complete: one batch_loss per step, one epoch scalar per epoch.
    assert sorted(s for tag, s in written if tag == "batch_loss") == list(range(1, figures["steps"] + 1))
    assert sorted(s for tag, s in written if tag == "epoch_loss") == [1, 2, 3]

    scalars = done.of_type("scalar")
    assert scalars, "no scalar events"
    for e in scalars:  # every value shown is the value written at that step
        assert e["value"] == written[(e["name"], e["step"])], e
        assert e["run"] == "logs" and e["logdir"] == str(logdir)
    shown = {(e["name"], e["step"]) for e in scalars}
    # Written once per epoch: all there. Written per step (from the tf.function): thinned, the last one kept.
    assert {("epoch_loss", s) for s in (1, 2, 3)} <= shown
    assert {("epoch_accuracy", s) for s in (1, 2, 3)} <= shown
    assert ("batch_loss", figures["steps"]) in shown
    assert any(name == "batch_loss" for name, _ in shown)

    # tfmon.step / tfmon.epoch_end: the events the Keras callback emits.
    fit = done.of_type("fit_start")
    assert len(fit) == 1 and fit[0]["loop"] == "custom" and fit[0]["epochs"] is None
    ends = done.of_type("epoch_end")
    assert [e["epoch"] for e in ends] == [1, 2, 3]
    assert ends[-1]["metrics"]["loss"] == pytest.approx(figures["loss"], rel=1e-6)
    assert ends[-1]["global_step"] == figures["steps"]
    assert sum(e["steps"] for e in ends) == figures["steps"]
    batches = done.of_type("batch")
    assert batches and all(isinstance(b["logs"]["loss"], float) for b in batches)
    steps = [b["global_step"] for b in batches]
    assert steps == sorted(steps) and steps[-1] <= figures["steps"]
    assert done.of_type("fit_end")[-1]["reason"] == "completed"
    assert "epoch 3: loss" in done.output_log()  # the script's own print went to the run


def test_example_under_plain_python_runs_to_the_end_without_tfmon(tmp_path):
    results = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, str(EXAMPLE), "--epochs", "2", "--logdir", str(tmp_path / "logs"),
         "--ckpt-dir", str(tmp_path / "own-ckpt"), "--results", str(results)],
        capture_output=True, text=True, cwd=tmp_path, env=tfmon_env(TF_CPP_MIN_LOG_LEVEL="2"), timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [line for line in proc.stdout.splitlines() if line.startswith("epoch ")]
    assert len(proc.stdout.splitlines()) == 2
    assert "tfmon" not in proc.stdout + proc.stderr
    assert not (tmp_path / "tfmon-runs").exists()
    assert json.loads(results.read_text())["stopped"] is False
    assert tensorboard_scalars(tmp_path / "logs")  # TensorBoard logs written as usual


# -- the API under tfmon, in this process


class InProcessRun:
    """A LiveRun in a worker thread (as under the UI), its events drained by the test."""

    def __init__(self, script: Path, args: list[str], run_dir: Path) -> None:
        from tfmon.run.session import LiveRun, Options

        options = Options(run_dir=run_dir, capture_fds=False, placement=False, sample_interval=0, headless=True)
        self.run = LiveRun(script, args, options)
        self._sub = self.run.bus.subscribe()
        self.seen: list[dict] = []
        self.run.prepare()
        self.thread = threading.Thread(target=self.run.run_job, daemon=True)
        self.thread.start()

    def of_type(self, kind: str) -> list[dict]:
        self.seen += self._sub.drain()
        return [e for e in self.seen if e["type"] == kind]

    def wait_for(self, predicate, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            assert self.thread.is_alive() or predicate(), "the script ended first"
            assert time.monotonic() < deadline, "timed out"
            time.sleep(0.05)

    def last_step(self) -> int:
        batches = self.of_type("batch")
        return batches[-1]["global_step"] if batches else 0

    def end(self) -> int:
        self.thread.join(timeout=60)
        assert not self.thread.is_alive()
        self.run.finish()
        return self.run.result.exit_code


def test_pause_blocks_at_step_and_checkpoint_then_stop_saves_the_variables_it_stops_with(tmp_path):
    import tensorflow as tf

    out = tmp_path / "final.npz"
    live = InProcessRun(SCRIPTS / "custom_loop_control.py", [str(out), "tf", "2"], tmp_path / "run")
    control = live.run.control
    try:
        live.wait_for(lambda: live.last_step() >= 20)
        control.ask("pause", source="test")
        live.wait_for(lambda: live.of_type("paused"), timeout=10)
        paused = live.of_type("paused")[0]
        step_at_pause = live.last_step()
        time.sleep(2.2)  # the loop is blocked inside tfmon.step: no step, no batch event
        assert [b for b in live.of_type("batch") if b["t"] > paused["t"]] == []
        assert live.thread.is_alive()

        control.ask("resume", source="test")
        live.wait_for(lambda: live.last_step() > step_at_pause + 10)  # it trains again
        assert live.of_type("resumed")[0]["seconds"] >= 2.0

        control.ask("pause", source="test")
        live.wait_for(lambda: len(live.of_type("paused")) == 2, timeout=10)
        control.ask("checkpoint", source="test")  # served while paused
        live.wait_for(lambda: live.of_type("checkpoint"), timeout=30)
        control.ask("stop", source="test")  # ends the pause: step() returns True
    finally:
        code = live.end()
    assert code == 0

    final = np.load(out)
    assert bool(final["should_stop"]) is True
    assert final["steps"] < 20000  # it left on stop, not on its time limit
    saved = live.of_type("checkpoint")[0]
    assert saved["ok"] and saved["kind"] == "tf_checkpoint"
    folder = live.run.run_dir / "checkpoints"
    assert saved["path"] == str(folder / "ckpt-1")
    assert tf.train.latest_checkpoint(str(folder)) == saved["path"]  # the CheckpointManager state file

    # Restores to the variables the loop stopped with (nothing ran between checkpoint and stop).
    model = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(3, activation="relu"), tf.keras.layers.Dense(1)])
    tf.train.Checkpoint(model=model).read(saved["path"]).expect_partial()
    restored = [v.numpy() for v in model.weights]
    stopped_with = [final[f"arr_{i}"] for i in range(len(restored))]
    assert any(np.abs(w).sum() > 0 for w in stopped_with)
    for got, want in zip(restored, stopped_with):
        np.testing.assert_array_equal(got, want)

    # The loop reported itself like fit does.
    assert live.of_type("fit_start")[0]["loop"] == "custom"
    assert live.of_type("epoch_start")[0]["epoch"] == 1
    steps = [b["global_step"] for b in live.of_type("batch")]
    assert steps == sorted(steps)
    end = live.of_type("fit_end")[0]
    assert end["reason"] == "stopped by user" and end["loop"] == "custom"
    assert [e["type"] for e in live.seen].index("fit_end") < [e["type"] for e in live.seen].index("run_end")


@pytest.mark.parametrize("register", ["keras", "none"])
def test_checkpoint_of_a_registered_keras_model_or_a_clear_error(tmp_path, register):
    import keras

    out = tmp_path / "final.npz"
    live = InProcessRun(SCRIPTS / "custom_loop_control.py", [str(out), register, "1"], tmp_path / "run")
    try:
        live.wait_for(lambda: live.last_step() >= 10)
        # Paused first, so no step runs between the checkpoint and the stop.
        live.run.control.ask("pause", source="test")
        live.wait_for(lambda: live.of_type("paused"), timeout=10)
        live.run.control.ask("checkpoint", source="test")
        live.run.control.ask("stop", source="test")
    finally:
        code = live.end()
    assert code == 0
    final = np.load(out)
    assert bool(final["should_stop"]) is True
    saved = live.of_type("checkpoint")[0]
    if register == "none":
        assert saved["ok"] is False and "tfmon.checkpointable" in saved["error"]
        return
    assert saved["ok"] and saved["kind"] == "model" and saved["path"].endswith(".keras")
    model = keras.models.load_model(saved["path"])
    for i, w in enumerate(model.get_weights()):
        np.testing.assert_array_equal(w, final[f"arr_{i}"])


# -- the summary probe alone, in this process


def test_summary_probe_reads_function_and_eager_scalars_skips_keras_writers_and_unpatches(tmp_path):
    import tensorflow as tf

    from tfmon.probes import summaries

    original = tf.summary.create_file_writer
    got: list[dict] = []
    tail = summaries.install(lambda type_, **f: got.append({"type": type_, **f}), tf, interval=3600, min_gap=0)
    try:
        assert tf.summary.create_file_writer is not original
        logdir = tmp_path / "logs" / "train"
        writer = tf.summary.create_file_writer(str(logdir))
        assert tail.watched() == [str(logdir)]

        @tf.function
        def step_fn(step, x):
            with writer.as_default():
                tf.summary.scalar("loss", x * 2.0, step=step)

        for i in range(5):
            step_fn(tf.constant(i, tf.int64), tf.constant(i / 3))
        with writer.as_default():
            tf.summary.scalar("lr", 0.5, step=7)
            tf.summary.histogram("weights", [1.0, 2.0], step=1)  # not a scalar: not shown
            tf.summary.text("note", "hello", step=1)
        tail.poll()  # no flush by the script: the default writer now flushes each write
        written = tensorboard_scalars(logdir)
        shown = {(e["name"], e["step"]): e["value"] for e in got if e["type"] == "scalar"}
        assert shown == written
        assert len(written) == 6 and written[("loss", 3)] == pytest.approx(2.0)

        # Keras' own TensorBoard callback writers are left alone (constructed: a caller module named keras.*).
        namespace = {"__name__": "keras.src.callbacks.fake", "tf": tf}
        exec("def make(d):\n    return tf.summary.create_file_writer(d)", namespace)
        namespace["make"](str(tmp_path / "keras-logs"))
        assert tail.watched() == [str(logdir)]

        # A writer with its own flush settings keeps them (nothing reaches the file before
        # the block ends); tfmon flushes it when it stops.
        own = tf.summary.create_file_writer(str(tmp_path / "own"), flush_millis=600_000)
        with own.as_default():
            tf.summary.scalar("accuracy", 0.25, step=3)
            tail.poll()
            assert not [e for e in got if e.get("name") == "accuracy"]
            summaries.uninstall()
            assert [(e["name"], e["value"]) for e in got if e.get("name") == "accuracy"] == [("accuracy", 0.25)]
    finally:
        summaries.uninstall()
    assert tf.summary.create_file_writer is original
