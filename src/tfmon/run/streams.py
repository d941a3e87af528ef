"""After the terminal hung up: std streams onto /dev/null, so nothing at exit writes to it."""

from __future__ import annotations

import os
import sys


def detach_std_streams() -> None:
    """Point fds 0-2, and the descriptors sys.stdout/sys.stderr use (after
    ``LiveRun.finish(park_fds=True)`` their own copies of the terminal), at
    /dev/null: a write at exit to the dead terminal would fail and make Python
    exit 120. Nobody is there to read it."""
    fds = {0, 1, 2}
    for stream in (sys.stdout, sys.stderr):
        try:
            fds.add(stream.fileno())
        except (AttributeError, OSError, ValueError):
            pass
    null = os.open(os.devnull, os.O_RDWR)
    for fd in fds:
        os.dup2(null, fd)
    os.close(null)
