"""The run directory: where a run's events, output and checkpoints live.

It holds the control socket and the user's model checkpoints, so it is
private: created owner-only (0700), its files 0600, ``checkpoints/`` 0700. A
``--run-dir`` that already exists must be the user's own and writable by no
one else, and files in it are opened without following symlinks: a folder
planted by someone else cannot make tfmon write where they choose.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

DEFAULT_BASE = "tfmon-runs"


class UnsafeRunDir(PermissionError):
    """A --run-dir tfmon refuses to write into (its message is the one line for the user)."""


def new_run_dir(script: Path, base: Path | None = None, explicit: Path | None = None) -> Path:
    # Absolute: a script that changes directory must not move its checkpoints.
    if explicit is not None:
        path = Path(explicit).resolve()
        try:
            path.mkdir(parents=True, mode=0o700)
        except FileExistsError:
            check_safe_dir(path)
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


def check_safe_dir(path: Path) -> None:
    """Raise UnsafeRunDir unless ``path`` is a directory of ours that only we can write."""
    st = os.stat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafeRunDir(f"--run-dir {path} is not a directory")
    if st.st_uid != os.getuid():
        raise UnsafeRunDir(f"refusing --run-dir {path}: it belongs to uid {st.st_uid}, not to you (uid {os.getuid()})")
    if st.st_mode & 0o022:
        raise UnsafeRunDir(
            f"refusing --run-dir {path}: others can write to it (mode {stat.S_IMODE(st.st_mode):03o}); "
            "chmod go-w it or pick another folder"
        )


def open_private(path: Path) -> int:
    """An fd for appending to ``path``: created 0600 with O_EXCL when new, never through a
    symlink, and only a regular file of ours when it exists (a run written twice)."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        return os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    fd = os.open(path, flags | os.O_NONBLOCK)  # a planted FIFO must not block the open
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid():
        os.close(fd)
        raise UnsafeRunDir(f"refusing to write {path}: not a regular file of yours")
    os.set_blocking(fd, True)
    return fd


def write_all(fd: int, data: bytes) -> None:
    """os.write until all of ``data`` is written (a disk that fills up writes part of it)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def make_private_dir(path: Path) -> None:
    """mkdir -p, owner-only."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
