"""``tf.summary`` scalars as ``scalar`` events, with no change to the script.

tfmon learns the script's log directories by wrapping
``tf.summary.create_file_writer``, and a thread reads back the event files the
script's own writers write there. Reading the files, rather than hooking the
summary ops, sees every value the script writes (eagerly, or from inside a
``tf.function`` through the default writer) without adding an op to its
graphs, and the TensorBoard logs are written exactly as before.

One setting changes: a writer created with the default queue (``max_queue``
and ``flush_millis`` both left out) flushes after every write instead of
every 10 summaries or 2 minutes, so values reach tfmon within a poll. The
files' contents are the same. A writer the script configured keeps its
settings, and is flushed when the script ends.

Writers of Keras' own ``TensorBoard`` callback are left alone: ``fit`` already
reports those metrics through tfmon's callback.

Values are thinned per series, as the callback throttles its ``batch``
events: a series written every step is cut to about one value per ``min_gap``
seconds of the script's clock (after a burst of ``burst``), while a series
written now and then (per epoch) comes through whole; the latest value of each
series always comes through.
"""

from __future__ import annotations

import functools
import math
import os
import struct
import sys
import threading
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from tfmon import events
from tfmon.events import Emit

EVENT_FILE_PREFIX = "events.out.tfevents."
_WRAPPED = "__tfmon_summaries__"
_HEADER = 12  # uint64 length, uint32 masked CRC of the length
_FOOTER = 4  # uint32 masked CRC of the data
_MAX_RECORD = 1 << 30  # a bigger length means the file is not a TFRecord file


def read_records(data: bytes) -> tuple[list[bytes], int]:
    """Complete TFRecord records at the start of ``data``, and how many bytes they span.

    A record still being written (its header or data not all there yet) is left
    for the next read. CRCs are not checked: the writer writes a record in one
    piece, and tfmon only displays what TensorBoard will read.
    """
    records = []
    pos = 0
    end = len(data)
    while end - pos >= _HEADER:
        (length,) = struct.unpack_from("<Q", data, pos)
        if length > _MAX_RECORD:
            raise ValueError(f"record length {length} at offset {pos}: not a TFRecord file")
        stop = pos + _HEADER + length
        if stop + _FOOTER > end:
            break
        records.append(data[pos + _HEADER : stop])
        pos = stop + _FOOTER
    return records, pos


@dataclass(frozen=True)
class Scalar:
    tag: str
    step: int
    value: float | str  # NaN and infinities as text, as in the callback's logs
    wall_time: float


def scalars_of(record: bytes) -> list[Scalar]:
    """The scalar summaries in one serialized ``Event`` (v2 ``scalars`` plugin tensors and v1 ``simple_value``)."""
    from tensorflow.core.util import event_pb2

    event = event_pb2.Event.FromString(record)
    if not event.HasField("summary"):
        return []
    out = []
    for value in event.summary.value:
        number = _scalar_value(value)
        if number is not None:
            out.append(Scalar(value.tag, int(event.step), _finite_or_text(number), event.wall_time))
    return out


def _scalar_value(value: Any) -> float | None:
    kind = value.WhichOneof("value")
    if kind == "simple_value":
        return float(value.simple_value)
    if kind != "tensor":
        return None
    plugin = value.metadata.plugin_data.plugin_name
    if plugin not in ("scalars", ""):  # histograms, images, text...
        return None
    tensor = value.tensor
    if len(tensor.tensor_shape.dim) != 0:
        return None
    from tensorflow.python.framework import tensor_util  # proto to numpy: no op runs

    try:
        array = tensor_util.MakeNdarray(tensor)
    except Exception:
        return None
    if array.dtype.kind not in "fiub":
        return None
    return float(array.item())


def _finite_or_text(x: float) -> float | str:
    return x if math.isfinite(x) else str(x)


@dataclass
class _Dir:
    path: Path
    run: str
    excluded: set[str]  # event files there before the script's writer: not this run's
    offsets: dict[str, int] = field(default_factory=dict)
    broken: set[str] = field(default_factory=set)


