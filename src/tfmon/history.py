"""A long recording, read for what the UI's state needs rather than event by event.

``tfmon replay`` and ``tfmon attach`` open runs of a week: hundreds of MB of
``events.jsonl`` (runs recorded before the recorder thinned its output hold a
``placement`` event per 20 ms and a ``batch`` event per 0.1 s). The UI's state
(``RunState``) keeps the last 5000 log lines, 600 memory samples per figure, a
loss curve of a few thousand points, and sums of eager counts: so most lines
need not be parsed at all. Two passes over the file, in blocks (bounded memory):

1. count the lines of each frequent type (``bytes.count``: no parsing);
2. read the lines in order, telling the type from the raw bytes, and keep:
   - every event of any other type (epoch ends, checkpoints, fallbacks, ...),
     parsed, in order;
   - ``batch`` and ``scalar``: an even sample of ``CURVE_POINTS`` over the whole
     run (the curve shows the run, downsampled), the newest of each scalar
     series, and the ``batch`` just before each mark (``thinning.MARKS``: the
     position at every epoch end, pause, checkpoint is exact) and the last one;
   - ``memory`` and ``log``: the newest ``MEMORY_KEEP`` / ``LOG_KEEP``;
   - ``heartbeat``: the newest;
   - eager-only ``placement`` events: summed into one event (identical lines,
     but for their time, are parsed once).

The events kept fold into the same final state as all of them, the curve's
density aside (tests/unit/test_history.py).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

from tfmon import events
from tfmon.events import Event
from tfmon.memory.state import HISTORY_LEN
from tfmon.schema import problem
from tfmon.state import BATCH_HISTORY, LOG_HISTORY
from tfmon.thinning import MARKS

BLOCK = 8 << 20
CURVE_POINTS = BATCH_HISTORY
MEMORY_KEEP = HISTORY_LEN
LOG_KEEP = LOG_HISTORY
_TYPE = b'"type":"'
_HOT = tuple(t.encode() for t in (events.BATCH, events.SCALAR, events.MEMORY, events.LOG, events.HEARTBEAT))
_MARKS = frozenset(m.encode() for m in MARKS)
_SERIES = re.compile(rb'"(?:name|run)":"((?:[^"\\]|\\.)*)"')


def _blocks(path: Path, end: int):
    """``(block, offset after it)``: blocks of whole lines up to ``end``."""
    with open(path, "rb") as f:
        rest, at = b"", 0
        while at < end:
            data = f.read(min(BLOCK, end - at))
            if not data:
                break
            at += len(data)
            data = rest + data
            cut = data.rfind(b"\n") + 1
            rest = data[cut:]
            yield data[:cut], at - len(rest)


def complete_end(path: Path) -> int:
    """The offset just past the last complete line (what a reader can take now)."""
    with open(path, "rb") as f:
        size = f.seek(0, 2)
        pos = size
        while pos > 0:
            step = min(65536, pos)
            f.seek(pos - step)
            chunk = f.read(step)
            nl = chunk.rfind(b"\n")
            if nl >= 0:
                return pos - step + nl + 1
            pos -= step
    return 0


def _count(path: Path, end: int) -> dict[bytes, int]:
    counts = dict.fromkeys(_HOT, 0)
    for block, _ in _blocks(path, end):
        for kind in _HOT:
            counts[kind] += block.count(_TYPE + kind + b'"')
    return counts


def _load(raw: bytes) -> Event | None:
    """The event on a raw line, or None when it is not a well-formed one (``tfmon.schema``)."""
    e = events.loads(raw.decode("utf-8", "replace"))
    return e if e is not None and problem(e) is None else None


def read_history(path: Path, end: int | None = None) -> tuple[list[Event], int, int]:
    """The events of ``path`` (up to ``end``, default: its last complete line) that
    the UI's state needs, in order; the offset read up to (a follower goes on
    from there); and how many lines read were not a well-formed event (skipped)."""
    path = Path(path)
    if end is None:
        end = complete_end(path)
    counts = _count(path, end)
    stride = {k: max(1, -(-counts[k] // CURVE_POINTS)) for k in (b"batch", b"scalar")}
    seen = dict.fromkeys(_HOT, 0)
    out: list[Event] = []
    held_batch: bytes | None = None
    # The newest heartbeat, and the newest event of each scalar series the sample missed.
    newest: dict[bytes, tuple[int, bytes]] = {}
    eager_lines: Counter[bytes] = Counter()
    eager_first: dict[bytes, bytes] = {}
    kept_at = 0
    skipped = 0

    def keep(raw: bytes) -> None:
        nonlocal skipped
        e = _load(raw)
        if e is not None:
            out.append(e)
        else:
            skipped += 1

    for block, kept_at in _blocks(path, end):
        for raw in block.split(b"\n"):
            if raw[:7] == b'{"pid":' and raw.endswith(b"}") and b'"type":"heartbeat"' in raw:
                newest[b"heartbeat"] = (len(out), raw)  # most lines of a long run: the cheapest test first
                continue
            j = raw.rfind(_TYPE)
            if j < 0:
                skipped += bool(raw.strip())  # not an event of any kind
                continue
            kind = raw[j + 8 : raw.find(b'"', j + 8)]
            if kind in seen:
                i = seen[kind] = seen[kind] + 1
                n = counts[kind]
                if kind == b"batch":
                    if (i - 1) % stride[kind] == 0 or i == n:
                        keep(raw)
                        held_batch = None
                    else:
                        held_batch = raw
                elif kind == b"scalar":
                    series = b"\0".join(_SERIES.findall(raw))
                    if (i - 1) % stride[kind] == 0:
                        keep(raw)
                        newest.pop(series, None)
                    else:
                        newest[series] = (len(out), raw)
                elif kind == b"heartbeat":
                    newest[b"heartbeat"] = (len(out), raw)
                elif i > n - (MEMORY_KEEP if kind == b"memory" else LOG_KEEP):
                    keep(raw)
                continue
            if kind == b"placement" and b'"nodes":[]' in raw:
                key = raw[: raw.rfind(b',"t":')]
                eager_lines[key] += 1
                eager_first.setdefault(key, raw)
                continue
            if held_batch is not None and kind in _MARKS:
                keep(held_batch)
                held_batch = None
            keep(raw)
    for at, raw in sorted(newest.values(), reverse=True):  # each where it was
        e = _load(raw)
        if e is not None:
            out.insert(at, e)
    if eager_lines:
        out.append(_eager_sum(eager_lines, eager_first))
    return out, kept_at, skipped


def _eager_sum(lines: Counter[bytes], first: dict[bytes, bytes]) -> Event:
    total: Counter[str] = Counter()
    t = None
    for key, n in lines.items():
        e = _load(first[key])
        if e is None:
            continue
        t = max(t or 0.0, e.get("t", 0.0))
        for op, count in (e.get("eager") or {}).items():
            if isinstance(count, (int, float)):
                total[op] += count * n
    return {"nodes": [], "eager": dict(total), "type": events.PLACEMENT, "t": t}
