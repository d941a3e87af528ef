"""Checkpoints taken from the keyboard: written to a temporary name, then renamed.

A crash or a full disk never leaves a half-written file under the real name.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from tfmon import events
from tfmon.events import Emit


def _atomic(path: Path, write) -> None:
    # Keras picks the format from the suffix, so the temporary name keeps it.
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def save_keras_model(model: Any, folder: Path, epoch: int, step: int, emit: Emit) -> Path | None:
    """Save the whole model (``.keras``), or its weights when it cannot be saved whole."""
    started = time.perf_counter()
    stem = f"epoch{epoch:03d}-step{step:05d}"
    reason = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        try:
            # A subclassed model without get_config saves, but cannot be loaded back.
            model.get_config()
            path = folder / f"{stem}.keras"
            _atomic(path, model.save)
        except NotImplementedError as exc:
            reason = f"model cannot be saved whole ({exc or 'no get_config'}); saved its weights"
            path = folder / f"{stem}.weights.h5"
            _atomic(path, model.save_weights)
    except Exception as exc:  # a read-only folder or a full disk: say so, train on
        _report_failure(emit, epoch, step, exc)
        return None
    kind = "weights" if reason else "model"
    _report_saved(emit, epoch, step, path, kind, path.stat().st_size, started, reason)
    return path


def save_tf_checkpoint(obj: Any, folder: Path, number: int, epoch: int, step: int, emit: Emit) -> Path | None:
    """Save a ``tf.train.Checkpoint`` as ``ckpt-N`` (the CheckpointManager naming)."""
    started = time.perf_counter()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        prefix = obj.write(str(folder / f"ckpt-{number}"))
    except Exception as exc:
        _report_failure(emit, epoch, step, exc)
        return None
    size = sum(f.stat().st_size for f in folder.glob(f"ckpt-{number}.*"))
    _report_saved(emit, epoch, step, Path(prefix), "tf_checkpoint", size, started, None)
    return Path(prefix)


def _report_failure(emit: Emit, epoch: int, step: int, exc: Exception) -> None:
    emit(events.CHECKPOINT, ok=False, epoch=epoch, step=step, error=f"{type(exc).__name__}: {exc}")


def _report_saved(emit: Emit, epoch: int, step: int, path: Path, kind: str, size: int, started: float, note: str | None) -> None:
    emit(
        events.CHECKPOINT,
        ok=True,
        epoch=epoch,
        step=step,
        path=str(path),
        kind=kind,
        size=size,
        seconds=round(time.perf_counter() - started, 3),
        note=note,
    )
