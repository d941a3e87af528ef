"""The memory sampler for real on this machine (psutil, a real thread), plus its
soft failures, warnings and the optional sources driven by stand-ins."""

from __future__ import annotations

import statistics
import threading
import time
import types

import pytest

from conftest import until
from tfmon.memory.alerts import MemoryAlerts
from tfmon.memory.sampler import MemorySampler, gpu_in_use
from tfmon.memory.readers import (
    NvmlReader,
    ProcessReader,
    ReaderUnavailable,
    SwapTrend,
    TFAllocatorReader,
    footprint_from_proc_status,
    footprint_from_rusage,
)


class Recorder:
    def __init__(self) -> None:
        self.events: list[dict] = []
        self.lock = threading.Lock()

    def __call__(self, type_: str, **fields) -> None:
        fields["type"] = type_
        fields.setdefault("t", time.time())
        with self.lock:
            self.events.append(fields)

    def of(self, type_: str) -> list[dict]:
        with self.lock:
            return [e for e in self.events if e["type"] == type_]


def test_real_samples_arrive_at_the_interval_with_consistent_values():
    rec = Recorder()
    sampler = MemorySampler(rec, interval=0.1)
    started = time.monotonic()
    sampler.start()
    assert until(lambda: len(rec.of("memory")) >= 12, timeout=15)
    elapsed = time.monotonic() - started
    sampler.stop()
    samples = rec.of("memory")
    assert elapsed >= 1.0  # never faster than the interval (12 samples: 11 intervals at least)
    assert samples[0]["proc_threads"] >= 2  # this thread and the sampler's
    gaps = [b["t"] - a["t"] for a, b in zip(samples, samples[1:])]
    assert statistics.median(gaps) == pytest.approx(0.1, abs=0.03)
    assert max(gaps) < 0.5
    for s in samples:
        assert s["proc_rss_mb"] > 0 and s["proc_threads"] >= 1
        assert 0 < s["sys_used_mb"] <= s["sys_total_mb"]
        assert 0 < s["sys_avail_mb"] <= s["sys_total_mb"]
        assert 0 <= s["sys_pct"] <= 100
        assert s["proc_rss_mb"] <= s["sys_total_mb"]
        assert 0 <= s["swap_used_mb"] <= max(s["swap_total_mb"], 0.0)
        assert s["proc_cpu_pct"] >= 0 and s["cpu_ms"] >= 0
        assert "tf_status" not in s  # no devices_ready given: TF is never touched
    assert 0 < samples[-1]["proc_footprint_mb"] <= samples[-1]["proc_rss_mb"]  # Linux: RssAnon + VmSwap, no swap here


def test_keeps_sampling_while_the_main_thread_is_blocked():
    """Samples every 0.1 s go on while the training thread waits (a pause) and while it holds
    the GIL in pure Python. The counts are what 1 s gives with room for a loaded machine (a CI
    run once got 4 in a busy second); the waits end as soon as they are reached (at most 10 s)."""
    rec = Recorder()
    sampler = MemorySampler(rec, interval=0.1)
    sampler.start()
    try:
        assert until(lambda: len(rec.of("memory")) >= 1)
        before = len(rec.of("memory"))
        waiting = threading.Event()
        end = time.monotonic() + 10.0
        while len(rec.of("memory")) - before < 7 and time.monotonic() < end:
            waiting.wait(0.1)  # a paused training waits like this
        during_wait = len(rec.of("memory")) - before
        before = len(rec.of("memory"))
        end = time.monotonic() + 10.0
        n = 0
        while len(rec.of("memory")) - before < 5 and time.monotonic() < end:
            n += 1  # a training step holding the GIL in pure Python (between switch intervals)
        during_busy = len(rec.of("memory")) - before
    finally:
        sampler.stop()
    assert during_wait >= 7, during_wait
    assert during_busy >= 5, during_busy


def test_stops_when_stopped():
    rec = Recorder()
    sampler = MemorySampler(rec, interval=0.05)
    sampler.start()
    assert until(lambda: len(rec.of("memory")) >= 2)
    sampler.stop()
    assert not sampler.running
    count = len(rec.of("memory"))
    time.sleep(0.3)
    assert len(rec.of("memory")) == count
    sampler.stop()  # a second stop is harmless and samples nothing more
    assert len(rec.of("memory")) == count


def test_stop_takes_one_last_sample():
    rec = Recorder()
    sampler = MemorySampler(rec, interval=10.0)  # the thread samples once, at start
    sampler.start()
    assert until(lambda: len(rec.of("memory")) == 1)
    sampler.stop()
    assert len(rec.of("memory")) == 2


class Boom:
    name = "boom"

    def __init__(self) -> None:
        self.calls = 0

    def read(self):
        self.calls += 1
        raise ZeroDivisionError("division by zero in a source")


