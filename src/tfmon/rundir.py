"""The run directory: where a run's events, output and checkpoints live.

It is created owner-only (0700): it holds the control socket and the user's
model checkpoints.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

DEFAULT_BASE = "tfmon-runs"


def new_run_dir(script: Path, base: Path | None = None, explicit: Path | None = None) -> Path:
    # Absolute: a script that changes directory must not move its checkpoints.
    if explicit is not None:
        path = Path(explicit).resolve()
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path
    base = Path(base or DEFAULT_BASE).resolve()
    base.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    stem = script.stem or "run"
    path = base / f"{stamp}-{stem}"
    n = 1
    while path.exists():  # two runs started in the same second
        n += 1
        path = base / f"{stamp}-{stem}-{n}"
    path.mkdir(mode=0o700)
    return path


def checkpoints_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "checkpoints"


def ensure_private(path: Path) -> None:
    os.chmod(path, 0o700)
