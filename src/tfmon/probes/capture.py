"""Capture of everything the script and TensorFlow write, so the screen never tears.

Two levels:
- file descriptors 1 and 2 are pointed at pipes (``FdCapture``): TensorFlow's
  C++ logging and placement lines, and any C-level write, land there and are
  drained by reader threads that never stop reading (a full pipe would block
  TensorFlow);
- ``sys.stdout``/``sys.stderr`` and ``warnings.showwarning`` are replaced
  (``PythonCapture``), so Python output is marked by stream without going
  through the pipes.

Both deliver complete lines to one ``OutputSink``, which writes ``output.log``,
hands lines to the placement probe and emits ``log`` events for the rest. A
write to output.log that fails (a full disk) stops writing it, with one notice;
it never raises into the script's ``print``.
"""

from __future__ import annotations

import ctypes
import fcntl
import io
import os
import re
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Protocol

from tfmon import events
from tfmon.events import Emit
from tfmon.probes.lines import LineBuffer
from tfmon.probes.outputlog import OutputLog

# TensorFlow's C++ log prefixes: absl (``I0000 00:00:1795634829.692307    8459 file.cc:162] ``)
# and the older glog form (``2023-06-25 14:50:07.735873: I path/file.cc:114] ``).
_TF_PREFIX = re.compile(
    r"^(?:(?P<absl>[IWEF])\d{4} [\d:.]+\s+\d+ [\w./-]+:\d+\]"
    r"|\d{4}-\d\d-\d\d [\d:.]+: (?P<glog>[IWEF]) [\w./-]+:\d+\])"
)
_SEVERITY = {"I": 0, "W": 1, "E": 2, "F": 3}
_LEVEL_NAME = {0: "info", 1: "warning", 2: "error", 3: "fatal"}


def tf_severity(line: str) -> int | None:
    """0-3 for a TensorFlow C++ log line (INFO..FATAL), None for anything else."""
    m = _TF_PREFIX.match(line)
    if m is None:
        return None
    return _SEVERITY[m.group("absl") or m.group("glog")]


class LineConsumer(Protocol):
    def classify(self, stream: str, lines: list[str]) -> list[str | None]: ...
    def flush(self) -> None: ...


class OutputSink:
    """Where every captured line goes: output.log, the placement probe, log events.

    output.log (``OutputLog``) stores a repeated placement line only as a count,
    unless ``raw_log``.
    """

    def __init__(
        self,
        emit: Emit,
        output_path: Path | None,
        consumer: LineConsumer | None = None,
        tf_min_level: int = 0,
        raw_log: bool = False,
        on_rotate=None,
    ) -> None:
        self._emit = emit
        self._file = OutputLog(output_path, raw=raw_log, on_rotate=on_rotate) if output_path else None
        self._lock = threading.Lock()
        self.failed: str | None = None  # why output.log stopped being written
        self.consumer = consumer
        # The user's TF_CPP_MIN_LOG_LEVEL decides what the log pane shows, even
        # though tfmon lowers the real one to get placement lines.
        self.tf_min_level = tf_min_level

    def lines(self, stream: str, lines: list[str]) -> None:
        if not lines:
            return
        consumer = self.consumer
        kinds = consumer.classify(stream, lines) if consumer is not None else None
        if self._file is not None:
            with self._lock:
                try:
                    if self._file is not None:
                        self._file.write(lines, kinds)
                except OSError as exc:
                    self._fail(exc)
        if kinds is not None:  # placement lines are not for the log pane
            lines = [line for line, kind in zip(lines, kinds) if kind is None] if None in kinds else []
        for line in lines:
            severity = tf_severity(line)
            if severity is None:
                self._emit(events.LOG, stream=stream, text=line)
            elif severity >= self.tf_min_level:
                self._emit(events.LOG, stream="tf", level=_LEVEL_NAME[severity], text=line)
        if consumer is not None:
            consumer.flush()

    def _fail(self, exc: OSError) -> None:
        # Under the lock. The lines still reach the log pane; only the file stops.
        output, self._file = self._file, None
        output.abandon()
        self.failed = f"{output.path}: {exc.strerror or exc}"
        text = f"output.log stopped ({self.failed}); the script's output still shows in the Log pane"
        self._emit(events.NOTICE, severity="error", text=text)
        self._emit(events.LOG, stream="tfmon", text=f"tfmon: {text}")

    def close(self) -> None:
        with self._lock:
            output, self._file = self._file, None
            if output is not None:
                try:
                    output.close()
                except OSError as exc:  # the last summary line on a full disk
                    output.abandon()
                    self.failed = self.failed or f"{output.path}: {exc.strerror or exc}"


READ_SIZE = 65536
READ_NAP = 0.02  # seconds; measured: tiny-MLP headless overhead 1.30x -> 1.07x
_F_SETPIPE_SZ = 1031  # Linux fcntl


