"""``output.log``: everything captured, minus what repeats, under a size cap.

Eager TensorFlow prints an ``Executing op`` line per op per step, forever
(20 GB a day on a small model). ``OutputLog`` keeps every line verbatim
except a placement line that repeats a known (graph node / eager op,
device): those are counted, and a summary line says how many, at most every
``summary_interval`` seconds and at the end. ``raw=True`` (``--raw-log``)
keeps every line and lifts the cap.

The cap: once the file passes ``cap`` bytes, its middle is rotated out: the
first ``head`` bytes stay, then one line saying how many bytes were dropped
there, then the newest ``tail`` bytes. The file is rewritten to a temporary
name and renamed over, so a crash mid-rotation leaves the old file whole;
``on_rotate`` is told (the crash-trace fd then follows the new file).

The file is private (0600, never opened through a symlink: ``tfmon.rundir``)
and written with plain ``os.write``: a write that fails (a full disk) raises
to the caller, which then abandons the file.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path
from typing import Callable

from tfmon.rundir import open_private, write_all

CAP = 48 << 20
HEAD = 8 << 20
TAIL = 16 << 20
SUMMARY_INTERVAL = 600.0
SUMMARY_TOP = 8  # repeated lines named in a summary; the rest are a total
MARK = "[tfmon] "


def _bytes(n: int) -> str:
    return f"{n:,} bytes ({n / (1 << 20):.1f} MB)"


class OutputLog:
    def __init__(
        self,
        path: Path,
        raw: bool = False,
        cap: int = CAP,
        head: int = HEAD,
        tail: int = TAIL,
        summary_interval: float = SUMMARY_INTERVAL,
        clock=time.monotonic,
        on_rotate: Callable[[], None] | None = None,
    ) -> None:
        if not head + tail < cap:
            raise ValueError("head + tail must be under the cap")
        self.path = Path(path)
        self._fd: int | None = open_private(self.path)
        self._size = os.fstat(self._fd).st_size
        self.on_rotate = on_rotate
        self.raw = raw
        self._cap, self._head, self._tail = cap, head, tail
        self._head_end: int | None = self._size if self._size >= head else None
        self.dropped = 0  # bytes rotated out so far
        self._interval = summary_interval
        self._clock = clock
        self._since = time.time()
        self._summary_at = clock()
        self.repeats: Counter[str] = Counter()  # since the last summary
        self.repeats_total = 0

    def write(self, lines: list[str], kinds: list[str | None] | None = None) -> None:
        """Write ``lines``; ``kinds`` per line from ``PlacementProbe.classify``: a
        non-empty string marks a repeated placement line (counted under that name)."""
        if kinds is None or self.raw:
            text = "".join(line + "\n" for line in lines)
        else:
            counts = Counter(kinds)
            stored = counts.pop(None, 0) + counts.pop("", 0)
            self.repeats.update(counts)
            text = "".join(line + "\n" for line, kind in zip(lines, kinds) if not kind) if stored else ""
        if self.repeats and self._clock() - self._summary_at >= self._interval:
            text += self._summary()
        if text:
            self._append(text.encode("utf-8", "replace"))

    def _summary(self) -> str:
        n = sum(self.repeats.values())
        self.repeats_total += n
        top = self.repeats.most_common(SUMMARY_TOP)
        parts = [f"{label} x{count:,}" for label, count in top]
        rest = n - sum(count for _, count in top)
        if rest:
            parts.append(f"{len(self.repeats) - len(top)} more x{rest:,}")
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self._since))
        self.repeats.clear()
        self._since = time.time()
        self._summary_at = self._clock()
        return (
            f"{MARK}{n:,} placement lines since {since} repeated known ones: counted, not stored "
            f"(tfmon --raw-log keeps them): {', '.join(parts)}\n"
        )

    def _append(self, data: bytes) -> None:
        write_all(self._fd, data)
        self._size += len(data)
        if self._head_end is None and self._size >= self._head:
            self._head_end = self._size  # the head ends where a write ended: on a line boundary
        if not self.raw and self._size > self._cap:
            self._rotate()

    def _rotate(self) -> None:
        """Keep the head and the newest ``tail`` bytes; a line in between says what went."""
        assert self._head_end is not None
        os.close(self._fd)
        self._fd = None
        with open(self.path, "rb") as f:
            head = f.read(self._head_end)
            f.seek(self._size - self._tail)
            tail = f.read()
        tail = tail[tail.find(b"\n") + 1 :]  # from the start of a line
        self.dropped += self._size - self._head_end - len(tail) - self._marker_len
        marker = (
            f"{MARK}... {_bytes(self.dropped)} of output dropped here: output.log keeps its first "
            f"{_bytes(len(head))} and its newest lines, under {self._cap >> 20} MB "
            f"(tfmon --raw-log keeps everything) ...\n"
        ).encode()
        tmp = self.path.with_name(self.path.name + ".rotating")
        try:
            tmp.unlink()  # left by a crash mid-rotation
        except FileNotFoundError:
            pass
        fd = open_private(tmp)
        try:
            write_all(fd, head + marker + tail)
        except OSError:
            tmp.unlink()
            raise
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        self._marker_len = len(marker)
        self._fd = open_private(self.path)
        self._size = os.fstat(self._fd).st_size
        if self.on_rotate is not None:
            self.on_rotate()

    _marker_len = 0  # the previous marker is part of the middle rotated out, not output

    def close(self) -> None:
        if self._fd is None:
            return
        try:
            if self.repeats:
                self._append(self._summary().encode())
        finally:
            self.abandon()

    def abandon(self) -> None:
        """Close without writing anything more (after a write failed)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
