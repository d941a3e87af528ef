"""SIGINT and SIGTERM from outside (``kill``, ``timeout``, a scheduler): like Ctrl+C once.

The first asks for a checkpoint and a stop at the next batch boundary (at once
if no training loop runs yet) and marks the run as ended by that signal
(``run_end`` carries it, and tfmon exits 128 + N: 130, 143). The next one
interrupts the script.

The same signal twice within ``SAME_SIGNAL`` seconds is one signal delivered
twice: to the whole process group (``timeout``, systemd, Ctrl+C at a shell)
and again forwarded by tfmon's supervising parent (``tfmon.supervisor``).
"""

from __future__ import annotations

import signal
import time
from typing import Callable

SAME_SIGNAL = 0.25
HANDLED = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    """Installed by the main thread for the length of a run (live or headless)."""

    def __init__(self, run, interrupt: Callable[[], None], on_first: Callable[[int], None] | None = None) -> None:
        self.run = run
        self._interrupt = interrupt
        self._on_first = on_first
        self._last: tuple[int, float] | None = None
        self._previous: dict[int, object] = {}

    def install(self) -> None:
        for sig in HANDLED:
            self._previous[sig] = signal.signal(sig, self.handle)

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def handle(self, signum: int, frame=None) -> None:
        now = time.monotonic()
        last, self._last = self._last, (signum, now)
        if last is not None and last[0] == signum and now - last[1] < SAME_SIGNAL:
            self._last = last  # a duplicate: the window runs from the first copy
            return
        run = self.run
        if last is not None or run.result is not None:
            self._interrupt()
            return
        run.stop_signal = signum
        ctx = run.ctx
        if ctx is None or ctx.fit_count == 0:
            # No training loop to stop at a batch boundary: interrupt the script now.
            self._interrupt()
        else:
            run.stop_with_checkpoint(source="signal")
        if self._on_first is not None:
            self._on_first(signum)
