"""The batch boundary: what tfmon does at the same points of every training loop.

``fit``'s callback (``probes/keras``) and a custom loop (``probes/customloop``,
reached through ``tfmon.step``) both call one ``BatchBoundary``: a fit's start
and end, an epoch's start and end (its seconds without pauses, the epoch-end
hooks), the throttled ``batch`` event and the control gate. Each loop keeps
only what it knows itself: where it is and how to checkpoint and stop.
"""

from __future__ import annotations

import math
import sys
import time
from typing import TYPE_CHECKING, Any

from tfmon import events

if TYPE_CHECKING:  # plain python imports this module (tfmon.api): keep it light
    from tfmon.probes.context import ProbeContext


class BatchBoundary:
    """One per loop. ``loop`` is what the control gate acts on (``position``,
    ``checkpoint``, ``request_stop``)."""

    def __init__(self, ctx: ProbeContext, loop: Any) -> None:
        self.ctx = ctx
        self._loop = loop
        self._last_batch_event = 0.0
        self.epoch_started = time.perf_counter()
        self.paused_before = 0.0  # ctx.control.paused_seconds when the epoch began

    def start_fit(self, **fields: Any) -> int:
        """Count the fit, emit ``fit_start``; returns the fit's number."""
        ctx = self.ctx
        ctx.fit_count += 1
        self._last_batch_event = 0.0
        ctx.emit(events.FIT_START, fit=ctx.fit_count, **fields)
        tf = sys.modules.get("tensorflow")
        if tf is not None:
            # The script has built its model, or a step has run: TF's devices are initialised now.
            ctx.mark_devices_ready(tf)
        return ctx.fit_count

    def start_epoch(self, epoch: int) -> None:
        self.restart_clock()
        self.ctx.emit(events.EPOCH_START, epoch=epoch)

    def batch_due(self, now: float) -> bool:
        """True at most every ``batch_event_interval`` seconds: then emit a ``batch``."""
        if now - self._last_batch_event < self.ctx.batch_event_interval:
            return False
        self._last_batch_event = now
        return True

    def emit_batch(self, now: float, epoch: int | None, step: int, global_step: int, logs: Any) -> None:
        fields: dict[str, Any] = {"t": now}
        if epoch is not None:
            fields["epoch"] = epoch
        self.ctx.emit(events.BATCH, **fields, step=step, global_step=global_step, logs=clean(logs))

    def serve(self) -> None:
        """The control gate: a pause blocks here, a checkpoint or stop is served here."""
        if self.ctx.control.pending:
            self.ctx.control.serve(self._loop)

    def end_epoch(self, epoch: int, steps: int, global_step: int, metrics: dict, **fields: Any) -> None:
        """Emit ``epoch_end`` (seconds without pauses), then run the epoch-end hooks."""
        ctx = self.ctx
        ctx.emit(
            events.EPOCH_END,
            epoch=epoch,
            steps=steps,
            global_step=global_step,
            seconds=round(ctx.control.seconds_training(self.epoch_started, self.paused_before), 4),
            metrics=metrics,
            **fields,
        )
        self.restart_clock()  # steps after the last epoch (a loop without epochs) count anew
        for hook in ctx.on_epoch_end:
            try:
                hook(epoch)
            except Exception:  # a hook (memory per epoch) never ends the training
                pass

    def end_fit(self, fit: int, epochs_done: int, reason: str, **fields: Any) -> None:
        self.ctx.emit(events.FIT_END, fit=fit, epochs_done=epochs_done, reason=reason, **fields)

    def restart_clock(self) -> None:
        self.epoch_started = time.perf_counter()
        self.paused_before = self.ctx.control.paused_seconds


def clean(logs: dict | None) -> dict[str, Any]:
    """Metrics as JSON numbers: tensors and numpy scalars as floats, NaN and inf as text."""
    out: dict[str, Any] = {}
    for key, value in (logs or {}).items():
        try:
            f = float(value)
        except (TypeError, ValueError):
            continue
        out[key] = f if math.isfinite(f) else str(f)  # JSON has no NaN
    return out


def count_params(model: Any) -> int | None:
    if model is None:
        return None
    try:
        return int(model.count_params())
    except Exception:
        return None
