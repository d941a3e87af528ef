"""``events.jsonl``: the recorder (live runs) and the readers (replay, attach, ls).

The recorder drains its bus subscription in its own thread and flushes at
least every ``flush_interval`` seconds, so a crash loses at most that much,
and writes a heartbeat so a reader can tell a live run from a dead one (none
after ``run_end``: the run is over even if the UI stays open).
What it writes is thinned (``tfmon.thinning``): the same facts at a bounded rate.

A write that fails (a full disk) stops the recording, never the run: one
``notice`` says so, and ``run_end`` is tried once more when the run ends.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tfmon import events
from tfmon.bus import EventBus
from tfmon.events import Event
from tfmon.rundir import open_private, write_all
from tfmon.schema import problem
from tfmon.thinning import Thinner

EVENTS_FILE = "events.jsonl"
OUTPUT_FILE = "output.log"
HEARTBEAT_INTERVAL = 2.0


class Recorder:
    def __init__(self, bus: EventBus, run_dir: Path, flush_interval: float = 0.25) -> None:
        self._sub = bus.subscribe()
        self._bus = bus
        self.path = Path(run_dir) / EVENTS_FILE
        self._fd: int | None = open_private(self.path)
        self._interval = flush_interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tfmon-recorder", daemon=True)
        self._last_heartbeat = 0.0
        self._lock = threading.Lock()
        self.thinner = Thinner()
        self.written = 0
        self.ended = False  # run_end has passed: no more heartbeats
        self.failed: str | None = None  # why recording stopped
        self._unwritten_end: Event | None = None
        self.types_seen: set[str] = set()  # every event type emitted, thinned or not

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            now = time.time()
            if not self.ended and now - self._last_heartbeat >= HEARTBEAT_INTERVAL:
                self._last_heartbeat = now
                self._bus.emit(events.HEARTBEAT, pid=os.getpid())
            self._write_pending()

    def _write_pending(self, final: bool = False) -> None:
        # Drain and write as one step: whoever returns from here (the recorder
        # thread, stop(), or flush()) knows every event emitted before is on disk
        # or held back by the thinner (written before the next mark; all at stop).
        with self._lock:
            if self._fd is not None:
                self.record(self._sub.drain(), time.time(), final)

    def record(self, batch: list[Event], now: float, final: bool = False) -> None:
        """Write ``batch`` as thinned (``final``: and everything held back)."""
        for e in batch:
            self.types_seen.add(e["type"])
        end = next((e for e in batch if e["type"] == events.RUN_END), None)
        if end is not None or self.ended:
            # The run is over: run_end is the last event. A heartbeat emitted meanwhile
            # would make it look alive; a late placement line or note is not the run's.
            batch = batch[: batch.index(end) + 1] if end is not None else []
            self.ended = True
        if self.failed is not None:
            self._unwritten_end = end or self._unwritten_end
            return
        add = self.thinner.add
        kept = [k for e in batch for k in add(e)]
        kept += self.thinner.close() if final else self.thinner.due(now)
        if not kept:
            return
        try:
            write_all(self._fd, "".join(events.dumps(e) + "\n" for e in kept).encode("utf-8"))
        except OSError as exc:
            self._fail(exc, end)
            return
        self.written += len(kept)

    def _fail(self, exc: OSError, end: Event | None) -> None:
        self.failed = f"{self.path}: {exc.strerror or exc}"
        self._unwritten_end = end
        text = f"recording stopped ({self.failed}); the run goes on, unrecorded"
        self._bus.emit(events.NOTICE, severity="error", text=text)
        self._bus.emit(events.LOG, stream="tfmon", text=f"tfmon: {text}")

    def flush(self) -> None:
        """Write everything emitted so far, now (for readers in this process)."""
        self._write_pending()

    def stop(self) -> None:
        """Write everything emitted so far and close the file."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._write_pending(final=True)
        with self._lock:
            fd, self._fd = self._fd, None
            if fd is None:
                return
            if self._unwritten_end is not None:
                # Space may have come back: the end of the run is worth one more try
                # (on a line of its own: the failed write may have left half a line).
                try:
                    write_all(fd, ("\n" + events.dumps(self._unwritten_end) + "\n").encode("utf-8"))
                    self._unwritten_end = None
                except OSError:
                    pass
            os.close(fd)


@dataclass
class Recording:
    events: list[Event]
    skipped: int  # lines that are not a well-formed event (torn, malformed, unknown)


def read_recording(run_dir: Path) -> Recording:
    """Every well-formed event of a run directory, and how many lines were not one."""
    recording = Recording([], 0)
    for found, skipped in iter_recording(run_dir):
        recording.events += found
        recording.skipped += skipped
    return recording


def iter_recording(run_dir: Path, lines_per_chunk: int = 5000) -> Iterator[tuple[list[Event], int]]:
    """A run directory's events a chunk at a time, each with how many lines were not
    one: replay at the recorded speed holds a chunk, not a week of events."""
    with open(Path(run_dir) / EVENTS_FILE, "rb") as f:
        while lines := list(itertools.islice(f, lines_per_chunk)):
            yield parse_lines_counted(lines)


def read_events(run_dir: Path) -> list[Event]:
    """All events recorded in a run directory (torn or malformed lines are skipped)."""
    return read_recording(run_dir).events


class EventFollower:
    """Reads new complete lines of an events file as it grows (for attach)."""

    def __init__(self, run_dir: Path, offset: int = 0) -> None:
        self.path = Path(run_dir) / EVENTS_FILE
        self._offset = offset  # where to start: 0, or where a history read ended
        self._partial = b""
        self.skipped = 0  # lines that were not a well-formed event

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
        found, skipped = parse_lines_counted(lines)
        self.skipped += skipped
        return found


def parse_lines(lines: Iterable[bytes]) -> list[Event]:
    """Events from raw lines of an events file; torn, malformed or foreign lines are skipped."""
    return parse_lines_counted(lines)[0]


def parse_lines_counted(lines: Iterable[bytes]) -> tuple[list[Event], int]:
    """The well-formed events (tfmon.schema) of raw lines, and how many others there were."""
    out = []
    skipped = 0
    for raw in lines:
        if not raw.strip():
            continue
        event = events.loads(raw.decode("utf-8", "replace"))
        if event is None or problem(event) is not None:
            skipped += 1
        else:
            out.append(event)
    return out, skipped


def iter_lines(path: Path) -> Iterator[str]:
    with open(path, encoding="utf-8", errors="replace") as f:
        yield from f
