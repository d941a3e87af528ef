"""The benchmarks' pure helpers still import and compute (no timing is asserted here).

The runs themselves take minutes (benchmarks/run.py); this only keeps the table,
ratio, latency and pause-pairing code from rotting. Inputs are constructed.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks import control_delay, overhead, stats, ui_throughput  # noqa: E402


def _run(script, variant, train, rss, ok=True, **extra):
    return {"script": script, "variant": variant, "ok": ok, "exit_code": 0 if ok else 1, "train_s": train,
            "wall_s": train + 5, "rss_mb": rss, "cpu_s": train * 2, "batches": 100, **extra}


def test_median_percentile_ratio():
    assert stats.median([3, None, 1, 2]) == 2
    assert stats.median([None]) is None
    assert stats.percentile([5, 1, 3, 2, 4], 100) == 5
    assert stats.percentile([5, 1, 3, 2, 4], 50) == 3
    assert stats.ratio(3.0, 2.0) == 1.5
    assert stats.ratio(3.0, 0) is None


def test_summarize_medians_and_ratios_against_plain():
    runs = [
        _run("demo_cnn", "plain", 2.0, 600), _run("demo_cnn", "plain", 4.0, 610),
        _run("demo_cnn", "tfmon-headless", 3.3, 640), _run("demo_cnn", "tfmon-headless", 3.3, 650),
        _run("demo_cnn", "tfmon-ui", 99.0, 700, ok=False),
    ]
    s = stats.summarize(runs, ("train_s", "rss_mb"))
    assert s["demo_cnn"]["plain"]["train_s"] == 3.0
    assert abs(s["demo_cnn"]["tfmon-headless"]["train_s_ratio"] - 1.1) < 1e-9
    assert s["demo_cnn"]["tfmon-headless"]["rss_mb_delta"] == 645 - 605
    assert "tfmon-ui" not in s["demo_cnn"]  # failed runs are left out of the medians


def test_paired_ratios_cancel_drift_between_rounds():
    # The machine slows down by half in round 1: medians of each variant mix the two
    # speeds, the per-round ratios do not.
    runs = [
        _run("demo_cnn", "plain", 2.0, 600, round=0), _run("demo_cnn", "tfmon-ui", 2.1, 640, round=0),
        _run("demo_cnn", "plain", 3.0, 600, round=1), _run("demo_cnn", "tfmon-ui", 3.15, 640, round=1),
        _run("demo_cnn", "plain", 2.1, 600, round=2), _run("demo_cnn", "tfmon-ui", 9.9, 640, round=2, ok=False),
    ]
    assert stats.paired_ratios(runs, "train_s")["demo_cnn"]["tfmon-ui"] == [1.05, 1.05]
    row = stats.summarize(runs, ("train_s",))["demo_cnn"]["tfmon-ui"]
    assert abs(row["train_s_paired"] - 1.05) < 1e-9 and row["train_s_paired_min"] == row["train_s_paired_max"]
    assert abs(row["train_s_ratio"] - 2.625 / 2.1) < 1e-9  # the ratio of medians reads 1.25 here
    aims = overhead.aims_report(runs)
    assert "[MISS] demo CNN, full UI <= 1.03x plain: 1.050 paired median, rounds 1.05-1.05" in aims


def test_table_is_aligned_markdown():
    text = stats.table(["a", "bb"], [["x", "1.00"], ["yyy", "10.00"]])
    lines = text.splitlines()
    assert lines[0].startswith("| a ") and lines[1].startswith("|-")
    assert len({len(line) for line in lines}) == 1


def test_overhead_report_and_aims():
    runs = [_run("demo_cnn", "plain", 2.0, 600), _run("demo_cnn", "tfmon-ui", 2.2, 640, tfmon_cpu_s=0.5, first_frame_s=0.8),
            _run("demo_cnn", "keras-verbose1", 2.1, 600)]
    text = overhead.report(runs)
    assert "tfmon-ui" in text and "1.100" in text
    aims = overhead.aims_report(runs)
    assert "[MISS] demo CNN, full UI <= 1.03x plain: 1.100" in aims
    assert "[MISS] demo_cnn: tfmon-ui below keras-verbose1" in aims
    assert "[met ] time to first frame < 1 s: median 0.80 s" in aims


def test_variant_command_lines(tmp_path):
    argv, paths = overhead.build_argv("py", "tiny_mlp", "tfmon-no-placement", True, tmp_path, 7)
    assert argv[1].endswith("tfmon_launch.py") and "--no-placement" in argv and "--headless" in argv
    assert argv[argv.index("--bench-out") + 1] == str(paths["timing"])
    argv, paths = overhead.build_argv("py", "demo_cnn", "tensorboard", False, tmp_path, 8)
    assert argv[1].endswith("demo_cnn.py") and argv[argv.index("--tensorboard") + 1] == str(paths["tb"])
    assert not overhead.VARIANTS["tfmon-headless"].ui and overhead.VARIANTS["tfmon-ui"].ui


def test_latency_is_measured_to_the_next_frame():
    drains = [(10.0, 5, 9.95), (10.1, 0, None)]
    ticks = [(10.0, 10.01)]
    frames = [10.03]
    lat = ui_throughput.latencies(drains, ticks, frames, 9.0, 11.0)
    assert len(lat) == 1 and abs(lat[0] - 0.08) < 1e-9


def test_pause_pairing_counts_batches_between_request_and_pause():
    evs = [
        {"type": "control", "action": "pause", "t": 1.000},
        {"type": "paused", "t": 1.012, "epoch": 1, "step": 5},
        {"type": "checkpoint", "ok": True, "t": 1.1, "seconds": 0.04, "size": 6e6, "path": "x.keras"},
        {"type": "resumed", "t": 1.3},
        {"type": "checkpoint", "ok": True, "t": 1.5, "seconds": 0.05, "size": 6e6, "path": "y.keras"},
    ]
    res = control_delay.analyse(evs, [0.99, 1.011, 1.02], [("pause", 0.998)])
    (p,) = res["pauses"]
    assert p["batches"] == 1 and abs(p["delay_ms"] - 12) < 1e-6 and abs(p["from_send_ms"] - 14) < 1e-6
    assert [c["paused"] for c in res["checkpoints"]] == [True, False]
    assert "checkpoint of the demo CNN" in control_delay.report(res | {"channel": True})
