"""The verdict in a live run: a thread folds the bus into ``RunFacts`` and emits a
``verdict`` event whenever the ranked list of findings changes.

It judges at epoch ends and fit ends (one drain later, so the epoch's memory
reading has landed), every ``PERIODIC_S`` during an epoch that long, and when
asked (``flush``, before ``run_end``): never per batch.
"""

from __future__ import annotations

import threading
import time

from tfmon import events
from tfmon.bus import Subscription
from tfmon.events import Emit
from tfmon.verdict.facts import RunFacts
from tfmon.verdict.rules import diagnose

PERIODIC_S = 30.0
_DUE_AFTER = (events.EPOCH_END, events.FIT_END)


class Diagnoser:
    def __init__(self, subscription: Subscription, emit: Emit, interval: float = 0.5) -> None:
        self.facts = RunFacts()
        self._sub = subscription
        self._emit = emit
        self._interval = interval
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tfmon-verdict", daemon=True)
        self._due = False
        self._judged_at = time.monotonic()
        self._shown: list[tuple[str, str]] = []
        self._failed = False

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self.step()

    def step(self, force: bool = False) -> None:
        """Fold what arrived; judge when an epoch ended in the previous drain (or now, forced).
        A failure is reported once and ends the verdict, never the run; the subscription is
        still drained, so that it does not grow for the rest of the run."""
        with self._lock:
            if self._failed:
                self._sub.drain()
                return
            try:
                self._step(force)
            except Exception as exc:
                self._failed = True
                self._emit(events.LOG, stream="tfmon", level="warning", text=f"tfmon: verdict stopped: {exc!r}")

    def _step(self, force: bool) -> None:
        due, self._due = self._due, False
        for e in self._sub.drain():
            if e["type"] == events.VERDICT:
                continue
            self.facts.apply(e)
            if e["type"] in _DUE_AFTER:
                self._due = True
        now = time.monotonic()
        long_epoch = self.facts.perf.training and now - self._judged_at >= PERIODIC_S
        if force or due or long_epoch:
            self._judge(now)

    def flush(self) -> None:
        """Judge now, with everything emitted so far (the run is ending)."""
        self.step(force=True)

    def _judge(self, now: float) -> None:
        self._judged_at = now
        findings = diagnose(self.facts)
        keys = [f.key for f in findings]
        if keys == self._shown:
            return
        self._shown = keys
        self._emit(events.VERDICT, fit=self.facts.info.fit or None, epoch=self.facts.perf.last_epoch,
                   findings=[f.to_dict() for f in findings])
