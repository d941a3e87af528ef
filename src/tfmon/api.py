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

from typing import Any

from tfmon.probes import customloop

__all__ = ["step", "should_stop", "epoch_end", "checkpointable"]


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
    loop = customloop.active
    if loop is None:
        return False
    return loop.on_step(step, epoch, metrics)


def should_stop() -> bool:
    """True once the user asked tfmon to stop (served at a ``step`` call); False without tfmon."""
    loop = customloop.active
    return loop is not None and loop.stop_requested


def epoch_end(epoch: Any, **metrics: Any) -> None:
    """Report the end of an epoch with its metrics (a row in the metrics table)."""
    loop = customloop.active
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
    loop = customloop.active
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

