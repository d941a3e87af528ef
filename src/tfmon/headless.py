"""Headless runs (``--headless``, or stdout not a terminal): concise lines, same run directory.

The script's own stdout and stderr pass through as under python (``probes.capture.Passthrough``);
tfmon's lines are marked ``tfmon:`` so the two never mix up in a log file.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import TextIO

from tfmon import describe, events
from tfmon.events import Event
from tfmon.placement.digest import FallbackDigest
from tfmon.signals import StopSignals

# Fallbacks come in bursts while TF traces and places a graph: one summary per burst,
# printed once none came for this long, or before the next epoch / fit / run line.
FALLBACKS_QUIET = 1.5
_AFTER_FALLBACKS = (events.EPOCH_END, events.FIT_END, events.RUN_END)
PREFIX = "tfmon: "


class Printer:
    """Drains a bus subscription in a thread and prints the concise lines."""

    def __init__(self, subscription, out: TextIO, err: TextIO | None = None, passthrough=None) -> None:
        self._sub = subscription
        self._out = out
        # The script's stdout, when it passes through: tfmon's lines join it between the script's lines.
        self._passthrough = passthrough
        self._err = err or out
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tfmon-printer", daemon=True)
        self._fallbacks = FallbackDigest()
        self.lost = False

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(0.2):
            self._print(self._sub.drain())

    def _print(self, batch: list[Event]) -> None:
        if self.lost:
            return
        try:
            digest = self._fallbacks
            lines: list[str] = []
            for e in batch:
                digest.apply(e)
                if e["type"] == events.NOTICE and e.get("severity") in ("warning", "error"):
                    # tfmon's own trouble (a full disk, no control channel): on stderr.
                    self._err.write(f"tfmon: {e['severity']}: {e.get('text')}\n")
                    continue
                line = describe.headless_line(e)
                if line is not None:
                    if e["type"] in _AFTER_FALLBACKS:
                        lines += digest.take_lines()  # the fallbacks so far come before it
                    lines.append(line)
                if e["type"] == events.RUN_END and e.get("error") and not e.get("error_printed"):
                    self._err.write(e["error"].rstrip("\n") + "\n")
            if digest.pending and time.monotonic() - digest.last_at >= FALLBACKS_QUIET:
                lines += digest.take_lines()  # the burst (graph tracing) is over
            # Every line tfmon prints starts "tfmon:" (a verdict's are joined by newlines).
            lines = [
                (part if part.startswith(PREFIX) else PREFIX + part) + "\n"
                for line in lines for part in line.split("\n")
            ]
            if self._passthrough is not None:
                self._passthrough.own(lines)
            else:
                self._out.write("".join(lines))
            self._out.flush()
            self._err.flush()
        except (OSError, ValueError):
            # The terminal (an SSH session) went away: the run goes on, recorded.
            self.lost = True

    def after_finish(self) -> None:
        """Print what came after ``stop``, straight to stdout (the pass-through is closed)."""
        self._passthrough = None
        self._print(self._sub.drain())

    def write_line(self, text: str) -> None:
        """After the run (the pass-through is closed): straight to stdout."""
        if self.lost:
            return
        try:
            self._out.write(PREFIX + text + "\n")
            self._out.flush()
        except (OSError, ValueError):
            self.lost = True

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._print(self._sub.drain())


def run_headless(run) -> int:
    """Run the job in this (main) thread; Ctrl+C once stops with a checkpoint, twice interrupts."""
    sub = run.bus.subscribe()
    run.prepare()
    out = os.fdopen(os.dup(run.terminal_fd(1)), "w", encoding="utf-8", errors="replace")
    err = os.fdopen(os.dup(run.terminal_fd(2)), "w", encoding="utf-8", errors="replace")
    printer = Printer(sub, out, err, run.passthrough)
    printer.start()

    def interrupt() -> None:
        if run.result is None:  # the script runs in this thread
            raise KeyboardInterrupt

    def on_first(signum: int) -> None:
        name = "Ctrl+C" if signum == signal.SIGINT else signal.Signals(signum).name
        if printer.lost:
            return
        try:
            out.write(f"tfmon: {name}: stopping with a checkpoint; {name} again interrupts\n")
            out.flush()
        except (OSError, ValueError):
            printer.lost = True

    signals = StopSignals(run, interrupt=interrupt, on_first=on_first)
    signals.install()
    # A headless run started in an SSH session must outlive the link too.
    restore_sighup = run.catch_sighup(then=lambda reason: setattr(printer, "lost", True))
    try:
        code = run.run_job()
    finally:
        signals.restore()
        restore_sighup()
        printer.stop()  # up to run_end, while the script's stdout still passes through
        run.finish(park_fds=True)
        printer.after_finish()  # what finish itself reported (a full disk, say)
        if run.run_dir_removed:
            printer.write_line(f"nothing was trained: run dir {run.run_dir} not kept")
        for stream in (out, err):
            try:
                stream.close()
            except OSError:
                pass
    return code