def test_a_failing_source_never_raises_and_is_logged_once():
    rec = Recorder()
    boom = Boom()
    sampler = MemorySampler(rec, interval=0.05, readers=[boom, ProcessReader()])
    sampler.start()
    assert until(lambda: len(rec.of("memory")) >= 6)
    sampler.stop()
    assert sampler.samples >= 6
    logs = rec.of("log")
    assert len(logs) == 1
    assert "boom" in logs[0]["text"] and "ZeroDivisionError" in logs[0]["text"]
    assert logs[0]["level"] == "warning"
    assert boom.calls == 3  # switched off after three failures in a row
    assert all(s["proc_rss_mb"] > 0 for s in rec.of("memory"))


def test_a_failing_emit_or_epoch_hook_never_raises():
    def bad_emit(type_, **fields):
        raise RuntimeError("consumer gone")

    sampler = MemorySampler(bad_emit, interval=0.05)
    sampler.start()
    assert until(lambda: sampler.samples >= 2)
    assert sampler.running
    sampler.on_epoch_end(0)
    sampler.stop()
    # A sampler whose process source is gone still answers the epoch hook.
    rec = Recorder()
    s2 = MemorySampler(rec, readers=[Boom()])
    s2.on_epoch_end(0)
    assert rec.of("memory_epoch") == []


def test_unavailable_source_is_dropped_silently_when_asked():
    class Absent:
        name = "absent"

        def read(self):
            raise ReaderUnavailable("not installed", silent=True)

    rec = Recorder()
    sampler = MemorySampler(rec, readers=[Absent()])
    sampler.sample_once()
    sampler.sample_once()
    assert rec.of("log") == []
    assert len(rec.of("memory")) == 2


def test_epoch_hook_emits_memory_epoch_and_leak_warning_once():
    rec = Recorder()
    fake_rss = iter([1000.0 + 100 * i for i in range(6)])  # constructed: steady +100 MB/epoch

    class FakeProcess(ProcessReader):
        def rss_mb(self):
            return next(fake_rss)

    sampler = MemorySampler(rec, readers=[FakeProcess()], leak_threshold_mb=50)
    for epoch in range(6):
        sampler.on_epoch_end(epoch)
    epochs = rec.of("memory_epoch")
    assert [e["epoch"] for e in epochs] == list(range(6))
    assert [e["rss_slope_mb"] for e in epochs[:2]] == [None, None]
    assert epochs[-1]["rss_slope_mb"] == pytest.approx(100)
    warnings = rec.of("memory_warning")
    assert len(warnings) == 1 and warnings[0]["kind"] == "leak" and warnings[0]["series"] == "rss"
    assert warnings[0]["epochs"] == 3
    assert "+100 MB/epoch over 3 epochs" in warnings[0]["message"]


def test_alerts_are_raised_once_with_advice():
    alerts = MemoryAlerts()
    high = {"sys_pct": 93.0, "sys_used_mb": 15000.0, "sys_total_mb": 16384.0}
    first = alerts.check(high, training=False)
    assert len(first) == 1 and first[0]["kind"] == "system_memory"
    assert "93%" in first[0]["message"] and "reduce the batch size, or enable memory growth" in first[0]["message"]
    assert alerts.check(high, training=True) == []
    assert alerts.check({"sys_pct": 50.0}, training=True) == []

    swap = {"swap_growing": True, "swap_used_mb": 900.0}
    assert alerts.check(swap, training=False) == []  # before training: not a warning
    assert [w["kind"] for w in alerts.check(swap, training=True)] == ["swap_growing"]
    assert alerts.check(swap, training=True) == []

    gpu = {"tf_status": "ok", "tf_gpu0_mb": 72000.0, "nv0_total_mb": 79000.0}
    got = alerts.check(gpu, training=True)
    assert [w["kind"] for w in got] == ["gpu_limit"] and "GPU:0" in got[0]["message"]
    assert alerts.check({"tf_gpu0_mb": 1000.0, "nv0_total_mb": 79000.0}, training=True) == []


def test_sampler_raises_system_warning_once_over_many_samples():
    class Full:
        name = "system"

        def read(self):
            return {"sys_total_mb": 16384.0, "sys_used_mb": 15800.0, "sys_avail_mb": 584.0, "sys_pct": 96.4}

    rec = Recorder()
    sampler = MemorySampler(rec, readers=[Full()])
    for _ in range(5):
        sampler.sample_once()
    assert [w["kind"] for w in rec.of("memory_warning")] == ["system_memory"]


def test_swap_trend():
    trend = SwapTrend(window_s=30, min_growth_mb=32)
    assert not trend.add(0, 100)
    assert not trend.add(10, 120)
    assert trend.add(20, 140)  # +40 MB within 30 s
    assert not trend.add(40, 150)  # the window now starts at the 120 of t=10: +30 only
    assert trend.add(45, 200)  # +80 within the window
    assert not trend.add(90, 200)  # flat for a whole window: no longer growing


def test_tf_source_waits_for_devices_ready_and_never_reports_a_false_zero():
    ready = threading.Event()
    touched = []

    class FakeTF:  # constructed: counts every call into TF
        class config:
            @staticmethod
            def list_logical_devices(kind):
                touched.append(kind)
                return [object()]

            class experimental:
                @staticmethod
                def get_memory_info(dev):
                    touched.append(dev)
                    return {"current": 0, "peak": 0}  # what tensorflow-metal answers

    src = TFAllocatorReader(ready, modules={"tensorflow": FakeTF})
    assert src.read() == {"tf_status": "waiting"}
    assert touched == []
    ready.set()
    got = src.read()
    assert got == {"tf_status": "unreported", "tf_note": "zeros"}
    assert "tf_gpu0_mb" not in got