def _grow_pipe(fd: int) -> None:
    """A bigger pipe, so a burst of placement lines never waits on the reader's nap."""
    try:
        fcntl.fcntl(fd, _F_SETPIPE_SZ, 1 << 20)
    except (OSError, AttributeError):
        pass  # not Linux, or over the user's limit: the default 64 KiB still works


def _flush_c_stdio() -> None:
    """TensorFlow's bare placement lines sit in C stdio's buffer (a pipe is block-buffered)."""
    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):
        pass


class FdCapture:
    """Points fds 1 and 2 at pipes drained by reader threads; ``stop`` puts them back."""

    def __init__(self, sink: OutputSink, fds: tuple[int, ...] = (1, 2)) -> None:
        self._sink = sink
        self._fds = fds
        self._saved: dict[int, int] = {}
        self._readers: list[threading.Thread] = []
        self.read_fds: list[int] = []  # the pipes' read ends (for tfmon.supervisor)

    def start(self) -> None:
        for fd in self._fds:
            sys.stdout.flush() if fd == 1 else sys.stderr.flush()
            self._saved[fd] = os.dup(fd)
            read_end, write_end = os.pipe()
            _grow_pipe(write_end)
            os.dup2(write_end, fd)
            os.close(write_end)
            self.read_fds.append(read_end)
            stream = "stdout" if fd == 1 else "stderr"
            t = threading.Thread(
                target=self._read, args=(read_end, stream), name=f"tfmon-fd{fd}", daemon=True
            )
            t.start()
            self._readers.append(t)

    def saved_fd(self, fd: int) -> int:
        """The original fd (the terminal or the user's redirect) behind fd 1 or 2."""
        return self._saved[fd]

    def _read(self, fd: int, stream: str) -> None:
        buf = LineBuffer()
        try:
            while True:
                try:
                    data = os.read(fd, READ_SIZE)
                except InterruptedError:
                    continue
                except OSError:
                    break
                if not data:
                    break
                try:
                    self._sink.lines(stream, buf.feed(data))
                except Exception:  # a bad line must never stop the draining
                    pass
                if len(data) < READ_SIZE:
                    # TF writes each eager "Executing op" line on its own: without a
                    # nap this thread wakes (and takes the GIL from the training
                    # thread) for every line. Lines pile up in the pipe meanwhile
                    # (1 MiB where Linux allows it); a full read loops at once.
                    time.sleep(READ_NAP)
            self._sink.lines(stream, buf.flush())
        finally:
            os.close(fd)

    def stop(self, timeout: float = 2.0) -> None:
        _flush_c_stdio()
        for fd, saved in self._saved.items():
            os.dup2(saved, fd)  # closes the pipe's write end: the reader sees EOF
            os.close(saved)
        self._saved.clear()
        # A child process the script started may still hold the pipe open.
        for t in self._readers:
            t.join(timeout)
        self._readers.clear()


class StreamToSink(io.TextIOBase):
    """A text stream that hands complete lines to the sink, marked with its stream name."""

    def __init__(self, sink: OutputSink, stream: str, fileno: int) -> None:
        super().__init__()
        self._sink = sink
        self._stream = stream
        self._fileno = fileno
        self._partial = ""
        self._lock = threading.Lock()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._fileno

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        with self._lock:
            data = self._partial + text
            if "\n" not in data:
                self._partial = data
                return len(text)
            *complete, self._partial = data.split("\n")
        # A '\r' rewrites the line on a terminal: keep what would be left on screen.
        self._sink.lines(self._stream, [line.rsplit("\r", 1)[-1] for line in complete])
        return len(text)

    def flush(self) -> None:
        with self._lock:
            rest, self._partial = self._partial, ""
        if rest:
            self._sink.lines(self._stream, [rest.rsplit("\r", 1)[-1]])


class PythonCapture:
    """Replaces sys.stdout, sys.stderr and warnings.showwarning; ``restore`` undoes it."""

    def __init__(self, sink: OutputSink, emit: Emit) -> None:
        self._sink = sink
        self._emit = emit
        self._saved: tuple[Any, Any, Any] | None = None

    def start(self) -> None:
        self._saved = (sys.stdout, sys.stderr, warnings.showwarning)
        sys.stdout = StreamToSink(self._sink, "stdout", 1)
        sys.stderr = StreamToSink(self._sink, "stderr", 2)
        warnings.showwarning = self._showwarning

    def _showwarning(self, message, category, filename, lineno, file=None, line=None) -> None:
        text = warnings.formatwarning(message, category, filename, lineno, line).rstrip("\n")
        self._sink.lines("warning", text.split("\n"))

    def restore(self) -> None:
        if self._saved is None:
            return
        for stream in (sys.stdout, sys.stderr):
            if isinstance(stream, StreamToSink):
                stream.flush()
        sys.stdout, sys.stderr, warnings.showwarning = self._saved
        self._saved = None
