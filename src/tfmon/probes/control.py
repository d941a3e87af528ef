"""Commands from the keyboard or ``tfmon ctl`` to the training thread.

The UI thread only queues a command and raises a flag; the training thread
checks the flag at each batch boundary (one attribute read) and serves the
queue there, which is the only place where pausing, saving or stopping the
model is safe. While paused it keeps serving, so a checkpoint can be taken.
"""

from __future__ import annotations

import queue
import time
from typing import Protocol

from tfmon import events
from tfmon.events import Emit

ACTIONS = ("pause", "resume", "toggle_pause", "checkpoint", "stop", "quit")
QUIT_MESSAGE = "tfmon: quit"  # the KeyboardInterrupt a quit raises in the script


class Trainable(Protocol):
    """What the control gate needs from a training loop (Keras fit or a custom loop)."""

    def position(self) -> tuple[int, int]: ...  # (epoch, step), 1-based
    def checkpoint(self) -> None: ...
    def request_stop(self) -> None: ...


class Control:
    def __init__(self, emit: Emit) -> None:
        self._emit = emit
        self._queue: queue.SimpleQueue[tuple[str, str]] = queue.SimpleQueue()
        self.pending = False  # read by the training thread at every batch
        self.paused = False
        self.pause_requested = False
        self.stop_requested = False
        #: The user quit: the script is interrupted at the next batch boundary (after a
        #: checkpoint queued before it), so no later fit or step trains.
        self.quit_requested = False
        #: Seconds spent paused so far (the training thread's): an epoch's time leaves them out.
        self.paused_seconds = 0.0

    def seconds_training(self, started: float, paused_before: float) -> float:
        """Seconds since ``started`` (a perf_counter time, when ``paused_seconds``
        read ``paused_before``), less the pauses since: an epoch's own time."""
        return time.perf_counter() - started - (self.paused_seconds - paused_before)

    def ask(self, action: str, source: str = "key") -> None:
        """Queue ``action`` for the next batch boundary (a pause also shows at once as asked)."""
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}")
        if action == "toggle_pause":
            action = "resume" if (self.paused or self.pause_requested) else "pause"
        if action == "pause":
            self.pause_requested = True
        elif action == "resume":
            self.pause_requested = False
        self._emit(events.CONTROL, action=action, source=source)
        self._queue.put((action, source))
        self.pending = True

    def serve(self, trainer: Trainable) -> None:
        """Run queued commands; blocks while paused. Called in the training thread."""
        paused_at = time.monotonic()
        while True:
            if not self.paused:
                # Cleared before looking at the queue: a command queued after
                # this line raises the flag again, so none is ever missed.
                self.pending = False
            try:
                action, source = self._queue.get(block=self.paused, timeout=0.2 if self.paused else None)
            except queue.Empty:
                if self.paused:
                    continue
                return
            if action == "pause" and not self.paused:
                self.paused = True
                epoch, step = trainer.position()
                self._emit(events.PAUSED, epoch=epoch, step=step, source=source)
                paused_at = time.monotonic()
            elif action == "resume" and self.paused:
                self._end_pause(paused_at)
            elif action == "checkpoint":
                trainer.checkpoint()
            elif action in ("stop", "quit"):
                self.stop_requested = True
                self.pause_requested = False
                trainer.request_stop()
                if self.paused:  # stopping ends the pause too
                    self._end_pause(paused_at)
                if action == "quit":
                    # Here, at a batch boundary, the model is whole and any checkpoint asked
                    # first is written: the safe place to end the script's training for good.
                    self.quit_requested = True
                    raise KeyboardInterrupt(QUIT_MESSAGE)

    def _end_pause(self, paused_at: float) -> None:
        seconds = time.monotonic() - paused_at
        self.paused = False
        self.paused_seconds += seconds
        self._emit(events.RESUMED, seconds=round(seconds, 3))