def test_tf_source_reports_per_gpu_current_and_peak():
    ready = threading.Event()
    ready.set()
    infos = {"GPU:0": {"current": 512 << 20, "peak": 1 << 30}, "GPU:1": {"current": 0, "peak": 3 << 20}}
    fake_tf = types.SimpleNamespace(  # constructed: a two-GPU CUDA build
        config=types.SimpleNamespace(
            list_logical_devices=lambda kind: ["/device:GPU:0", "/device:GPU:1"],
            experimental=types.SimpleNamespace(get_memory_info=lambda dev: infos[dev]),
        )
    )
    got = TFAllocatorReader(ready, modules={"tensorflow": fake_tf}).read()
    assert got == {
        "tf_status": "ok",
        "tf_gpu0_mb": 512.0,
        "tf_gpu0_peak_mb": 1024.0,
        "tf_gpu1_mb": 0.0,
        "tf_gpu1_peak_mb": 3.0,
    }
    assert gpu_in_use(got) == (512.0, "tf")


def test_nvml_absent_is_silent_and_a_present_one_is_read():
    rec = Recorder()
    sampler = MemorySampler(rec, readers=[NvmlReader()])  # nvidia-ml-py is not installed here
    sampler.sample_once()
    assert rec.of("log") == []

    # Constructed: a stand-in for the pynvml module with one 80 GB GPU.
    nv = types.SimpleNamespace(
        nvmlInit=lambda: None,
        nvmlDeviceGetCount=lambda: 1,
        nvmlDeviceGetHandleByIndex=lambda i: f"h{i}",
        nvmlDeviceGetUtilizationRates=lambda h: types.SimpleNamespace(gpu=87),
        nvmlDeviceGetMemoryInfo=lambda h: types.SimpleNamespace(used=10 << 30, total=80 << 30),
    )
    got = NvmlReader(nv).read()
    assert got == {"nv0_util_pct": 87, "nv0_used_mb": 10240.0, "nv0_total_mb": 81920.0}
    assert gpu_in_use(got) == (10240.0, "nvml")


def test_gpu_in_use_prefers_tf_then_ioreg():
    assert gpu_in_use({"tf_status": "unreported", "agx_inuse_mb": 335.0}) == (335.0, "ioreg")
    assert gpu_in_use({"proc_rss_mb": 1.0}) is None


def _smaps_anonymous_mb() -> float:
    """Anonymous + swapped memory, read independently from /proc/self/smaps_rollup."""
    total = 0
    for line in open("/proc/self/smaps_rollup"):
        if line.startswith(("Anonymous:", "Swap:")):
            total += int(line.split()[1])
    return total / 1024


def test_linux_footprint_tracks_anonymous_memory_and_grows_with_private_memory():
    import numpy as np

    src = ProcessReader()
    before = src.read()["proc_footprint_mb"]
    # Not psutil's USS: that also counts private file-backed pages (relocated
    # libraries), which differ from the anonymous figure once TF is loaded.
    assert before == pytest.approx(_smaps_anonymous_mb(), rel=0.05, abs=16)
    block = np.ones(200 << 20, dtype=np.uint8)  # 200 MB, every page touched
    after = src.read()["proc_footprint_mb"]
    assert after - before == pytest.approx(200, abs=20)
    del block


def test_linux_footprint_parser():
    text = b"Name:\tpython\nVmRSS:\t  1780 kB\nRssAnon:\t  112 kB\nRssFile:\t 1668 kB\nVmSwap:\t  10 kB\n"
    assert footprint_from_proc_status(text) == 122 * 1024
    assert footprint_from_proc_status(b"Name:\tpython\n") is None


def test_macos_footprint_offset():
    # Constructed rusage_info_v0: uuid, 6 counters, resident size, then phys_footprint.
    import struct

    buf = bytes(16) + struct.pack("<8Q", 1, 2, 3, 4, 5, 6, 7, 123456789) + bytes(16)
    assert footprint_from_rusage(buf) == 123456789



@pytest.mark.parametrize("threshold, warned", [(None, True), (500, False), (99, True)])
def test_leak_threshold_flag(threshold, warned):
    """--leak-threshold MB reaches the detector; None (flag not given) means the default 50 MB."""
    rss = iter([1000.0 + 100 * i for i in range(5)])  # constructed: steady +100 MB/epoch

    class FakeProcess(ProcessReader):
        def rss_mb(self):
            return next(rss)

    rec = Recorder()
    sampler = MemorySampler(rec, readers=[FakeProcess()], leak_threshold_mb=threshold)
    for epoch in range(5):
        sampler.on_epoch_end(epoch)
    assert bool(rec.of("memory_warning")) is warned
    assert sampler.verdict().leak is warned
