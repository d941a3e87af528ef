"""Parser throughput on the real Keras fit capture, in lines per second on one core.

Feeds tests/fixtures/tf-logs/tf2.21.0-keras3.15.1-cpu-linux-fit.{stdout,stderr}.log
through the whole probe path the fd readers use (LineBuffer -> PlacementProbe.feed
-> flush per 64 KiB chunk), repeated until about a second has passed, and prints
the best of three rounds. The probe's state (de-duplication tables) is rebuilt
every pass so each pass does the real work of a first sighting.

    .venv/bin/python benchmarks/placement_parser.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from tfmon.placement import PlacementProbe, PlacementState  # noqa: E402
from tfmon.tflog import parse_line  # noqa: E402
from tfmon.placement.rules import static_registry  # noqa: E402
from tfmon.probes.lines import LineBuffer  # noqa: E402

FIXTURE = ROOT / "tests/fixtures/tf-logs/tf2.21.0-keras3.15.1-cpu-linux-fit"
CHUNK = 65536


def one_pass(streams: dict[str, bytes], state: PlacementState | None) -> int:
    emit = (lambda type_, **f: state.apply({"type": type_, **f})) if state else (lambda *a, **k: None)
    probe = PlacementProbe(emit, registry=static_registry({}))
    lines = 0
    for name, data in streams.items():
        buf = LineBuffer()
        for i in range(0, len(data), CHUNK):
            for line in buf.feed(data[i : i + CHUNK]):
                probe.feed(name, line)
                lines += 1
            probe.flush()
        for line in buf.flush():
            probe.feed(name, line)
            lines += 1
        probe.flush()
    return lines


def rate(fn, budget: float = 1.0) -> float:
    best = 0.0
    for _ in range(3):
        n, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < budget:
            n += fn()
        best = max(best, n / elapsed)
    return best


def main() -> None:
    streams = {s: (FIXTURE.parent / f"{FIXTURE.name}.{s}.log").read_bytes() for s in ("stdout", "stderr")}
    all_lines = [l for d in streams.values() for l in d.decode().splitlines()]
    print(f"fixture: {FIXTURE.name}.{{stdout,stderr}}.log, {len(all_lines)} lines")
    print(f"parse_line only:                 {rate(lambda: sum(1 for l in all_lines if parse_line(l) or True)):>12,.0f} lines/s")
    print(f"LineBuffer + probe (no state):   {rate(lambda: one_pass(streams, None)):>12,.0f} lines/s")
    print(f"LineBuffer + probe + state:      {rate(lambda: one_pass(streams, PlacementState())):>12,.0f} lines/s")


if __name__ == "__main__":
    main()
