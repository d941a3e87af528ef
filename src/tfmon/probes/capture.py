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
hands lines to the placement probe and emits ``log`` events for the rest, as a
terminal would show them (``termtext``: colours kept, other control sequences
dropped). A line still being written (a ``\r`` progress bar, dots printed with
``end=""``) is a ``partial`` log event, replaced by the next one. Headless, the
script's output also passes through to the real stdout and stderr
(``Passthrough``), less what tfmon itself caused (placement lines, TF INFO
lines below the user's level). A write to output.log that fails (a full disk)
stops writing it, with one notice; it never raises into the script's ``print``.
"""

from __future__ import annotations

import codecs
import collections
import ctypes
import fcntl
import getpass
import io
import os
import re
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Protocol

from tfmon import events, tflog
from tfmon.events import Emit
from tfmon.probes.lines import MAX_LINE_CHARS, LineBuffer
from tfmon.probes.outputlog import OutputLog
from tfmon.probes.termtext import LineScreen, render

class LineConsumer(Protocol):
    def classify(self, stream: str, lines: list[str]) -> list[str | None]: ...
    def flush(self) -> None: ...


def text_stream_like(fd: int, like, errors: str | None = None) -> io.TextIOWrapper:
    """A Python text stream on ``fd`` (which it owns) made as Python makes sys.stdout:
    ``like``'s encoding and errors, line buffering on a terminal."""
    return io.TextIOWrapper(
        open(fd, "wb"), encoding=getattr(like, "encoding", None) or "utf-8",
        errors=errors or getattr(like, "errors", None) or "strict", line_buffering=os.isatty(fd),
    )


class Passthrough:
    """The real stdout and stderr, for headless runs: the script's output reaches them as under python.

    tfmon's own lines (``own``) go to the same stdout, but never into the middle
    of a line the script has not finished (Keras' progress bar is open for a whole
    epoch): they wait for the script's next newline, or HOLD_MAX seconds."""

    HOLD_MAX = 5.0

    def __init__(self, stdout_fd: int, stderr_fd: int) -> None:
        self._lock = threading.Lock()
        self._files = {
            "stdout": text_stream_like(os.dup(stdout_fd), sys.stdout, errors="backslashreplace"),
            "stderr": text_stream_like(os.dup(stderr_fd), sys.stderr, errors="backslashreplace"),
        }
        self._open_line = False  # the script's stdout ends in an unfinished line
        self._held: list[str] = []
        self._held_since = 0.0
        self.lost = False

    def write(self, stream: str, text: str, flush: bool = False) -> None:
        name = "stdout" if stream == "stdout" else "stderr"
        with self._lock:
            if name == "stdout" and text:
                if self._held and "\n" in text:
                    cut = text.rfind("\n") + 1
                    text = text[:cut] + "".join(self._held) + text[cut:]
                    self._held.clear()
                    flush = True
                self._open_line = text[-1] != "\n"
            self._write(name, text, flush)

    def own(self, lines: list[str]) -> None:
        """tfmon's lines (each ending in a newline), at the next line boundary of the script's stdout."""
        with self._lock:
            if lines and not self._held:
                self._held_since = time.monotonic()
            self._held.extend(lines)
            if not self._held:
                return
            if self._open_line and time.monotonic() - self._held_since < self.HOLD_MAX:
                return
            text = ("\n" if self._open_line else "") + "".join(self._held)
            self._held.clear()
            self._open_line = False
            self._write("stdout", text, True)

    def _write(self, name: str, text: str, flush: bool) -> None:
        # Caller holds the lock.
        if self.lost:
            return
        f = self._files[name]
        try:
            f.write(text)
            if flush:
                f.flush()
        except (OSError, ValueError):
            self.lost = True  # the terminal or the pipe went away: the run goes on, recorded

    def flush(self, stream: str | None = None) -> None:
        with self._lock:
            if self.lost:
                return
            try:
                if stream is None:
                    for f in self._files.values():
                        f.flush()
                else:
                    self._files["stdout" if stream == "stdout" else "stderr"].flush()
            except (OSError, ValueError):
                self.lost = True

    def close(self) -> None:
        with self._lock:
            if self._held:  # the run is over: no newline is coming
                self._write("stdout", ("\n" if self._open_line else "") + "".join(self._held), False)
                self._held.clear()
        self.flush()
        with self._lock:
            for f in self._files.values():
                try:
                    f.close()
                except (OSError, ValueError):
                    pass


# TensorFlow 2.21 loads two libraries that each print this start-up banner:
# shown once in the log pane (output.log and the headless pass-through keep both).
_BANNER_ONCE = re.compile(
    r"^WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|\] (?:oneDNN custom operations are on|Could not find cuda drivers|This TensorFlow binary is optimized)"
)


class OutputSink:
    """Where every captured line goes: output.log, the placement probe, log events, the pass-through.

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
        passthrough: Passthrough | None = None,
    ) -> None:
        self._emit = emit
        self._file = OutputLog(output_path, raw=raw_log, on_rotate=on_rotate) if output_path else None
        self._lock = threading.RLock()
        self.failed: str | None = None  # why output.log stopped being written
        self.consumer = consumer
        # The user's TF_CPP_MIN_LOG_LEVEL decides what the log pane shows, even
        # though tfmon lowers the real one to get placement lines.
        self.tf_min_level = tf_min_level
        self.passthrough = passthrough
        self._banner_seen: set[str] = set()
        self._sealed = False
        # The script's last stderr lines: the reason for a non-zero exit without a
        # traceback (argparse's usage error, absl's FATAL flag error).
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=8)

    def seal(self) -> None:
        """No more events (run_end is the last one); lines still go to output.log and the pass-through."""
        with self._lock:
            self._sealed = True

    def lines(self, stream: str, lines: list[str]) -> None:
        """Complete raw lines from a file descriptor."""
        if not lines:
            return
        with self._lock:
            consumer = self.consumer
            kinds = consumer.classify(stream, lines) if consumer is not None else None
            self._write_log(lines, kinds)
            if kinds is not None:  # placement lines are the placement pane's, not the log's
                lines = [line for line, kind in zip(lines, kinds) if kind is None] if None in kinds else []
            shown = []
            for line in lines:
                severity = tflog.severity(line)
                if severity is not None and severity < self.tf_min_level:
                    continue
                shown.append((line, severity))
            if consumer is not None and not self._sealed:
                consumer.flush()
            if self.passthrough is not None and shown:
                self.passthrough.write(stream, "".join(line + "\n" for line, _ in shown), flush=True)
            for line, severity in shown:
                self._log_event(stream, *render(line), severity)

    def python_line(self, stream: str, text: str, styled: str | None, partial: bool | None = None) -> None:
        """A line the script wrote through sys.stdout/sys.stderr, already played by a LineScreen.

        ``partial``: None for a plain line; True while the line is unfinished; False
        for the final text of a line shown unfinished before."""
        with self._lock:
            if partial is not True:
                self._write_log([text])
                if stream == "stderr" and not self._sealed:
                    self.stderr_tail.append(text)
            self._log_event(stream, text, styled, tflog.severity(text), partial)

    def _write_log(self, lines: list[str], kinds: list[str | None] | None = None) -> None:
        # Under the lock.
        if self._file is not None:
            try:
                self._file.write(lines, kinds)
            except OSError as exc:
                self._fail(exc)

    def _log_event(self, stream: str, text: str, styled: str | None, severity: int | None, partial: bool | None = None) -> None:
        if self._sealed:
            return
        if _BANNER_ONCE.search(text):
            key = text.partition("] ")[2] or text
            if key in self._banner_seen:
                return
            self._banner_seen.add(key)
        fields: dict[str, Any] = {"stream": stream, "text": text}
        if severity is not None:
            fields.update(stream="tf", level=tflog.LEVEL_NAMES[severity])
        if styled is not None:
            fields["ansi"] = styled
        if partial is not None:
            fields["partial"] = partial
        self._emit(events.LOG, **fields)

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


#: Written to a captured fd by ``FdCapture.sync``; the reader that meets it knows
#: everything written before has been handled.
_SYNC = "\x00tfmon-sync\x00"


def _take_sync_marks(lines: list[str]) -> tuple[list[str], bool]:
    """The lines without ``sync``'s marks, and whether there was one. A line the
    script left unfinished before the mark is ended by it."""
    if not any(line.endswith(_SYNC) for line in lines):
        return lines, False
    kept = []
    for line in lines:
        if line.endswith(_SYNC):
            line = line[: -len(_SYNC)]
            if not line:
                continue
        kept.append(line)
    return kept, True


class FdCapture:
    """Points fds 1 and 2 at pipes drained by reader threads; ``stop`` puts them back."""

    def __init__(self, sink: OutputSink, fds: tuple[int, ...] = (1, 2)) -> None:
        self._sink = sink
        self._fds = fds
        self._saved: dict[int, int] = {}
        self._readers: list[threading.Thread] = []
        self.read_fds: list[int] = []  # the pipes' read ends (for tfmon.supervisor)
        self._synced: dict[int, threading.Event] = {}

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
            self._synced[fd] = threading.Event()
            t = threading.Thread(
                target=self._read, args=(read_end, stream, self._synced[fd]), name=f"tfmon-fd{fd}", daemon=True
            )
            t.start()
            self._readers.append(t)

    def saved_fd(self, fd: int) -> int:
        """The original fd (the terminal or the user's redirect) behind fd 1 or 2."""
        return self._saved[fd]

    def sync(self, timeout: float = 2.0) -> bool:
        """Return once everything written to the fds so far has reached the sink
        (C stdio's buffers included); False if a reader did not catch up in time."""
        _flush_c_stdio()
        for fd, done in self._synced.items():
            done.clear()
            try:
                os.write(fd, _SYNC.encode() + b"\n")
            except OSError:
                return False
        return all(done.wait(timeout) for done in self._synced.values())

    def _read(self, fd: int, stream: str, synced: threading.Event) -> None:
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
                lines, sync = _take_sync_marks(buf.feed(data))
                try:
                    self._sink.lines(stream, lines)
                except Exception:  # a bad line must never stop the draining
                    pass
                if sync:
                    synced.set()
                if len(data) < READ_SIZE:
                    # TF writes each eager "Executing op" line on its own: without a
                    # nap this thread wakes (and takes the GIL from the training
                    # thread) for every line. Lines pile up in the pipe meanwhile
                    # (1 MiB where Linux allows it); a full read loops at once.
                    time.sleep(READ_NAP)
            self._sink.lines(stream, buf.flush())
        finally:
            os.close(fd)

    def stop(self, timeout: float = 2.0, park: Path | None = None) -> dict[int, int]:
        """Give fds 1 and 2 back and let the readers finish.

        ``park``: instead of the terminal, point fds 1 and 2 at this file (output.log)
        for good, so what TensorFlow writes while the interpreter shuts down never
        lands raw on the user's terminal; the terminal fds are then returned, open,
        for the caller's own Python-level streams. Otherwise ``{}``."""
        _flush_c_stdio()
        kept: dict[int, int] = {}
        park_fd = os.open(park, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600) if park is not None else None
        for fd, saved in self._saved.items():
            if park_fd is not None:
                os.dup2(park_fd, fd)  # also closes the pipe's write end: the reader sees EOF
                kept[fd] = saved
            else:
                os.dup2(saved, fd)
                os.close(saved)
        if park_fd is not None:
            os.close(park_fd)
        self._saved.clear()
        # A child process the script started may still hold the pipe open.
        for t in self._readers:
            t.join(timeout)
        self._readers.clear()
        return kept


class _BinaryWriter(io.RawIOBase):
    """``sys.stdout.buffer`` under tfmon: bytes written here reach the same place as print."""

    def __init__(self, text: "StreamToSink") -> None:
        super().__init__()
        self._text = text
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._text.fileno()

    def write(self, data) -> int:
        self._text.write(self._decoder.decode(bytes(data)))
        return len(data)

    def flush(self) -> None:
        self._text.flush()


#: At most this often (seconds) an unfinished line is shown again: 320k flushed
#: dots must not make 320k events.
PARTIAL_INTERVAL = 0.2
#: An unfinished line shown in the log is cut to its last characters.
PARTIAL_MAX_CHARS = 2000


class StreamToSink(io.TextIOBase):
    """sys.stdout / sys.stderr under tfmon: lines played as a terminal would (``LineScreen``),
    handed to the sink marked with the stream's name, and, headless, passed through raw."""

    def __init__(self, sink: OutputSink, stream: str, fileno: int, passthrough: Passthrough | None = None) -> None:
        super().__init__()
        self._sink = sink
        self._stream = stream
        self._fileno = fileno
        self._passthrough = passthrough
        self._screen = LineScreen()
        # Text of the current line not yet played on the screen: a flushed dot costs
        # an append; the screen plays it only when the line is shown or ends.
        self._pending: list[str] = []
        self._pending_chars = 0
        self._shown_partial = False  # the current line has been shown unfinished
        self._partial_at = 0.0
        self._timer: threading.Timer | None = None
        self._lock = threading.RLock()
        self.buffer = io.BufferedWriter(_BinaryWriter(self))

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    @property
    def errors(self) -> str:  # type: ignore[override]
        return "strict"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._fileno

    def reconfigure(self, **kwargs) -> None:
        """``sys.stdout.reconfigure(line_buffering=True)`` and the like: nothing to change here."""

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if not text:
            return 0  # print(..., end="") writes "" once per call
        with self._lock:
            if self._passthrough is not None:
                self._passthrough.write(self._stream, text)
            if "\n" not in text:  # a dot, a progress redraw: the hot path
                self._pending.append(text)
                self._pending_chars += len(text)
                if self._pending_chars > MAX_LINE_CHARS:
                    self._end_line()
                return len(text)
            *complete, rest = text.split("\n")
            for piece in complete:
                self._pending.append(piece)
                self._end_line()
            if rest:
                self._pending.append(rest)
                self._pending_chars = len(rest)
        return len(text)

    def _play(self) -> LineScreen:
        """The screen with everything written so far played on it."""
        if self._pending:
            self._screen.feed("".join(self._pending))
            self._pending.clear()
        return self._screen

    def _end_line(self) -> None:
        screen = self._play()
        partial = False if self._shown_partial else None
        self._screen, self._shown_partial, self._pending_chars = LineScreen(), False, 0
        self._sink.python_line(self._stream, screen.plain(), screen.styled(), partial)

    def flush(self) -> None:
        """Show the unfinished line (a prompt, a progress bar), at most every PARTIAL_INTERVAL."""
        with self._lock:
            if self._passthrough is not None:
                self._passthrough.flush(self._stream)
            if not self._pending and not self._screen.chars:
                return
            wait = self._partial_at + PARTIAL_INTERVAL - time.monotonic()
            if wait <= 0:
                self._show_partial()
            elif self._timer is None:
                # The last redraw before a quiet spell must show too.
                self._timer = threading.Timer(wait, self._late_partial)
                self._timer.daemon = True
                self._timer.start()

    def _late_partial(self) -> None:
        with self._lock:
            self._timer = None
            if self._pending or self._screen.chars:
                self._show_partial()

    def _show_partial(self) -> None:
        self._partial_at = time.monotonic()
        self._shown_partial = True
        screen = self._play()
        text = screen.plain().rstrip()
        styled = screen.styled()
        if len(text) > PARTIAL_MAX_CHARS:
            text, styled = "…" + text[-PARTIAL_MAX_CHARS:], None
        self._sink.python_line(self._stream, text, styled, True)

    def close_line(self) -> None:
        """At the end of the run: an unfinished last line is a line (as in output.log)."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self._pending or self._screen.chars:
                self._end_line()
            if self._passthrough is not None:
                self._passthrough.flush(self._stream)


class _NoTerminalInput(io.TextIOBase):
    """sys.stdin under the full UI: the app reads the keyboard, so input() cannot.

    Reading raises EOFError with the reason at once, instead of two readers
    fighting over the terminal (a hang). Headless runs keep the real stdin."""

    MESSAGE = (
        "tfmon: input() has no terminal under tfmon's full UI (the app reads the keys). "
        "Run with --headless to answer on the terminal or from a pipe (echo yes | tfmon --headless script.py)."
    )

    def __init__(self, note) -> None:
        super().__init__()
        self._note = note

    def readable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return 0

    GETPASS_MESSAGE = (
        "tfmon: getpass() has no terminal under tfmon's full UI (the app reads the keys; "
        "getpass would turn the terminal's echo off under it). Run with --headless to type it "
        "on the terminal, or pass it in the environment."
    )

    def _refuse(self, *args, **kwargs):
        self._note(self.MESSAGE)
        raise EOFError(self.MESSAGE)

    read = readline = readlines = _refuse

    def getpass(self, prompt: str = "Password: ", stream=None) -> str:
        """getpass.getpass under the UI: it opens /dev/tty itself, past sys.stdin."""
        self._note(self.GETPASS_MESSAGE)
        raise EOFError(self.GETPASS_MESSAGE)

    def __iter__(self):
        self._refuse()


class PythonCapture:
    """Replaces sys.stdout, sys.stderr, warnings.showwarning (and sys.stdin and getpass.getpass
    under the UI); ``restore`` undoes it."""

    def __init__(self, sink: OutputSink, emit: Emit, passthrough: Passthrough | None = None, stdin_note=None) -> None:
        self._sink = sink
        self._emit = emit
        self._passthrough = passthrough
        self._stdin_note = stdin_note
        self._saved: tuple[Any, Any, Any, Any, Any] | None = None

    def start(self) -> None:
        self._saved = (sys.stdout, sys.stderr, warnings.showwarning, sys.stdin, getpass.getpass)
        sys.stdout = StreamToSink(self._sink, "stdout", 1, self._passthrough)
        sys.stderr = StreamToSink(self._sink, "stderr", 2, self._passthrough)
        warnings.showwarning = self._showwarning
        if self._stdin_note is not None:
            sys.stdin = _NoTerminalInput(self._stdin_note)
            getpass.getpass = sys.stdin.getpass

    def _showwarning(self, message, category, filename, lineno, file=None, line=None) -> None:
        text = warnings.formatwarning(message, category, filename, lineno, line)
        if self._passthrough is not None:
            self._passthrough.write("stderr", text, flush=True)
        # One entry, however many lines: the warning and its source line belong together.
        self._sink.python_line("warning", *render_block(text.rstrip("\n")))

    def restore(self) -> None:
        if self._saved is None:
            return
        for stream in (sys.stdout, sys.stderr):
            if isinstance(stream, StreamToSink):
                stream.buffer.flush()
                stream.close_line()
        sys.stdout, sys.stderr, warnings.showwarning, sys.stdin, getpass.getpass = self._saved
        self._saved = None


def render_block(text: str) -> tuple[str, str | None]:
    """``render`` for text of several lines: each line played on its own."""
    rendered = [render(line) for line in text.split("\n")]
    plain = "\n".join(p for p, _ in rendered)
    if all(styled is None for _, styled in rendered):
        return plain, None
    return plain, "\n".join(styled if styled is not None else p for p, styled in rendered)
