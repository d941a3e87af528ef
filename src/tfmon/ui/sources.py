"""Where the app's events come from. The app cannot tell a live run from a file.

Each is a ``tfmon.ui.protocols.Source``: ``drain() -> list[event]`` (called by
the UI timer), ``send(action)`` for the control keys, and flags saying what it
can do.
"""

from __future__ import annotations

import collections
import queue
import threading
import time
from pathlib import Path

from tfmon import events
from tfmon.events import Event
from tfmon.history import read_history
from tfmon.recorder import EVENTS_FILE, EventFollower, iter_recording


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
        self.run.control.ask(action, source="key")


class History:
    """A recording's history (``tfmon.history``) read once: at once for a small file,
    in a thread for a big one, so that the first frame never waits for it."""

    IN_THREAD = 4 << 20  # bytes

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / EVENTS_FILE
        self.events: list[Event] | None = None
        self.offset = 0
        self.skipped = 0  # lines that were not a well-formed event
        self.error: str | None = None
        self._thread: threading.Thread | None = None
        try:
            big = self.path.stat().st_size > self.IN_THREAD
        except OSError:
            big = False
        if big:
            self._thread = threading.Thread(target=self._read, name="tfmon-history", daemon=True)
            self._thread.start()
        else:
            self._read()

    def _read(self) -> None:
        try:
            events, self.offset, self.skipped = read_history(self.path)
        except OSError as exc:
            events, self.error = [], str(exc)
        self.events = events

    @property
    def ready(self) -> bool:
        return self.events is not None

    def take(self) -> list[Event]:
        """The history once it is read (and only once); nothing before."""
        out = self.events
        if out is None:
            return []
        self.events = []
        return out


def skipped_text(n: int) -> str:
    return f"{n} malformed or unknown event{'' if n == 1 else 's'} skipped"


class ReplaySource:
    """A recorded run, instantly (its history: ``tfmon.history``) or at the recorded
    speed (``speed`` x real time: every event).

    Lines that are not a well-formed event are skipped; a line in the Log pane
    says how many. A recording without ``run_end`` (the process died, or the
    file was cut) ends on a status that says where it ends, never "running".
    """

    live = False
    can_control = False
    attached = False

    def __init__(self, run_dir: Path, speed: float | None = None, events: list[Event] | None = None) -> None:
        self._history = History(run_dir) if events is None and speed is None else None
        self._skipped = 0
        # At the recorded speed: the file a chunk at a time (a week is 250k events).
        self._chunks = iter_recording(run_dir) if events is None and speed is not None else None
        self._events = events if events is not None else []
        self._speed = speed
        self._index = 0
        self._start_wall: float | None = None
        self._t0: float | None = None  # the first event's time: the pace counts from it
        self._last_t: float | None = None  # the time of the newest event handed out
        self._saw_end = False
        self._told = False

    def drain(self) -> list[Event]:
        out = self._next()
        for e in out:
            self._saw_end = self._saw_end or e["type"] == events.RUN_END
            self._last_t = max(self._last_t or e["t"], e["t"])
        if not self._told and self._at_end():
            self._told = True
            skipped = self._history.skipped if self._history is not None else self._skipped
            out = out + _epilogue(self._last_t, self._saw_end, skipped)
        return out

    def _at_end(self) -> bool:
        if self._history is not None:
            return self._history.ready and not self._history.events
        return self._chunks is None and self._index >= len(self._events)

    def _next(self) -> list[Event]:
        if self._speed is None:
            if self._history is not None:
                return self._history.take()
            out, self._events = self._events[self._index :], []
            self._index = 0
            return out
        now = time.monotonic()
        if self._start_wall is None:
            self._start_wall = now
        out: list[Event] = []
        while self._index < len(self._events) or self._refill():
            e = self._events[self._index]
            if self._t0 is None:
                self._t0 = e.get("t", 0.0)
            if e.get("t", 0.0) > self._t0 + (now - self._start_wall) * self._speed:
                break
            out.append(e)
            self._index += 1
        return out

    def _refill(self) -> bool:
        """The next chunk of the recording; False at its end."""
        for found, skipped in self._chunks or ():
            self._skipped += skipped
            if found:
                self._events, self._index = found, 0
                return True
        self._chunks = None
        return False

    def send(self, action: str) -> None:  # a recording cannot be controlled
        pass


def _epilogue(last_t: float | None, saw_end: bool, skipped: int) -> list[Event]:
    """What replay adds after the last recorded event: the damage, and a missing end."""
    out = []
    if skipped:
        out.append(events.make(events.LOG, stream="tfmon", text=f"tfmon replay: {skipped_text(skipped)}", synthetic=True))
    if last_t is not None and not saw_end:
        t = last_t
        detail = f"recording ends at {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(t))} (no end event)"
        out.append(events.make(events.STATUS, t=t, state="ended", detail=detail, synthetic=True))
        out.append(events.make(events.LOG, t=t, stream="tfmon", text=f"tfmon replay: {detail}", synthetic=True))
    return out


