"""A custom training loop as tfmon sees it, through ``tfmon.step`` & co. (``tfmon.api``).

``bind`` makes a run's ``ProbeContext`` the one the API reports to (LiveRun,
before the script starts); ``unbind`` closes the loop's events when the script
ends. The loop does at each step what ``fit``'s callback does at each batch:
both call one ``BatchBoundary``.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

from tfmon import events
from tfmon.probes.boundary import BatchBoundary, clean, count_params

if TYPE_CHECKING:  # plain python imports this module (tfmon.api): keep it light
    from tfmon.probes.context import ProbeContext

#: The loop of the script tfmon runs now; None under plain python (``tfmon.api``
#: reads it once per call).
active: CustomLoop | None = None


def bind(ctx: ProbeContext) -> None:
    """Make ``ctx`` the run the API reports to. Called before the script runs."""
    global active
    active = CustomLoop(ctx)


def unbind(ctx: ProbeContext, exit_code: int | None = None) -> None:
    """The script has ended: close the loop's events (``fit_end``) and go back to no-op."""
    global active
    loop = active
    if loop is None or loop.ctx is not ctx:
        return
    active = None
    loop.close(exit_code)


def current_context() -> ProbeContext | None:
    """The ProbeContext of the run tfmon runs now, or None under plain python."""
    loop = active
    return loop.ctx if loop is not None else None


class CustomLoop:
    """A custom loop as the control gate sees it (position, checkpoint, request_stop)."""

    def __init__(self, ctx: ProbeContext) -> None:
        self.ctx = ctx
        self.boundary = BatchBoundary(ctx, self)
        self.fit: int | None = None  # this loop's fit number, once it has started
        self.epoch: int | None = None  # as the script numbers it; None until it says
        self.step = 0  # steps in the current epoch (all steps when there are no epochs)
        self.count = 0  # steps since the loop started
        self.stop_requested = False
        self._user_step: Any = None  # the script's own step, converted only when emitted
        self._latest: dict[str, Any] = {}
        self._epoch_open = False
        self._next_epoch: int | None = None
        self._stop_shown = False  # the epoch a stop cut short has said so
        self._checkpointables: list[tuple[Any, str]] = []

    # -- the control gate's view of the loop
    def position(self) -> tuple[int, int]:
        return (self.epoch if self.epoch is not None else 0), self.step

    def checkpoint(self) -> None:
        from tfmon.probes.checkpoint import (next_checkpoint_number, save_keras_model, save_tf_checkpoint,
                                             write_checkpoint_state)

        ctx = self.ctx
        epoch, step = self.position()
        if not self._checkpointables:
            ctx.emit(
                events.CHECKPOINT, ok=False, epoch=epoch, step=step,
                error="nothing to save: register it with tfmon.checkpointable(tf.train.Checkpoint(...)) or (model)",
            )
            return
        folder = ctx.checkpoints_dir
        for obj, kind in self._checkpointables:
            if kind == "keras":
                save_keras_model(obj, folder, epoch, step, ctx.emit)
                continue
            number = next_checkpoint_number(folder)
            if save_tf_checkpoint(obj, folder, number, epoch, step, ctx.emit) is not None:
                write_checkpoint_state(folder)

    def request_stop(self) -> None:
        self.stop_requested = True

    # -- the API
    def on_step(self, step: Any, epoch: Any, metrics: dict[str, Any]) -> bool:
        if self.fit != self.ctx.fit_count:  # not started, or a Keras fit ran since
            self._start()
        if epoch is not None:
            if epoch.__class__ is not int:
                epoch = int(epoch)
            if epoch != self.epoch or not self._epoch_open:
                self._start_epoch(epoch)
        elif self._next_epoch is not None:
            self._start_epoch(self._next_epoch)
        self.step += 1
        self.count += 1
        self._user_step = step
        self._latest = metrics
        now = time.time()
        boundary = self.boundary
        if boundary.batch_due(now):
            boundary.emit_batch(now, self.epoch, self.step, self._global_step(), metrics)
        boundary.serve()
        return self.stop_requested

    def on_epoch_end(self, epoch: Any, metrics: dict[str, Any]) -> None:
        if self.fit != self.ctx.fit_count:
            self._start()
        epoch = int(epoch)
        self._end_epoch(epoch, clean(metrics))
        self._next_epoch = epoch + 1

    def add_checkpointable(self, obj: Any, kind: str) -> None:
        if all(o is not obj for o, _ in self._checkpointables):
            self._checkpointables.append((obj, kind))

    def close(self, exit_code: int | None) -> None:
        if self.fit is None or self.fit != self.ctx.fit_count:
            return  # never started, or a Keras fit came after it and reported its own end
        if self._epoch_open and self.step:
            self._end_epoch(self.epoch, {})
        if self.ctx.control.quit_requested:
            reason = "quit by user"
        elif self.stop_requested:
            reason = "stopped by user"
        elif exit_code not in (0, None):
            reason = "failed"
        else:
            reason = "completed"
        self.boundary.end_fit(self.fit, self.epoch or 0, reason, loop="custom")

    # -- events
    def _start(self) -> None:
        self.epoch, self.step, self.count = None, 0, 0
        self._epoch_open, self._next_epoch = False, None
        model = next((o for o, kind in self._checkpointables if kind == "keras"), None)
        self.boundary.restart_clock()
        self.fit = self.boundary.start_fit(
            epochs=None,
            steps=None,
            batch_size=None,
            model=getattr(model, "name", None),
            params=count_params(model),
            loop="custom",
        )
        tf = sys.modules.get("tensorflow")
        if tf is not None and _inside_function(tf):
            self.ctx.emit(
                events.LOG, stream="tfmon", level="warning",
                text="tfmon: tfmon.step() was called inside a tf.function: it runs once, while "
                "the function is traced. Call it in the Python loop, after the step.",
            )

    def _start_epoch(self, epoch: int) -> None:
        if self._epoch_open and self.step:
            # The script numbers epochs in step() but does not call epoch_end():
            # close the previous one, so the table and per-epoch memory still get a row.
            self._end_epoch(self.epoch, {})
        self.epoch = epoch
        self.step = 0
        self._epoch_open = True
        self._next_epoch = None
        self.boundary.start_epoch(epoch)

    def _end_epoch(self, epoch: int | None, metrics: dict[str, Any]) -> None:
        fields = {}
        if self.stop_requested and not self._stop_shown:
            # The loop left on tfmon's stop: this epoch did not run to its end.
            self._stop_shown = True
            fields["ended_at"] = f"stopped at step {self.step}"
        self.epoch = epoch
        self._epoch_open = False
        self.boundary.end_epoch(epoch if epoch is not None else 0, self.step, self._global_step(), metrics, **fields)

    def _global_step(self) -> int:
        if self._user_step is None:
            return self.count
        try:
            return int(self._user_step)
        except (TypeError, ValueError):
            return self.count


def _inside_function(tf: Any) -> bool:
    try:
        return bool(tf.inside_function())
    except Exception:
        return False
