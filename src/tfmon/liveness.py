"""Is a run still going? Read from its run directory alone (for ls, ctl and attach).

A run is **live** while the process named in its ``run_start`` event exists
and its events file got something (at least the recorder's heartbeat, every
2 s) recently; **ended** once a ``run_end`` event is there; **died** when
neither: the process is gone (or stopped writing) without an end event.

Only the head (``run_start``) and the tail (last events) of the file are read,
so listing runs stays fast however long they trained.
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

from tfmon import events
from tfmon.events import Event
from tfmon.recorder import EVENTS_FILE, parse_lines

#: No event for this long (heartbeats come every 2 s) means the run stopped writing.
STALE_AFTER = 10.0
HEAD_BYTES = 64 * 1024
TAIL_BYTES = 64 * 1024


@dataclass
class RunStatus:
    run_dir: Path
    state: str  # "live" | "ended" | "died"
    script: str | None = None
    started: float | None = None
    pid: int | None = None
    host: str | None = None
    last_seen: float | None = None  # time of the newest event
    pid_alive: bool | None = None  # None: the run is on another host
    end: Event | None = None  # the run_end event, once ended

    @property
    def name(self) -> str:
        return self.run_dir.name

    def describe(self, now: float | None = None) -> str:
        """One phrase: 'live', 'ended: finished (exit 0)', 'died: process 123 is gone ...'."""
        now = time.time() if now is None else now
        if self.state == "live":
            return "live"
        if self.state == "ended":
            end = self.end or {}
            how = f"{end.get('state', 'ended')} (exit {end.get('exit_code')}"
            if end.get("error_type"):
                how += f", {end['error_type']}"
            return f"ended: {how})"
        ago = f"{now - self.last_seen:.0f}s ago" if self.last_seen else "never"
        if self.pid_alive:
            return f"died: process {self.pid} exists but wrote nothing since {ago}"
        return f"died: process {self.pid} is gone without an end event (last event {ago})"


def is_run_dir(path: Path) -> bool:
    return (Path(path) / EVENTS_FILE).is_file()


def pid_alive(pid: int | None) -> bool:
    """True while a process with this pid exists and is not a zombie."""
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive, not ours to signal
    try:
        import psutil

        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except Exception:
        return True


def _head_and_tail(path: Path) -> tuple[list[Event], list[Event]]:
    with open(path, "rb") as f:
        head = f.read(HEAD_BYTES)
        size = f.seek(0, os.SEEK_END)
        if size <= HEAD_BYTES:
            whole = parse_lines(head.split(b"\n"))
            return whole, whole
        f.seek(max(size - TAIL_BYTES, 0))
        tail = f.read()
    head_lines = head.split(b"\n")[:-1]  # the last piece may be cut
    tail_lines = tail.split(b"\n")[1:]  # the first piece is cut
    return parse_lines(head_lines), parse_lines(tail_lines)


RUN_END_MARK = b'"type":"' + events.RUN_END.encode() + b'"'


def find_run_end(path: Path) -> Event | None:
    """The last run_end event anywhere in an events file (a search from the end, in C:
    a UI left open for hours after the run ended puts it far from the tail)."""
    import mmap

    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            return None
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
            end = len(m)
            while True:
                at = m.rfind(RUN_END_MARK, 0, end)
                if at < 0:
                    return None
                start = m.rfind(b"\n", 0, at) + 1
                stop = m.find(b"\n", at)
                found = parse_lines([m[start : stop if stop >= 0 else len(m)]])
                if found and found[0]["type"] == events.RUN_END:
                    return found[0]
                end = start  # the mark inside some other line: look further back


def _typed(value, kind):
    return value if isinstance(value, kind) and not isinstance(value, bool) else None


def read_status(run_dir: Path, now: float | None = None, stale_after: float = STALE_AFTER) -> RunStatus:
    run_dir = Path(run_dir)
    now = time.time() if now is None else now
    head, tail = _head_and_tail(run_dir / EVENTS_FILE)
    status = RunStatus(run_dir=run_dir, state="died")
    start = next((e for e in head if e["type"] == events.RUN_START), None)
    if start is not None:  # a damaged file may hold anything: keep only what has the right type
        status.script = _typed(start.get("script"), str)
        status.started = _typed(start.get("t"), (int, float))
        status.pid = _typed(start.get("pid"), int)
        status.host = _typed(start.get("host"), str)
    times = [e.get("t") for e in tail if isinstance(e.get("t"), (int, float))]
    status.last_seen = max(times) if times else status.started
    status.end = next((e for e in reversed(tail) if e["type"] == events.RUN_END), None)
    if status.end is None:
        status.end = find_run_end(run_dir / EVENTS_FILE)
    if status.end is not None:
        status.state = "ended"
        return status
    if status.host and status.host != platform.node():
        status.pid_alive = None  # a run dir on a shared disk: only the heartbeat can tell
    else:
        status.pid_alive = pid_alive(status.pid)
    recent = status.last_seen is not None and now - status.last_seen <= stale_after
    if recent and status.pid_alive is not False:
        status.state = "live"
    return status


def last_checkpoint(run_dir: Path) -> str | None:
    """The path of the last checkpoint the run saved (from its events), or None."""
    found = None
    with open(Path(run_dir) / EVENTS_FILE, "rb") as f:
        for raw in f:
            if b'"type":"checkpoint"' not in raw:  # cheap filter: most lines are not
                continue
            e = events.loads(raw.decode("utf-8", "replace"))
            if e is not None and e.get("ok") and e.get("path"):
                found = e["path"]
    return found


def find_runs(base: Path) -> list[RunStatus]:
    """Every run directory under ``base``, newest first."""
    base = Path(base)
    if not base.is_dir():
        return []
    runs = []
    for child in base.iterdir():
        if child.is_dir() and is_run_dir(child):
            try:
                runs.append(read_status(child))
            except OSError:
                continue
    runs.sort(key=lambda s: s.started or 0.0, reverse=True)
    return runs