class AttachSource:
    """A run going on in another process, seen through its run directory.

    First the history recorded so far (``tfmon.history``: what the view needs of
    it, read in a thread when big; handed over in chunks), then new events as the
    recorder writes them, from where the history ended. Keys go
    through the run's control channel. If the run ends or its process dies
    while attached, the view says so and stops offering control.
    """

    CHUNK = 20000  # events per drain while catching up on the history
    CHECK_EVERY = 2.0  # seconds between two liveness checks

    def __init__(self, run_dir: Path, status=None, call=None) -> None:
        from tfmon import liveness
        from tfmon.run import client

        self.run_dir = Path(run_dir)
        self.status = status if status is not None else liveness.read_status(self.run_dir)
        self._call = call or client.call
        self._history = History(self.run_dir)
        self._follower: EventFollower | None = None  # once the history is read
        self._backlog: collections.deque[Event] = collections.deque()
        self._notes: collections.deque[Event] = collections.deque()  # made here, thread-safe appends
        self._ended = self.status.state == "ended"
        self.live = self.status.state == "live"
        self.can_control = self.live
        self.attached = self.live  # the header then says that q leaves the run going
        self._last_check = time.monotonic()
        self._last_seen = self.status.last_seen or time.time()
        self._skipped_told = 0
        self._outbox: queue.SimpleQueue[str] | None = None
        if self.status.state == "ended":
            self._say("information", f"this run has {self.status.describe()}: replaying its events")
        elif self.status.state == "died":
            self._died()

    # -- what the app calls
    def drain(self) -> list[Event]:
        if self._follower is None and self._history.ready:
            self._backlog.extend(self._history.take())
            self._follower = EventFollower(self.run_dir, self._history.offset)
        elif self.live and self._follower is not None:
            self._backlog.extend(self._follower.poll())
        out: list[Event] = []
        while self._backlog and len(out) < self.CHUNK:
            out.append(self._backlog.popleft())
        for e in out:
            t = e.get("t")
            if isinstance(t, (int, float)) and t > self._last_seen:
                self._last_seen = t
            if e["type"] == events.RUN_END:
                self._ended = True
                self._stop_control()
        skipped = self._history.skipped + (self._follower.skipped if self._follower is not None else 0)
        if skipped > self._skipped_told:
            self._skipped_told = skipped
            self._say("warning", skipped_text(skipped))
        if not self._backlog:
            self._check_alive()
            while self._notes:
                out.append(self._notes.popleft())
        return out

    def send(self, action: str) -> None:
        # Off the UI thread (a socket call must never freeze the view), one
        # sender so that keys arrive in the order they were pressed.
        if self._outbox is None:
            self._outbox = queue.SimpleQueue()
            threading.Thread(target=self._sender, name="tfmon-attach-send", daemon=True).start()
        self._outbox.put(action)

    # -- helpers
    def _sender(self) -> None:
        while True:
            self._send_now(self._outbox.get())

    def _send_now(self, action: str) -> None:
        from tfmon.run.client import ChannelError

        try:
            reply = self._call(self.run_dir, action, wait=0.0, timeout=5.0)
        except (ChannelError, OSError) as exc:
            self._say("error", f"{action}: {exc}")
            return
        if not reply.get("ok"):
            self._say("error", f"{action}: {reply.get('error')}")

    def _check_alive(self) -> None:
        from tfmon import liveness

        if not self.live or self._ended or self._follower is None:
            return
        now = time.monotonic()
        if now - self._last_check < self.CHECK_EVERY:
            return
        self._last_check = now
        stale = time.time() - self._last_seen > liveness.STALE_AFTER
        if stale or (self.status.pid_alive is not None and not liveness.pid_alive(self.status.pid)):
            # Read what the process wrote last before calling it dead.
            self._backlog.extend(self._follower.poll())
            if any(e["type"] == events.RUN_END for e in self._backlog):
                return
            self.status = liveness.read_status(self.run_dir)
            if self.status.state == "died":
                self._died()

    def _died(self) -> None:
        from tfmon import liveness

        self._stop_control()
        checkpoint = liveness.last_checkpoint(self.run_dir)
        where = f"last checkpoint: {checkpoint}" if checkpoint else "no checkpoint was saved"
        text = f"the run {self.status.describe()}; {where}"
        self._notes.append(events.make(events.STATUS, state="failed", detail="process died", synthetic=True))
        self._say("error", text)

    def _say(self, severity: str, text: str) -> None:
        """A notice and a log line of the attach view itself (marked synthetic: not from the run)."""
        self._notes.append(events.make(events.LOG, stream="tfmon", text=f"tfmon attach: {text}", synthetic=True))
        self._notes.append(events.make(events.NOTICE, severity=severity, text=text, synthetic=True))

    def _stop_control(self) -> None:
        self.live = False
        self.can_control = False