class SummaryTail:
    """Reads the event files written in the watched log directories and emits ``scalar`` events."""

    def __init__(self, emit: Emit, interval: float = 0.5, min_gap: float = 0.1, burst: int = 10) -> None:
        self._emit = emit
        self.interval = interval
        self.min_gap = min_gap
        self.burst = burst
        self._dirs: dict[str, _Dir] = {}
        self._lock = threading.Lock()  # watch() runs in the training thread, poll() in ours
        self._poll_lock = threading.Lock()
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}  # series -> (tokens, wall time)
        self._pid_mark = f".{os.getpid()}."
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.emitted = 0

    def watch(self, logdir: str | os.PathLike) -> None:
        """Follow the event files this process writes in ``logdir`` from now on."""
        path = Path(os.path.abspath(logdir))
        key = str(path)
        with self._lock:
            if key in self._dirs:
                return
            self._dirs[key] = _Dir(path, path.name or key, excluded=set(self._event_files(path)))

    def watched(self) -> list[str]:
        with self._lock:
            return list(self._dirs)

    def _event_files(self, path: Path) -> Iterator[str]:
        try:
            with os.scandir(path) as entries:
                for entry in entries:
                    if entry.name.startswith(EVENT_FILE_PREFIX) and entry.is_file():
                        yield entry.name
        except OSError:
            return

    def poll(self) -> int:
        """Read what was written since the last poll; emit its scalars. Returns how many were emitted."""
        with self._poll_lock:
            with self._lock:
                dirs = list(self._dirs.values())
            before = self.emitted
            for d in dirs:
                for name in self._event_files(d.path):
                    if name in d.excluded or name in d.broken or self._pid_mark not in name:
                        continue
                    self._read_file(d, name)
            return self.emitted - before

    def _read_file(self, d: _Dir, name: str) -> None:
        offset = d.offsets.get(name, 0)
        try:
            with open(d.path / name, "rb") as f:
                f.seek(offset)
                data = f.read()
            records, used = read_records(data)
            scalars = [s for record in records for s in scalars_of(record)]
        except Exception as exc:  # never let a strange file stop the run: skip that file
            d.broken.add(name)
            self._emit(events.LOG, stream="tfmon", level="warning", text=f"tfmon: cannot read {d.path / name}: {exc}")
            return
        d.offsets[name] = offset + used
        self._emit_thinned(d, scalars)

    def _emit_thinned(self, d: _Dir, scalars: list[Scalar]) -> None:
        # A token bucket per series, on the script's clock: a series written now and
        # then (per epoch) comes through whole, even a few values in a row; one
        # written every step is cut to one value per min_gap. The latest value of
        # each series in this read always comes through.
        latest = {}
        for s in scalars:
            latest[s.tag] = s
        for s in scalars:
            key = (str(d.path), s.tag)
            tokens, last_time = self._buckets.get(key, (float(self.burst), s.wall_time))
            if self.min_gap > 0:
                tokens = min(float(self.burst), tokens + (s.wall_time - last_time) / self.min_gap)
            else:
                tokens = float(self.burst)
            keep = tokens >= 1.0 or latest[s.tag] is s
            self._buckets[key] = (max(tokens - 1.0, 0.0) if keep else tokens, s.wall_time)
            if keep:
                self._emit(
                    events.SCALAR, name=s.tag, step=s.step, value=s.value,
                    wall_time=s.wall_time, run=d.run, logdir=str(d.path),
                )
                self.emitted += 1

    # -- the thread
    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="tfmon-summaries", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.poll()

    def stop(self) -> None:
        """Stop the thread, then read what is left."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.poll()


# -- the writer hook


class _Installed:
    def __init__(self, tail: SummaryTail, original: Any, patched: list[Any]) -> None:
        self.tail = tail
        self.original = original
        self.patched = patched  # the modules whose create_file_writer is ours
        self.configured: weakref.WeakSet = weakref.WeakSet()  # writers with the script's own flush settings


_installed: _Installed | None = None


def install(emit: Emit, tf: Any = None, interval: float = 0.5, min_gap: float = 0.1) -> SummaryTail | None:
    """Wrap ``tf.summary.create_file_writer`` and start reading what the script's writers write."""
    global _installed
    if _installed is not None:
        return _installed.tail
    if tf is None:
        tf = sys.modules.get("tensorflow")
    try:
        from tensorflow.python.ops import summary_ops_v2
    except Exception:
        return None
    original = summary_ops_v2.create_file_writer_v2
    tail = SummaryTail(emit, interval=interval, min_gap=min_gap)
    state = _Installed(tail, original, [])
    wrapper = _wrap(original, state)
    for module in _writer_modules(tf, original):
        setattr(module, "create_file_writer", wrapper)
        state.patched.append(module)
    _installed = state
    tail.start()
    return tail


def uninstall() -> None:
    """Put the original function back; flush the writers that keep their own settings; read the rest."""
    global _installed
    state = _installed
    if state is None:
        return
    _installed = None
    for module in state.patched:
        if getattr(getattr(module, "create_file_writer", None), _WRAPPED, False):
            module.create_file_writer = state.original
    for writer in list(state.configured):
        try:
            writer.flush()
        except Exception:
            pass
    state.tail.stop()


def _writer_modules(tf: Any, original: Any) -> list[Any]:
    """Every TF/TensorBoard API module that exports the original (tf.summary, tf.compat.v2.summary, ...)."""
    found = []
    candidates = [getattr(tf, "summary", None), getattr(getattr(getattr(tf, "compat", None), "v2", None), "summary", None)]
    candidates += [m for name, m in list(sys.modules.items()) if name.startswith(("tensorflow", "tensorboard"))]
    for module in candidates:
        if module is None or any(module is m for m in found):
            continue
        if getattr(module, "create_file_writer", None) is original:
            found.append(module)
    return found


def _wrap(original: Any, state: _Installed):
    @functools.wraps(original)
    def create_file_writer(logdir, max_queue=None, flush_millis=None, *args, **kwargs):
        caller = sys._getframe(1).f_globals.get("__name__", "")
        path = None if caller.startswith(("keras.", "tf_keras.")) else _local_path(logdir)
        if path is None:
            return original(logdir, max_queue, flush_millis, *args, **kwargs)
        state.tail.watch(path)  # before the writer creates its file
        own_settings = max_queue is not None or flush_millis is not None
        if not own_settings:
            max_queue = 0  # flush after every write: values reach tfmon within a poll
        writer = original(logdir, max_queue, flush_millis, *args, **kwargs)
        if own_settings:
            try:
                state.configured.add(writer)
            except TypeError:
                pass
        return writer

    setattr(create_file_writer, _WRAPPED, True)
    return create_file_writer


def _local_path(logdir: Any) -> str | None:
    """The log directory as a local path, or None (a tensor inside a function, gs://, s3://)."""
    if hasattr(logdir, "numpy"):
        try:
            logdir = logdir.numpy()
        except Exception:
            return None
    if isinstance(logdir, bytes):
        logdir = logdir.decode("utf-8", "replace")
    try:
        path = os.fspath(logdir)
    except TypeError:
        return None
    if not isinstance(path, str) or "://" in path:
        return None
    return path
