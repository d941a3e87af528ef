"""ioreg and macOS tool parsers on real captured output, and the macOS sampler path
driven by an injected platform with the commands' output replayed from fixtures."""

from __future__ import annotations

import pathlib
import subprocess
import types

import pytest

from tfmon.memory import ioreg, macos
from tfmon.memory.sampler import MemorySampler
from tfmon.memory.readers import IoregReader, MacPressureReader, ReaderUnavailable

FIX = pathlib.Path(__file__).resolve().parents[1] / "fixtures"
M1PRO = (FIX / "ioreg" / "m1pro-t6000-macos12.6.txt").read_text()
M4 = (FIX / "ioreg" / "m4-agxacceleratorg16g-performance-statistics.txt").read_text()
MACOS = (FIX / "macos" / "m1pro-16gb-vm_stat-memory_pressure-swapusage.txt").read_text()


def test_ioreg_m1pro_fixture_exact_numbers():
    assert ioreg.parse_ioreg(M1PRO) == {
        "device_pct": 2,
        "renderer_pct": 2,
        "tiler_pct": 2,
        "in_use_bytes": 340983808,
        "alloc_bytes": 1214005248,
    }


def test_ioreg_m4_fixture_takes_in_use_not_the_driver_key():
    # The line also has "In use system memory (driver)"=0: it must not win.
    assert ioreg.parse_ioreg(M4) == {
        "device_pct": 21,
        "renderer_pct": 19,
        "tiler_pct": 20,
        "in_use_bytes": 351141888,
        "alloc_bytes": 1574862848,
    }


def test_ioreg_keys_missing_gives_none_or_partial():
    # Constructed: the M1 Pro dump without its PerformanceStatistics line.
    no_stats = "\n".join(line for line in M1PRO.splitlines() if "PerformanceStatistics" not in line)
    assert ioreg.parse_ioreg(no_stats) is None
    assert ioreg.missing_keys(None) == list(ioreg.KEYS)
    # Constructed: only the driver key and one utilisation left.
    partial = '"PerformanceStatistics" = {"In use system memory (driver)"=0,"Device Utilization %"=7}'
    stats = ioreg.parse_ioreg(partial)
    assert stats == {"device_pct": 7}
    assert "In use system memory" in ioreg.missing_keys(stats)


@pytest.mark.parametrize("garbage", ["", "garbage\x00\xff{{{", '"PerformanceStatistics" = {', None, "ioreg: command not found"])
def test_ioreg_garbage_is_none(garbage):
    assert ioreg.parse_ioreg(garbage) is None


def test_macos_swapusage_and_memory_pressure_from_fixture():
    swap = macos.parse_swapusage(MACOS)
    assert swap == {
        "total_bytes": 2048 * (1 << 20),
        "used_bytes": round(1470.06 * (1 << 20)),
        "free_bytes": round(577.94 * (1 << 20)),
    }
    assert macos.parse_memory_pressure(MACOS) == 38.0
    assert macos.parse_swapusage("nothing here") is None
    assert macos.parse_memory_pressure("nothing here") is None


class Replay:
    """A stand-in for subprocess.run that answers with the captured macOS output."""

    def __init__(self, outputs: dict[str, str | BaseException]) -> None:
        self.outputs = outputs
        self.calls: list[list[str]] = []

    def __call__(self, cmd, **kwargs):
        self.calls.append(cmd)
        assert kwargs.get("timeout"), "every command runs with a timeout"
        out = self.outputs[cmd[0]]
        if isinstance(out, BaseException):
            raise out
        return types.SimpleNamespace(returncode=0, stdout=out, stderr="")


def _collect():
    events = []
    return events, lambda type_, **f: events.append({"type": type_, **f})


def test_darwin_platform_path_reads_ioreg_and_memory_pressure():
    runner = Replay({"ioreg": M4, "memory_pressure": MACOS, "sysctl": MACOS})
    events, emit = _collect()
    sampler = MemorySampler(emit, platform="darwin", runner=runner)
    fields = sampler.sample_once()
    assert ["ioreg", "-r", "-d", "1", "-w", "0", "-c", "IOAccelerator"] in runner.calls
    assert fields["agx_dev_pct"] == 21 and fields["agx_renderer_pct"] == 19 and fields["agx_tiler_pct"] == 20
    assert fields["agx_inuse_mb"] == round(351141888 / (1 << 20), 1)
    assert fields["agx_alloc_mb"] == round(1574862848 / (1 << 20), 1)
    assert fields["pressure_free_pct"] == 38.0
    assert not [e for e in events if e["type"] == "log"]
    assert events[0]["type"] == "memory" and events[0]["agx_dev_pct"] == 21


def test_ioreg_runs_at_most_once_a_second():
    now = [100.0]
    runner = Replay({"ioreg": M1PRO})
    src = IoregReader(runner, clock=lambda: now[0])
    for _ in range(4):
        assert src.read()["agx_dev_pct"] == 2
        now[0] += 0.25
    assert len(runner.calls) == 1
    now[0] += 0.1
    src.read()
    assert len(runner.calls) == 2


@pytest.mark.parametrize(
    "failure, expect",
    [
        (FileNotFoundError(2, "No such file or directory"), "not found"),
        ("no stats here\n", "keys missing"),
        (subprocess.TimeoutExpired(["ioreg"], 1.0), "TimeoutExpired"),
    ],
)
def test_ioreg_failure_hides_rows_and_logs_once(failure, expect):
    runner = Replay({"ioreg": failure, "memory_pressure": MACOS, "sysctl": MACOS})
    events, emit = _collect()
    src = IoregReader(runner, every_s=0.0)
    sampler = MemorySampler(emit, platform="darwin", runner=runner, readers=[src])
    for _ in range(6):
        fields = sampler.sample_once()
        assert not any(k.startswith("agx_") for k in fields)
    logs = [e for e in events if e["type"] == "log"]
    assert len(logs) == 1, logs
    assert expect in logs[0]["text"] and "ioreg" in logs[0]["text"]
    # Switched off: no more subprocesses once it is known not to work.
    assert len(runner.calls) <= 3
    assert len([e for e in events if e["type"] == "memory"]) == 6


def test_memory_pressure_without_the_line_is_unavailable():
    src = MacPressureReader(Replay({"memory_pressure": "usage: memory_pressure [-l level]"}))
    with pytest.raises(ReaderUnavailable):
        src.read()
