"""Checkpoints taken from the keyboard: written to a temporary name, then renamed.

A crash or a full disk never leaves a half-written file under the real name, and a
``.keras`` file is checked to load back before it gets its name: a model Keras
cannot rebuild (an unregistered subclass) is saved as weights instead, with why.
"""

from __future__ import annotations

import json
import os
import re
import time
import warnings
import zipfile
from pathlib import Path
from typing import Any

from tfmon import events
from tfmon.events import Emit
from tfmon.rundir import make_private_dir

#: Saved models up to this size are loaded back once to check them (a fraction of a
#: second); bigger ones get the cheap check only (archive contents, known classes).
LOAD_CHECK_BYTES = 32 * 2**20
_KERAS_PACKAGES = ("keras", "tf_keras", "builtins")


def _atomic(path: Path, write, check=None) -> str | None:
    """Write to a temporary name, then rename; ``check(tmp)`` may refuse the file
    first (returns why): then nothing is left under either name."""
    # Keras picks the format from the suffix, so the temporary name keeps it.
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    try:
        write(tmp)
        refused = check(tmp) if check is not None else None
        if refused is None:
            os.chmod(tmp, 0o600)  # the user's model: private, like the run directory
            os.replace(tmp, path)
        return refused
    finally:
        if tmp.exists():
            tmp.unlink()


def save_keras_model(model: Any, folder: Path, epoch: int, step: int, emit: Emit) -> Path | None:
    """Save the whole model (``.keras``), or its weights when it cannot be saved whole."""
    started = time.perf_counter()
    stem = f"epoch{epoch:03d}-step{step:05d}"
    reason = None
    try:
        make_private_dir(folder)
        try:
            # A subclassed model without get_config saves, but cannot be loaded back.
            model.get_config()
        except NotImplementedError as exc:
            reason = f"model cannot be saved whole ({exc or 'no get_config'}); saved its weights"
        if reason is None:
            path = folder / f"{stem}.keras"
            unloadable = _atomic(path, model.save, check=lambda tmp: keras_file_problem(tmp, model))
            if unloadable is not None:
                reason = f"{unloadable}; saved its weights"
        if reason is not None:
            path = folder / f"{stem}.weights.h5"
            _atomic(path, model.save_weights)
    except Exception as exc:  # a read-only folder or a full disk: say so, train on
        _report_failure(emit, epoch, step, exc)
        return None
    kind = "weights" if reason else "model"
    _report_saved(emit, epoch, step, path, kind, path.stat().st_size, started, reason)
    return path


def keras_file_problem(path: Path, model: Any) -> str | None:
    """Why a freshly saved ``.keras`` file would not load back, or None.

    Cheap first: the archive must hold its config and weights, and every class in
    the config must be one Keras can find (its own, or registered). Then, for a
    small file, a real ``load_model``: what the user will do with it.
    """
    framework = _framework_of(model)
    try:
        with zipfile.ZipFile(path) as archive:
            missing = {"config.json", "model.weights.h5"} - set(archive.namelist())
            if missing:
                return f"the saved file lacks {', '.join(sorted(missing))}"
            config = json.loads(archive.read("config.json"))
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        return f"the saved file cannot be read back ({exc})"
    unknown = unregistered_classes(config, framework.saving.get_registered_object)
    if unknown:
        names = ", ".join(unknown)
        return (f"{names} {'is' if len(unknown) == 1 else 'are'} not registered, so load_model cannot "
                f"rebuild the model (decorate with @keras.saving.register_keras_serializable())")
    if path.stat().st_size > LOAD_CHECK_BYTES:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            framework.models.load_model(str(path), safe_mode=False)
    except Exception as exc:
        text = str(exc).splitlines()[0] if str(exc) else ""
        return f"load_model cannot read the saved model back ({type(exc).__name__}: {text[:160]})"
    return None


def unregistered_classes(config: Any, registered) -> list[str]:
    """Classes in a Keras config that are neither Keras' own nor registered."""
    found = set()
    stack = [config]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "class_name" in node and "config" in node and "module" in node:
                package = (node.get("module") or "").split(".")[0]
                name = node.get("registered_name") or node["class_name"]
                if package not in _KERAS_PACKAGES and registered(name) is None:
                    found.add(str(node["class_name"]))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return sorted(found)


def _framework_of(model: Any):
    """The Keras the model belongs to: ``tf_keras`` (legacy) or ``keras``."""
    import importlib

    legacy = any(c.__module__.startswith("tf_keras") for c in type(model).__mro__)
    return importlib.import_module("tf_keras" if legacy else "keras")


def save_tf_checkpoint(obj: Any, folder: Path, number: int, epoch: int, step: int, emit: Emit) -> Path | None:
    """Save a ``tf.train.Checkpoint`` as ``ckpt-N`` (the CheckpointManager naming)."""
    started = time.perf_counter()
    try:
        make_private_dir(folder)
        prefix = obj.write(str(folder / f"ckpt-{number}"))
        for written in folder.glob(f"ckpt-{number}.*"):
            os.chmod(written, 0o600)
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


_CKPT_NAME = re.compile(r"^ckpt-(\d+)\.index$")


def next_checkpoint_number(folder: Path) -> int:
    """One more than the highest ``ckpt-N`` in the folder: a reused run dir is never overwritten."""
    numbers = _checkpoint_numbers(folder)
    return (numbers[-1] + 1) if numbers else 1


def _checkpoint_numbers(folder: Path) -> list[int]:
    try:
        names = [p.name for p in folder.iterdir()]
    except OSError:
        return []
    return sorted(int(m.group(1)) for m in map(_CKPT_NAME.match, names) if m)


def write_checkpoint_state(folder: Path) -> None:
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
