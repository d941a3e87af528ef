"""MemoryState: folding memory events into the pane's view.

Events come from the recorded real run (tests/fixtures/memory/, made by
record_keras_run.py on a Linux CPU machine) or are constructed where a Mac or
GPU is needed, as each test says."""

from __future__ import annotations

import json
import pathlib

from tfmon.memory.state import MemoryState

RUN = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "memory" / "linux-cpu-keras-leak-run.jsonl"


def _recorded():
    return [json.loads(line) for line in RUN.read_text().splitlines()]


def test_recorded_run_rows_leak_line_and_warning():
    state = MemoryState()
    for e in _recorded():
        state.apply(e)
    rows = {r.key: r for r in state.rows()}
    assert list(rows) == ["proc", "footprint", "cpu", "system", "tf"]  # no swap on this machine: hidden
    assert rows["proc"].text == "1.05 GB RSS"
    assert 0 < rows["proc"].fraction < 0.1
    assert rows["system"].text == "1.64 GB / 23.5 GB"
    assert rows["tf"].text == "not reported by this backend (no GPU visible to TensorFlow)"
    assert rows["tf"].fraction is None and rows["tf"].history is None
    assert len(rows["proc"].history) == 12 and rows["proc"].history[-1] == 1070.1
    assert state.leak_line() == "Growth/epoch: process +81 MB over 6 epochs  LEAK?"
    assert state.warning_lines()[0].startswith("process memory +82 MB/epoch over 3 epochs")


def test_version_moves_only_on_memory_events():
    state = MemoryState()
    state.apply({"type": "batch", "t": 0, "step": 1})
    assert state.version == 0
    state.apply({"type": "memory", "t": 0, "proc_rss_mb": 10.0})
    state.apply({"type": "memory_epoch", "t": 0, "epoch": 0, "n": 1, "rss_mb": 10.0, "rss_slope_mb": None})
    state.apply({"type": "memory_warning", "t": 0, "kind": "system_memory", "message": "m"})
    assert state.version == 3
    assert state.leak_line() == "Growth/epoch: shown from the 3rd epoch (1 so far)"


def test_rows_hide_when_a_source_goes_away_and_history_is_bounded():
    state = MemoryState(history_len=10)
    # Constructed: a Mac sample (ioreg and memory_pressure present), then one without ioreg.
    mac = {
        "type": "memory", "t": 0, "proc_rss_mb": 900.0, "proc_footprint_mb": 700.0, "sys_total_mb": 16384.0,
        "sys_used_mb": 12000.0, "sys_avail_mb": 4000.0, "sys_pct": 75.6, "swap_total_mb": 2048.0,
        "swap_used_mb": 1470.1, "swap_growing": True, "pressure_free_pct": 38.0, "agx_dev_pct": 21,
        "agx_renderer_pct": 19, "agx_inuse_mb": 334.9, "agx_alloc_mb": 1501.9,
        "tf_status": "unreported", "tf_note": "zeros",
    }
    for _ in range(25):
        state.apply(mac)
    rows = {r.key: r for r in state.rows()}
    assert list(rows) == ["proc", "footprint", "system", "swap", "pressure", "tf", "agx", "agx_mem"]
    assert rows["swap"].text == "1.44 GB / 2.00 GB rising"
    assert rows["pressure"].text == "38% free" and rows["pressure"].fraction == 0.62
    assert rows["agx"].text == "21% busy · rend 19%" and rows["agx"].fraction == 0.21
    assert rows["agx_mem"].text == "335 MB in use · 1.47 GB alloc"
    assert rows["tf"].text == "not reported by this backend (zeros only, as under tensorflow-metal)"
    assert len(state.histories["proc_rss_mb"]) == 10
    without = {k: v for k, v in mac.items() if not k.startswith("agx_")}
    state.apply(without)
    assert "agx" not in {r.key for r in state.rows()}


def test_tf_ok_and_nvidia_rows():
    state = MemoryState()
    # Constructed: a CUDA machine with nvidia-ml-py.
    state.apply({
        "type": "memory", "t": 0, "tf_status": "ok", "tf_gpu0_mb": 71000.0, "tf_gpu0_peak_mb": 72000.0,
        "nv0_used_mb": 78000.0, "nv0_total_mb": 79000.0, "nv0_util_pct": 97,
    })
    rows = {r.key: r for r in state.rows()}
    assert rows["tf"].text == "69.3 GB (peak 70.3 GB)" and rows["tf"].fraction > 0.89
    assert rows["nv0"].text == "76.2 GB / 77.1 GB"
    assert rows["nv0_util"].text == "97%"
    state.apply({"type": "memory", "t": 1, "tf_status": "waiting"})
    assert [r.text for r in state.rows()] == ["read once fit() starts"]
