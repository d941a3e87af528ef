"""tfmon.step / epoch_end / checkpointable / should_stop against a real ProbeContext and Control (no TF)."""

from __future__ import annotations

import sys
import threading
import time

import pytest

import tfmon
from tfmon import api
from tfmon.probes import customloop
from tfmon.probes.checkpoint import next_checkpoint_number
from tfmon.probes.context import ProbeContext
from tfmon.probes.control import Control


class Collect:
    def __init__(self):
        self.events = []

    def __call__(self, type_, **fields):
        fields.setdefault("t", time.time())
        self.events.append({"type": type_, **fields})

    def of(self, kind):
        return [e for e in self.events if e["type"] == kind]

    def types(self):
        return [e["type"] for e in self.events if e["type"] != "control"]


@pytest.fixture
def bound(tmp_path):
    out = Collect()
    ctx = ProbeContext(emit=out, control=Control(out), run_dir=tmp_path, batch_event_interval=0.0)
    customloop.bind(ctx)
    yield ctx, out
    customloop.unbind(ctx)


class FakeCheckpoint:
    """Stands for tf.train.Checkpoint (write/read); constructed, so no TF import."""

    def __init__(self):
        self.written = []

    def write(self, prefix):
        self.written.append(prefix)
        with open(prefix + ".index", "w") as f:
            f.write("x")
        return prefix

    def read(self, prefix):
        return None


def test_without_tfmon_everything_is_a_silent_cheap_no_op():
    assert customloop.current_context() is None
    assert tfmon.step(loss=1.0) is False
    assert tfmon.step(step=3, epoch=1, loss=1.0) is False
    assert tfmon.should_stop() is False
    assert tfmon.epoch_end(0, loss=1.0) is None
    ckpt = FakeCheckpoint()
    assert tfmon.checkpointable(ckpt) is ckpt
    started = time.perf_counter()
    for _ in range(100_000):
        tfmon.step(loss=1.0)
    per_call = (time.perf_counter() - started) / 100_000
    assert per_call < 5e-6, f"{per_call * 1e9:.0f} ns per no-op step"


def test_checkpointable_rejects_what_it_cannot_save_with_advice():
    with pytest.raises(TypeError, match=r"tf.train.Checkpoint\(model=model"):
        tfmon.checkpointable(object())


def test_first_step_starts_a_custom_fit_and_steps_are_batches(bound):
    ctx, out = bound
    for i in range(3):
        assert tfmon.step(loss=1.0 / (i + 1), accuracy=0.5) is False
    start = out.of("fit_start")
    assert len(start) == 1 and start[0]["loop"] == "custom" and start[0]["fit"] == 1
    assert start[0]["epochs"] is None and start[0]["steps"] is None
    assert ctx.fit_count == 1  # headless Ctrl+C sees a fit running
    batches = out.of("batch")
    assert [b["global_step"] for b in batches] == [1, 2, 3]
    assert [b["step"] for b in batches] == [1, 2, 3]
    assert batches[2]["logs"] == {"loss": pytest.approx(1 / 3), "accuracy": 0.5}
    assert "epoch" not in batches[0]  # the script never said


def test_batch_events_are_throttled_and_metrics_read_only_when_emitted(bound):
    ctx, out = bound
    ctx.batch_event_interval = 3600.0

    class Tensorish:
        reads = 0

        def __float__(self):
            Tensorish.reads += 1
            return 0.25

    for _ in range(1000):
        tfmon.step(loss=Tensorish())
    assert len(out.of("batch")) == 1
    assert Tensorish.reads == 1  # one read for the one event: no device sync per step


def test_the_scripts_step_number_is_the_global_step(bound):
    _, out = bound
    tfmon.step(step=500, loss=1.0)
    tfmon.step(step=501, loss=1.0)
    assert [b["global_step"] for b in out.of("batch")] == [500, 501]


def test_epochs_from_step_and_epoch_end_make_the_epoch_table(bound):
    _, out = bound
    for epoch in (0, 1):
        for _ in range(4):
            tfmon.step(epoch=epoch, loss=0.5)
        tfmon.epoch_end(epoch, loss=0.5 - epoch / 10, val_loss=0.7)
    assert [e["epoch"] for e in out.of("epoch_start")] == [0, 1]
    ends = out.of("epoch_end")
    assert [(e["epoch"], e["steps"], e["global_step"]) for e in ends] == [(0, 4, 4), (1, 4, 8)]
    assert ends[1]["metrics"] == {"loss": pytest.approx(0.4), "val_loss": 0.7}
    assert all(e["seconds"] >= 0 for e in ends)
    assert out.of("batch")[-1]["epoch"] == 1


def test_epoch_end_alone_numbers_the_next_epoch(bound):
    _, out = bound
    for _ in range(3):
        tfmon.step(loss=1.0)
    tfmon.epoch_end(1, loss=1.0)
    tfmon.step(loss=1.0)
    assert [e["epoch"] for e in out.of("epoch_end")] == [1]
    assert [e["epoch"] for e in out.of("epoch_start")] == [2]
    assert out.of("batch")[-1]["epoch"] == 2


def test_epochs_given_to_step_only_are_closed_for_the_table_and_epoch_hooks(bound):
    ctx, out = bound
    seen = []
    ctx.on_epoch_end.append(seen.append)
    for epoch in (1, 1, 2, 2, 2):
        tfmon.step(epoch=epoch, loss=1.0)
    customloop.unbind(ctx)  # the script ended
    assert [(e["epoch"], e["steps"], e["metrics"]) for e in out.of("epoch_end")] == [(1, 2, {}), (2, 3, {})]
    assert seen == [1, 2]
    assert out.types()[-1] == "fit_end" and out.of("fit_end")[0]["reason"] == "completed"


