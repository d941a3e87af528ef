"""``events.jsonl``: the recorder (live runs) and the readers (replay, attach, ls).

The recorder drains its bus subscription in its own thread and flushes at
least every ``flush_interval`` seconds, so a crash loses at most that much,
and writes a heartbeat so a reader can tell a live run from a dead one.
What it writes is thinned (``tfmon.thinning``): the same facts at a bounded rate.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from tfmon import events
from tfmon.bus import EventBus
from tfmon.events import Event
from tfmon.thinning import Thinner

EVENTS_FILE = "events.jsonl"
OUTPUT_FILE = "output.log"
HEARTBEAT_INTERVAL = 2.0


class Recorder:
    def __init__(self, bus: EventBus, run_dir: Path, flush_interval: float = 0.25) -> None:
        self._sub = bus.subscribe()
        self._bus = bus
        self.path = Path(run_dir) / EVENTS_FILE
        self._file = open(self.path, "a", encoding="utf-8")
        self._interval = flush_interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tfmon-recorder", daemon=True)
        self._last_heartbeat = 0.0
        self._lock = threading.Lock()
        self.thinner = Thinner()
        self.written = 0

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            now = time.time()
            if now - self._last_heartbeat >= HEARTBEAT_INTERVAL:
                self._last_heartbeat = now
                self._bus.emit(events.HEARTBEAT, pid=os.getpid())
            self._write_pending()

    def _write_pending(self, final: bool = False) -> None:
        # Drain and write as one step: whoever returns from here (the recorder
        # thread, stop(), or flush()) knows every event emitted before is on disk
        # or held back by the thinner (written before the next mark; all at stop).
        with self._lock:
            if not self._file.closed:
                self.record(self._sub.drain(), time.time(), final)

    def record(self, batch: list[Event], now: float, final: bool = False) -> None:
        """Write ``batch`` as thinned (``final``: and everything held back)."""
        add = self.thinner.add
        kept = [k for e in batch for k in add(e)]
        kept += self.thinner.close() if final else self.thinner.due(now)
        if kept:
            self._file.write("".join(events.dumps(e) + "\n" for e in kept))
            self._file.flush()
            self.written += len(kept)

    def flush(self) -> None:
        """Write everything emitted so far, now (for readers in this process)."""
        self._write_pending()

    def stop(self) -> None:
        """Write everything emitted so far and close the file."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._write_pending(final=True)
        self._file.close()


def read_events(run_dir: Path) -> list[Event]:
    """All events recorded in a run directory (a torn last line is skipped)."""
    path = Path(run_dir) / EVENTS_FILE
    with open(path, encoding="utf-8", errors="replace") as f:
        return [e for e in map(events.loads, f) if e is not None]


class EventFollower:
    """Reads new complete lines of an events file as it grows (for attach)."""

    def __init__(self, run_dir: Path, offset: int = 0) -> None:
        self.path = Path(run_dir) / EVENTS_FILE
        self._offset = offset  # where to start: 0, or where a history read ended
        self._partial = b""

    def poll(self) -> list[Event]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return []
        self._offset += len(data)
        data = self._partial + data
        lines = data.split(b"\n")
        self._partial = lines.pop()
        return parse_lines(lines)


def parse_lines(lines: list[bytes]) -> list[Event]:
    """Events from raw lines of an events file; torn or foreign lines are skipped."""
    out = []
    for raw in lines:
        event = events.loads(raw.decode("utf-8", "replace"))
        if event is not None:
            out.append(event)
    return out


def iter_lines(path: Path) -> Iterator[str]:
    with open(path, encoding="utf-8", errors="replace") as f:
        yield from f
