"""What the recorder writes: the same facts at a rate that does not grow with the
step rate or the run's length (docs/events.md, "How events.jsonl is thinned").

Pure: events in, events to write out; no I/O, no clock of its own (``due(now)``
is given the time). The live UI and the headless printer still see every
event; only ``events.jsonl`` is thinned.

- ``batch`` and ``memory`` events, and ``scalar`` events per series: all of them
  in the run's first hour, then at most one per 10 s, after the first day one
  per minute. The newest one held back is written before every *mark* (below)
  and at the end, so the state at each epoch end, pause, checkpoint and at the
  end is exact.
- eager ``placement`` counts: summed and written as one delta at most every
  ``EAGER_INTERVAL`` s (with the next ``placement`` event that has new graph
  nodes, which is written at once, before every mark and at the end).
- ``log`` lines: a token bucket (``LOG_BURST`` lines, then ``LOG_RATE`` per
  second); a line over it is counted, and the count written as one ``log``
  line (stream ``tfmon``) at most once a minute, before every mark and at the
  end. output.log keeps them all. A ``log`` event with ``partial`` true (a line
  still being redrawn, such as a progress bar) is held back like a batch event,
  the newest per stream, and dropped once the finished line comes.
- ``heartbeat``: all of them in the first hour; then only when nothing else was
  written for ``HEARTBEAT_GAP`` s (liveness needs *an* event at most 10 s old,
  not this one: most lines of a week's file would otherwise be heartbeats).
- every other event, every mark: written as it comes.
"""

from __future__ import annotations

from collections import Counter

from tfmon import events
from tfmon.events import Event

#: (age of the run in seconds, at most one event per this many seconds from then on)
LADDER = ((0.0, 0.0), (3600.0, 10.0), (86400.0, 60.0))
EAGER_INTERVAL = 10.0
LOG_BURST = 2000
LOG_RATE = 2.0
HEARTBEAT_GAP = 4.0
LOG_NOTE_EVERY = 60.0  # seconds between two notes of lines left out (and at every mark)
#: Events before which every held-back event is written (what the final state hangs on).
MARKS = frozenset(
    (
        events.STATUS, events.FIT_START, events.EPOCH_START, events.EPOCH_END, events.FIT_END,
        events.EVALUATE_END, events.PREDICT_END, events.CONTROL, events.PAUSED, events.RESUMED,
        events.CHECKPOINT, events.HANGUP, events.RUN_END, events.MEMORY_EPOCH,
    )
)


def interval(age: float) -> float:
    """Seconds between two kept events of a thinned series, ``age`` seconds into the run."""
    gap = 0.0
    for since, every in LADDER:
        if age >= since:
            gap = every
    return gap


def _series(e: Event) -> tuple:
    kind = e["type"]
    return (kind, e.get("run"), e.get("name")) if kind == events.SCALAR else (kind,)


class Thinner:
    def __init__(self) -> None:
        self.start: float | None = None
        self._kept_at: dict[tuple, float] = {}  # series -> t of the last one written
        self._held: dict[tuple, Event] = {}  # series -> newest one not written
        self._eager: Counter[str] = Counter()
        self._eager_at = 0.0  # t of the last placement written
        self._eager_t = 0.0
        self._tokens = float(LOG_BURST)
        self._log_t: float | None = None
        self._log_dropped = 0
        self._noted_at = float("-inf")
        self._last_t = 0.0
        self._written_t = float("-inf")
        self.dropped = Counter()  # events left out, by type (for the benchmark and tests)

    def add(self, e: Event) -> list[Event]:
        """The events to write now, given one more emitted event (in order)."""
        t = e.get("t")
        t = t if isinstance(t, (int, float)) else self._last_t
        self._last_t = t
        if self.start is None:
            self.start = t
        kind = e["type"]
        out: list[Event] = []
        if kind in (events.BATCH, events.MEMORY, events.SCALAR):
            series = _series(e)
            if t - self._kept_at.get(series, float("-inf")) >= interval(t - self.start):
                self._held.pop(series, None)
                self._kept_at[series] = t
                out.append(e)
            else:
                if series in self._held:
                    self.dropped[kind] += 1
                self._held[series] = e
        elif kind == events.PLACEMENT:
            self._eager.update(e.get("eager") or {})
            self._eager_t = t
            if e.get("nodes"):
                out.append(self._placement(e.get("nodes"), t))
            elif t - self._eager_at >= EAGER_INTERVAL:
                out.append(self._placement([], t))
            else:
                self.dropped[kind] += 1
        elif kind == events.LOG and e.get("partial"):
            # A line still being redrawn (a progress bar): only the newest matters.
            series = ("log", e.get("stream"))
            if series in self._held:
                self.dropped[kind] += 1
            self._held[series] = e
        elif kind == events.LOG:
            self._held.pop(("log", e.get("stream")), None)  # the finished line replaces it
            self._refill(t)
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                if t - self._noted_at >= LOG_NOTE_EVERY:
                    out += self._log_note(t)
                out.append(e)
            else:
                self._log_dropped += 1
                self.dropped[kind] += 1
        elif kind == events.HEARTBEAT:
            if t - self.start < LADDER[1][0] or t - self._written_t >= HEARTBEAT_GAP:
                out.append(e)
            else:
                self.dropped[kind] += 1
        else:
            if kind in MARKS:
                out += self._release(t)
            out.append(e)
        if out:
            self._written_t = t
        return out

    def due(self, now: float) -> list[Event]:
        """Held-back eager counts whose interval has passed (the recorder asks on its tick)."""
        if self._eager and now - self._eager_at >= EAGER_INTERVAL:
            return [self._placement([], self._eager_t)]
        return []

    def close(self) -> list[Event]:
        """Everything still held back (at the end of the run)."""
        return self._release(self._last_t)

    def _release(self, t: float) -> list[Event]:
        out = sorted(self._held.values(), key=lambda e: e.get("t", 0.0))
        for e in out:
            self._kept_at[_series(e)] = e.get("t", t)
        self._held.clear()
        if self._eager:
            out.append(self._placement([], self._eager_t))
        out += self._log_note(t)
        return out

    def _placement(self, nodes: list, t: float) -> Event:
        eager, self._eager = dict(self._eager), Counter()
        self._eager_at = t
        return {"nodes": nodes, "eager": eager, "type": events.PLACEMENT, "t": t}

    def _refill(self, t: float) -> None:
        if self._log_t is not None:
            self._tokens = min(float(LOG_BURST), self._tokens + (t - self._log_t) * LOG_RATE)
        self._log_t = t

    def _log_note(self, t: float) -> list[Event]:
        if not self._log_dropped:
            return []
        n, self._log_dropped = self._log_dropped, 0
        self._noted_at = t
        text = (
            f"tfmon: {n:,} line{'s' if n != 1 else ''} of output not recorded here "
            f"(over {LOG_RATE:g} lines/s after a burst of {LOG_BURST}): output.log has them"
        )
        return [{"stream": "tfmon", "text": text, "dropped": n, "type": events.LOG, "t": t}]
