"""Where the app's events come from. The app cannot tell a live run from a file.

A source has ``drain() -> list[event]`` (called by the UI timer), ``send(action)``
for the control keys, and flags saying what it can do.
"""

from __future__ import annotations

import time
from pathlib import Path

from tfmon.events import Event
from tfmon.recorder import read_events


class LiveSource:
    """Events of a run in this process; keys go straight to its control gate."""

    live = True
    can_control = True
    attached = False

    def __init__(self, run) -> None:
        self.run = run
        self._sub = run.bus.subscribe()

    def drain(self) -> list[Event]:
        return self._sub.drain()

    def send(self, action: str) -> None:
        self.run.control.request(action, source="key")


class ReplaySource:
    """A recorded run, instantly or at the recorded speed (``speed`` x real time)."""

    live = False
    can_control = False
    attached = False

    def __init__(self, run_dir: Path, speed: float | None = None, events: list[Event] | None = None) -> None:
        self._events = events if events is not None else read_events(run_dir)
        self._speed = speed
        self._index = 0
        self._start_wall: float | None = None

    def drain(self) -> list[Event]:
        if self._speed is None:
            out, self._events = self._events[self._index :], []
            self._index = 0
            return out
        if not self._events or self._index >= len(self._events):
            return []
        now = time.monotonic()
        if self._start_wall is None:
            self._start_wall = now
        t0 = self._events[0].get("t", 0.0)
        horizon = t0 + (now - self._start_wall) * self._speed
        start = self._index
        while self._index < len(self._events) and self._events[self._index].get("t", 0.0) <= horizon:
            self._index += 1
        return self._events[start : self._index]

    def send(self, action: str) -> None:  # a recording cannot be controlled
        pass