def test_stop_is_served_at_step_and_returned_until_the_end(bound):
    ctx, out = bound
    tfmon.step(loss=1.0)
    ctx.control.ask("stop", source="test")
    assert tfmon.should_stop() is False  # served at the next step, not before
    assert tfmon.step(loss=1.0) is True
    assert tfmon.should_stop() is True
    assert tfmon.step(loss=1.0) is True
    customloop.unbind(ctx)
    assert out.of("fit_end")[0]["reason"] == "stopped by user"


def test_pause_blocks_inside_step_until_resumed(bound):
    ctx, out = bound
    tfmon.step(epoch=1, loss=1.0)
    ctx.control.ask("pause", source="test")
    returned = threading.Event()

    def one_step():
        tfmon.step(epoch=1, loss=1.0)
        returned.set()

    # The gate serves in whichever thread calls step(); this test's loop is a thread.
    worker = threading.Thread(target=one_step)
    worker.start()
    assert not returned.wait(0.6)
    assert out.of("paused")[0]["epoch"] == 1 and out.of("paused")[0]["step"] == 2
    ctx.control.ask("resume", source="test")
    assert returned.wait(5)
    worker.join()
    assert out.of("resumed")[0]["seconds"] >= 0.5


def test_checkpoint_saves_registered_checkpoints_with_manager_numbering(bound, tmp_path):
    ctx, out = bound
    ckpt = tfmon.checkpointable(FakeCheckpoint())
    tfmon.checkpointable(ckpt)  # twice: saved once
    tfmon.step(loss=1.0)
    ctx.control.ask("checkpoint", source="test")
    tfmon.step(loss=1.0)
    ctx.control.ask("checkpoint", source="hangup")  # the hang-up path
    tfmon.step(loss=1.0)
    folder = tmp_path / "checkpoints"
    assert ckpt.written == [str(folder / "ckpt-1"), str(folder / "ckpt-2")]
    saved = out.of("checkpoint")
    assert [e["ok"] for e in saved] == [True, True] and saved[0]["kind"] == "tf_checkpoint"
    assert (folder / "checkpoint").read_text().splitlines() == [
        'model_checkpoint_path: "ckpt-2"',
        'all_model_checkpoint_paths: "ckpt-1"',
        'all_model_checkpoint_paths: "ckpt-2"',
    ]


def test_checkpoint_numbers_continue_after_existing_ones(tmp_path):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    for n in (1, 7):
        (folder / f"ckpt-{n}.index").write_text("x")
    assert next_checkpoint_number(folder) == 8
    assert next_checkpoint_number(tmp_path / "missing") == 1


def test_checkpoint_with_nothing_registered_says_how(bound):
    ctx, out = bound
    tfmon.step(loss=1.0)
    ctx.control.ask("checkpoint", source="test")
    tfmon.step(loss=1.0)
    failed = out.of("checkpoint")[0]
    assert failed["ok"] is False and "tfmon.checkpointable" in failed["error"]


def test_a_keras_fit_in_between_starts_a_new_custom_fit_afterwards(bound):
    ctx, out = bound
    tfmon.step(loss=1.0)
    ctx.fit_count += 1  # what the Keras callback does when fit starts
    tfmon.step(loss=1.0)
    assert [e["fit"] for e in out.of("fit_start")] == [1, 3]
    assert out.of("batch")[-1]["global_step"] == 1  # counted afresh, as fit does


def test_unbind_only_for_its_own_context_and_nothing_when_the_loop_never_ran(bound, tmp_path):
    ctx, out = bound
    other = ProbeContext(emit=out, control=Control(out), run_dir=tmp_path)
    customloop.unbind(other)
    assert customloop.current_context() is ctx
    customloop.unbind(ctx, exit_code=0)
    assert customloop.current_context() is None
    assert out.events == []  # no step, no fit_start, no fit_end


def test_a_failed_script_ends_the_loop_as_failed(bound):
    ctx, out = bound
    tfmon.step(loss=1.0)
    customloop.unbind(ctx, exit_code=1)
    assert out.of("fit_end")[0]["reason"] == "failed"


def test_per_step_cost_under_tfmon_is_small(bound):
    ctx, _ = bound
    ctx.batch_event_interval = 0.1
    tfmon.step(loss=1.0)
    started = time.perf_counter()
    for i in range(20_000):
        tfmon.step(epoch=1, loss=1.0)
    per_step = (time.perf_counter() - started) / 20_000
    assert per_step < 50e-6, f"{per_step * 1e6:.1f} us per step"


def test_a_step_inside_a_tf_function_is_reported_once_and_devices_are_marked_ready(bound, monkeypatch):
    import types

    ctx, out = bound
    # Constructed: a stand-in for TensorFlow that says "tracing a tf.function now".
    fake_tf = types.SimpleNamespace(inside_function=lambda: True)
    monkeypatch.setitem(sys.modules, "tensorflow", fake_tf)
    seen = []
    ctx.on_devices_ready.append(seen.append)
    tfmon.step(loss=1.0)
    tfmon.step(loss=1.0)
    warnings = [e for e in out.of("log") if "inside a tf.function" in e["text"]]
    assert len(warnings) == 1 and warnings[0]["level"] == "warning"
    assert ctx.devices_ready.is_set() and seen == [fake_tf]
