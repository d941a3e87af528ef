"""The API for custom training loops: ``tfmon.step``, ``tfmon.epoch_end``, ``tfmon.checkpointable``.

A loop written with ``tf.GradientTape`` has no ``fit`` for tfmon to hook, so it
reports itself with one call per step::

    for epoch in range(epochs):
        for x, y in dataset:
            loss = train_step(x, y)
            if tfmon.step(loss=loss, epoch=epoch):   # True: the user pressed stop
                break
        tfmon.epoch_end(epoch, loss=epoch_loss.result())

Under tfmon these emit the events the Keras callback emits (``fit_start`` with
``loop="custom"``, ``epoch_start``, throttled ``batch``, ``epoch_end``,
``fit_end``), so the header, the metrics table and the loss curve work as for
``fit``; and ``step`` is the batch boundary where pause blocks and checkpoint
and stop requests are served, as ``on_train_batch_end`` is for ``fit``.

Run with plain ``python``, every function is a no-op: one global read, no
output, no error, no TensorFlow import.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import Any

from tfmon import events

__all__ = ["step", "should_stop", "epoch_end", "checkpointable"]

#: The loop of the script tfmon runs now; None under plain python. Set by
#: ``bind`` (LiveRun.run_job) before the script starts, cleared by ``unbind``.
_loop: _CustomLoop | None = None


def step(step: Any = None, epoch: Any = None, **metrics: Any) -> bool:
    """Report one training step; return True when the user asked tfmon to stop.

    Call it once per step, in Python, after the step has run (not inside a
    ``tf.function``). ``step`` is your global step number (e.g.
    ``optimizer.iterations``), counted by tfmon when omitted; ``epoch`` is the
    current epoch, shown as you number it. ``metrics`` are numbers or scalar
    tensors (``loss=loss``); a name containing ``loss`` feeds the loss curve.
    Tensors are read at most ten times a second, so passing them costs nothing
    on the steps in between.

    Under tfmon this is where a pause blocks (until resumed) and where a
    checkpoint or stop request is served. Once stop is requested it returns
    True on every later call (``should_stop()`` says the same): leave the loop.
    Without tfmon it returns False at once.
    """
    loop = _loop
    if loop is None:
        return False
    return loop.on_step(step, epoch, metrics)


def should_stop() -> bool:
    """True once the user asked tfmon to stop (served at a ``step`` call); False without tfmon."""
    loop = _loop
    return loop is not None and loop.stop_requested


def epoch_end(epoch: Any, **metrics: Any) -> None:
    """Report the end of an epoch with its metrics (a row in the metrics table)."""
    loop = _loop
    if loop is not None:
        loop.on_epoch_end(epoch, metrics)


def checkpointable(obj: Any) -> Any:
    """Register what tfmon's checkpoint key saves, and return it unchanged.

    ``obj`` is a ``tf.train.Checkpoint`` (saved as ``ckpt-N`` in the run's
    ``checkpoints/`` folder, the ``tf.train.CheckpointManager`` naming, with a
    ``checkpoint`` state file so ``tf.train.latest_checkpoint`` finds it) or a
    Keras model (saved whole as ``.keras``, or its weights). Several objects
    may be registered; each is saved.
    """
    kind = _kind_of(obj)
    loop = _loop
    if loop is not None:
        loop.add_checkpointable(obj, kind)
    return obj


def _kind_of(obj: Any) -> str:
    # Duck typing: no TensorFlow import, so plain python stays cheap.
    if callable(getattr(obj, "save_weights", None)) and callable(getattr(obj, "save", None)):
        return "keras"
    if callable(getattr(obj, "write", None)) and callable(getattr(obj, "read", None)):
        return "tf_checkpoint"
    raise TypeError(
        f"tfmon.checkpointable() takes a tf.train.Checkpoint or a Keras model, not {type(obj).__name__}; "
        "wrap variables or modules: tf.train.Checkpoint(model=model, optimizer=optimizer)"
    )


# -- wiring, used by LiveRun


def bind(ctx) -> None:
    """Make ``ctx`` (a ProbeContext) the run the API reports to. Called before the script runs."""
    global _loop
    _loop = _CustomLoop(ctx)


def unbind(ctx, exit_code: int | None = None) -> None:
    """The script has ended: close the loop's events (``fit_end``) and go back to no-op."""
    global _loop
    loop = _loop
    if loop is None or loop.ctx is not ctx:
        return
    _loop = None
    loop.close(exit_code)


