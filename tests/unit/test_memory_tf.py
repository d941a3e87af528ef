"""The memory probe against real TensorFlow on this CPU build: leak detection over a
real Keras training, the allocator source ("not reported", never 0), the rule that
TF is untouched before ``devices_ready``, and ``--memory-growth``."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import textwrap
import threading
import types

import numpy as np
import pytest

from tfmon.memory.growth import apply_memory_growth
from tfmon.memory.sampler import MemorySampler
from tfmon.memory.readers import TFAllocatorReader
from tfmon.memory.state import MemoryState

pytestmark = pytest.mark.slow
SRC = str(pathlib.Path(__file__).resolve().parents[2] / "src")


@pytest.fixture(scope="module")
def tf():
    return pytest.importorskip("tensorflow")


def _train(tf, leak: bool, epochs: int = 5):
    """A tiny real Keras training whose epoch ends feed the sampler, as tfmon's callback does.
    With ``leak`` the script keeps an 80 MB tensor per epoch in a global-like list."""
    import keras

    events: list[dict] = []
    lock = threading.Lock()

    def emit(type_, **fields):
        with lock:
            events.append({"type": type_, **fields})

    ready = threading.Event()
    sampler = MemorySampler(emit, interval=0.5, devices_ready=ready, leak_threshold_mb=50)
    kept = []

    class ScriptLeak(keras.callbacks.Callback):  # the user's script
        def on_epoch_end(self, epoch, logs=None):
            if leak:
                kept.append(tf.random.uniform([20_000_000]))  # 80 MB of float32, kept alive

    class Probe(keras.callbacks.Callback):  # what tfmon's callback does with the sampler
        def on_train_begin(self, logs=None):
            ready.set()

        def on_epoch_end(self, epoch, logs=None):
            sampler.on_epoch_end(epoch)

    rng = np.random.default_rng(0)
    x = rng.random((512, 16), dtype=np.float32)
    y = x.sum(axis=1, keepdims=True)
    model = keras.Sequential([keras.Input((16,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(1)])
    model.compile("adam", "mse")
    sampler.start()
    try:
        model.fit(x, y, epochs=epochs, batch_size=64, verbose=0, callbacks=[ScriptLeak(), Probe()])
        sampler.sample_once()
    finally:
        sampler.stop()
    kept.clear()
    return events


def test_a_script_that_keeps_a_tensor_per_epoch_is_flagged(tf):
    events = _train(tf, leak=True)
    epochs = [e for e in events if e["type"] == "memory_epoch"]
    assert len(epochs) == 5
    assert epochs[-1]["rss_slope_mb"] == pytest.approx(80, abs=25)
    leaks = [e for e in events if e["type"] == "memory_warning" and e["kind"] == "leak"]
    assert len(leaks) == 1, leaks
    assert "MB/epoch over" in leaks[0]["message"] and "keeps references" in leaks[0]["message"]
    state = MemoryState()
    for e in events:
        state.apply(e)
    assert "LEAK?" in state.leak_line()


def test_the_same_script_without_the_append_is_not_flagged(tf):
    events = _train(tf, leak=False)
    epochs = [e for e in events if e["type"] == "memory_epoch"]
    assert len(epochs) == 5
    assert abs(epochs[-1]["rss_slope_mb"]) < 25
    assert not [e for e in events if e["type"] == "memory_warning"]


def test_allocator_on_this_cpu_build_is_not_reported_rather_than_zero(tf):
    tf.constant(1.0)  # devices initialised, as they are once fit has started
    ready = threading.Event()
    ready.set()
    got = TFAllocatorReader(ready).read()
    assert got == {"tf_status": "unreported", "tf_note": "no_gpu"}
    assert not any(k.startswith("tf_gpu") for k in got)
    state = MemoryState()
    state.apply({"type": "memory", "t": 0.0, "proc_rss_mb": 500.0, **got})
    (row,) = [r for r in state.rows() if r.key == "tf"]
    assert row.text.startswith("not reported by this backend") and row.fraction is None


_SPLIT_SCRIPT = textwrap.dedent(
    """
    import sys, threading, time
    import tensorflow as tf
    from tfmon.memory import MemorySampler

    ready = threading.Event()
    if sys.argv[1] == "ready":
        ready.set()
    events = []
    sampler = MemorySampler(lambda type_, **f: events.append((type_, f)), interval=0.05, devices_ready=ready)
    sampler.start()
    deadline = time.time() + 30
    while sum(1 for t, _ in events if t == "memory") < 3 and time.time() < deadline:
        time.sleep(0.02)
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
        )
        print("SPLIT", len(tf.config.list_logical_devices("CPU")))
    except RuntimeError as exc:
        print("SPLIT-FAILED", exc)
    sampler.stop()
    print("TF_STATUS", sorted({f.get("tf_status") for t, f in events if t == "memory"}))
    """
)


def test_sampler_leaves_tf_device_setup_alone_until_devices_ready(tmp_path):
    script = tmp_path / "split_cpu.py"
    script.write_text(_SPLIT_SCRIPT)
    env = {**os.environ, "PYTHONPATH": SRC, "TF_CPP_MIN_LOG_LEVEL": "3"}
    # Both at once (two cores): the script under test, and a control where devices_ready
    # is already set, which must break the split: it shows the test can fail.
    procs = {
        mode: subprocess.Popen([sys.executable, str(script), mode], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for mode in ("unset", "ready")
    }
    out = {mode: p.communicate(timeout=120) for mode, p in procs.items()}
    unset_out, unset_err = out["unset"]
    assert procs["unset"].returncode == 0, unset_err[-2000:]
    assert "SPLIT 2" in unset_out, unset_out + unset_err[-2000:]
    assert "TF_STATUS ['waiting']" in unset_out
    ready_out, ready_err = out["ready"]
    assert "SPLIT-FAILED" in ready_out, ready_out + ready_err[-2000:]
    assert "unreported" in ready_out


def test_memory_growth_is_a_reported_no_op_without_gpu(tf):
    msg = apply_memory_growth(tf)
    assert "no GPU" in msg and "no-op" in msg


def test_memory_growth_sets_every_gpu_and_reports_failures():
    calls = []

    def set_memory_growth(gpu, enable):
        if gpu.name.endswith("1"):
            raise RuntimeError("Physical devices cannot be modified after being initialized")
        calls.append((gpu.name, enable))

    gpus = [types.SimpleNamespace(name=f"/physical_device:GPU:{i}") for i in range(2)]
    fake_tf = types.SimpleNamespace(  # constructed: a two-GPU build
        config=types.SimpleNamespace(
            list_physical_devices=lambda kind: gpus if kind == "GPU" else [],
            experimental=types.SimpleNamespace(set_memory_growth=set_memory_growth),
        )
    )
    msg = apply_memory_growth(fake_tf)
    assert calls == [("/physical_device:GPU:0", True)]
    assert "enabled on GPU:0" in msg and "could not enable it on GPU:1 (RuntimeError" in msg


class _CountingTF:
    """The two calls TFAllocatorReader makes, answering what a counting backend answers
    (the simulated GPU of tests/simgpu does it for real): zeros until it allocates."""

    def __init__(self, readings):
        self._readings = iter(readings)
        self.config = types.SimpleNamespace(
            list_logical_devices=lambda kind: ["GPU:0"],
            experimental=types.SimpleNamespace(get_memory_info=lambda dev: next(self._readings)),
        )


def test_a_backend_that_counts_is_reported_once_it_has_counted_even_small_and_zero():
    readings = [{"current": 0, "peak": 0}, {"current": 12 * 1024, "peak": 40 * 1024}, {"current": 0, "peak": 40 * 1024},
                {"current": 0, "peak": 0}]
    ready = threading.Event()
    ready.set()
    source = TFAllocatorReader(ready, modules={"tensorflow": _CountingTF(readings)})
    got = [source.read() for _ in readings]
    assert got[0] == {"tf_status": "unreported", "tf_note": "zeros"}  # nothing allocated yet, or Metal
    assert got[1]["tf_status"] == "ok"
    assert got[3] == {"tf_status": "ok", "tf_gpu0_mb": 0.0, "tf_gpu0_peak_mb": 0.0}  # real zeros now
    state = MemoryState()
    state.apply({"type": "memory", "t": 0.0, "proc_rss_mb": 500.0, **got[1]})
    (row,) = [r for r in state.rows() if r.key == "tf"]
    assert row.text == "12 KB (peak 40 KB)"  # not "0.0 MB"