def current_context():
    """The ProbeContext of the run tfmon runs now, or None under plain python."""
    loop = _loop
    return loop.ctx if loop is not None else None


_CKPT_NAME = re.compile(r"^ckpt-(\d+)\.index$")


class _CustomLoop:
    """A custom loop as the control gate sees it (position, checkpoint, request_stop)."""

    def __init__(self, ctx) -> None:
        self.ctx = ctx
        self.fit: int | None = None  # this loop's fit number, once it has started
        self.epoch: int | None = None  # as the script numbers it; None until it says
        self.step = 0  # steps in the current epoch (all steps when there are no epochs)
        self.count = 0  # steps since the loop started
        self.stop_requested = False
        self._user_step: Any = None  # the script's own step, converted only when emitted
        self._latest: dict[str, Any] = {}
        self._last_batch_event = 0.0
        self._epoch_open = False
        self._next_epoch: int | None = None
        self._epoch_started = time.perf_counter()
        self._paused_before = 0.0  # ctx.control.paused_seconds when the epoch began
        self._stop_shown = False  # the epoch a stop cut short has said so
        self._checkpointables: list[tuple[Any, str]] = []

    # -- the control gate's view of the loop
    def position(self) -> tuple[int, int]:
        return (self.epoch if self.epoch is not None else 0), self.step

    def checkpoint(self) -> None:
        from tfmon.probes.checkpoint import save_keras_model, save_tf_checkpoint

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
            number = _next_checkpoint_number(folder)
            if save_tf_checkpoint(obj, folder, number, epoch, step, ctx.emit) is not None:
                _write_checkpoint_state(folder)

    def request_stop(self) -> None:
        self.stop_requested = True

    # -- the API
    def on_step(self, step: Any, epoch: Any, metrics: dict[str, Any]) -> bool:
        ctx = self.ctx
        if self.fit != ctx.fit_count:  # not started, or a Keras fit ran since
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
        if now - self._last_batch_event >= ctx.batch_event_interval:
            self._last_batch_event = now
            self._emit_batch(now)
        if ctx.control.pending:
            ctx.control.serve(self)
        return self.stop_requested

    def on_epoch_end(self, epoch: Any, metrics: dict[str, Any]) -> None:
        if self.fit != self.ctx.fit_count:
            self._start()
        epoch = int(epoch)
        self._end_epoch(epoch, _clean(metrics))
        self._next_epoch = epoch + 1

    def add_checkpointable(self, obj: Any, kind: str) -> None:
        if all(o is not obj for o, _ in self._checkpointables):
            self._checkpointables.append((obj, kind))

    def close(self, exit_code: int | None) -> None:
        ctx = self.ctx
        if self.fit is None or self.fit != ctx.fit_count:
            return  # never started, or a Keras fit came after it and reported its own end
        if self._epoch_open and self.step:
            self._end_epoch(self.epoch, {})
        if ctx.control.quit_requested:
            reason = "quit by user"
        elif self.stop_requested:
            reason = "stopped by user"
        elif exit_code not in (0, None):
            reason = "failed"
        else:
            reason = "completed"
        ctx.emit(events.FIT_END, fit=self.fit, epochs_done=self.epoch or 0, reason=reason, loop="custom")

    # -- events
    def _start(self) -> None:
        ctx = self.ctx
        ctx.fit_count += 1
        self.fit = ctx.fit_count
        self.epoch, self.step, self.count = None, 0, 0
        self._epoch_open, self._next_epoch = False, None
        self._last_batch_event = 0.0
        self._epoch_started = time.perf_counter()
        self._paused_before = ctx.control.paused_seconds
        model = next((o for o, kind in self._checkpointables if kind == "keras"), None)
        ctx.emit(
            events.FIT_START,
            fit=self.fit,
            epochs=None,
            steps=None,
            batch_size=None,
            model=getattr(model, "name", None),
            params=_count_params(model),
            loop="custom",
        )
        tf = sys.modules.get("tensorflow")
        if tf is not None:
            # A step has run: TF's devices are initialised now.
            ctx.mark_devices_ready(tf)
            if _inside_function(tf):
                ctx.emit(
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
        self._epoch_started = time.perf_counter()
        self._paused_before = self.ctx.control.paused_seconds
        self.ctx.emit(events.EPOCH_START, epoch=epoch)

    def _end_epoch(self, epoch: int | None, metrics: dict[str, Any]) -> None:
        ctx = self.ctx
        fields = {}
        if self.stop_requested and not self._stop_shown:
            # The loop left on tfmon's stop: this epoch did not run to its end.
            self._stop_shown = True
            fields["ended_at"] = f"stopped at step {self.step}"
        ctx.emit(
            events.EPOCH_END,
            epoch=epoch if epoch is not None else 0,
            steps=self.step,
            global_step=self._global_step(),
            seconds=round(ctx.control.seconds_training(self._epoch_started, self._paused_before), 4),
            metrics=metrics,
            **fields,
        )
        self.epoch = epoch
        self._epoch_open = False
        self._epoch_started = time.perf_counter()
        self._paused_before = ctx.control.paused_seconds
        for hook in ctx.on_epoch_end:
            try:
                hook(epoch if epoch is not None else 0)
            except Exception:
                pass

    def _emit_batch(self, now: float) -> None:
        fields: dict[str, Any] = {
            "t": now,
            "step": self.step,
            "global_step": self._global_step(),
            "logs": _clean(self._latest),
        }
        if self.epoch is not None:
            fields["epoch"] = self.epoch
        self.ctx.emit(events.BATCH, **fields)

    def _global_step(self) -> int:
        if self._user_step is None:
            return self.count
        try:
            return int(self._user_step)
        except (TypeError, ValueError):
            return self.count


def _clean(metrics: dict[str, Any]) -> dict[str, Any]:
    from tfmon.probes.keras import _clean as clean_logs  # the callback's own rule: floats, NaN as text

    return clean_logs(metrics)


def _count_params(model: Any) -> int | None:
    if model is None:
        return None
    try:
        return int(model.count_params())
    except Exception:
        return None


def _inside_function(tf: Any) -> bool:
    try:
        return bool(tf.inside_function())
    except Exception:
        return False


def _next_checkpoint_number(folder: Path) -> int:
    """One more than the highest ``ckpt-N`` in the folder: a reused run dir is never overwritten."""
    numbers = _checkpoint_numbers(folder)
    return (numbers[-1] + 1) if numbers else 1


def _checkpoint_numbers(folder: Path) -> list[int]:
    try:
        names = [p.name for p in folder.iterdir()]
    except OSError:
        return []
    return sorted(int(m.group(1)) for m in map(_CKPT_NAME.match, names) if m)


def _write_checkpoint_state(folder: Path) -> None:
    """The ``checkpoint`` file CheckpointManager keeps, so ``tf.train.latest_checkpoint`` finds ours."""
    numbers = _checkpoint_numbers(folder)
    if not numbers:
        return
    lines = [f'model_checkpoint_path: "ckpt-{numbers[-1]}"']
    lines += [f'all_model_checkpoint_paths: "ckpt-{n}"' for n in numbers]
    tmp = folder / ".checkpoint.tmp"
    try:
        tmp.write_text("\n".join(lines) + "\n")
        tmp.replace(folder / "checkpoint")
    except OSError:
        pass
