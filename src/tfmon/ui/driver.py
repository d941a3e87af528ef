"""A Textual driver that draws to a duplicate of the real terminal, and survives losing it.

tfmon points fds 1 and 2 at pipes (to capture TensorFlow's C++ output), so
the terminal Textual would find there is gone. This driver writes to, and
takes its size from, a file descriptor that was duplicated before the pipes
went in. It relies on LinuxDriver's ``_file`` attribute, its
``_get_terminal_size``, ``run_input_thread``, ``exit_event``, ``_loop`` and
SIGCONT handler: Textual's major version is pinned, and
``tests/unit/test_driver.py`` covers them.

When the terminal goes away (the SSH link drops), writes to it fail with EIO
and reads return nothing at once, forever. Left alone, Textual's writer thread
dies on the first EIO, its queue fills and the UI thread blocks; its input
thread spins on the dead tty. ``TerminalOutput`` turns the failed write into
one call of ``on_lost`` and swallows every later write; ``TerminalDriver.hang_up``
stops the input thread and asks the app to exit, so the caller can go on
headless.
"""

from __future__ import annotations

import errno
import os
import threading
from typing import IO, Callable

from textual.drivers.linux_driver import LinuxDriver

#: What a write to, or a read from, a terminal that went away fails with.
LOST_ERRNOS = (errno.EIO, errno.EPIPE, errno.ENXIO, errno.EBADF)


class TerminalOutput:
    """The file Textual's writer thread writes to: the real terminal, until it goes away.

    Buffers what Textual writes and sends it with ``os.write`` on ``flush`` (the
    writer thread flushes whenever its queue runs dry). The first write that
    fails with a hung-up error calls ``on_lost`` once; from then on, and after
    ``silence()``, everything is dropped.
    """

    def __init__(self, fd: int, on_lost: Callable[[str], None] | None = None) -> None:
        self._fd = fd
        self.on_lost = on_lost
        self._buffer: list[str] = []
        self._lock = threading.Lock()
        self.lost: str | None = None  # why the terminal was given up, once it was
        self.closed = False

    def fileno(self) -> int:
        return self._fd

    def isatty(self) -> bool:
        return self.lost is None and os.isatty(self._fd)

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if self.lost is None:
            self._buffer.append(text)
        return len(text)

    def flush(self) -> None:
        with self._lock:
            if self.lost is not None or not self._buffer:
                self._buffer.clear()
                return
            data = "".join(self._buffer).encode("utf-8", "replace")
            self._buffer.clear()
            try:
                while data:
                    data = data[os.write(self._fd, data) :]
            except InterruptedError:  # pragma: no cover (PEP 475 retries)
                pass
            except OSError as exc:
                if exc.errno not in LOST_ERRNOS:
                    raise
                self.lost = f"terminal write failed: {errno.errorcode.get(exc.errno, exc.errno)}"
        if self.lost is not None and self.on_lost is not None:
            self.on_lost(self.lost)

    def write_line(self, text: str) -> None:
        """A line for the user after the app has left the screen (dropped once lost)."""
        self.write(text + "\n")
        self.flush()

    def silence(self, reason: str = "terminal hung up") -> None:
        """Drop everything from now on (after SIGHUP the terminal is gone even if writes still work)."""
        if self.lost is None:
            self.lost = reason
        self._buffer.clear()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.flush()
        except OSError:
            pass
        try:
            os.close(self._fd)
        except OSError:
            pass


class TerminalDriver(LinuxDriver):
    """LinuxDriver on a given terminal; ``driver_for_terminal`` makes one per app."""

    terminal: IO[str] | TerminalOutput
    on_lost: Callable[[str], None] | None = None
    #: The driver the app built (an app builds one): what ``hang_up`` is called on.
    instance: TerminalDriver | None = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._file = self.terminal
        self.hung_up = False
        self._suspended = False
        type(self).instance = self

    def _get_terminal_size(self) -> tuple[int, int]:
        try:
            size = os.get_terminal_size(self.terminal.fileno())
        except OSError:
            return super()._get_terminal_size()
        return size.columns or 80, size.lines or 24

    def run_input_thread(self) -> None:
        try:
            super().run_input_thread()
        except OSError as exc:
            # A read from a hung-up terminal: not a crash of the app.
            if exc.errno not in LOST_ERRNOS and not self.hung_up:
                raise
            self._lost(f"terminal read failed: {errno.errorcode.get(exc.errno, exc.errno)}")

    def _sigtstp_application(self, *args) -> None:
        self._suspended = True
        super()._sigtstp_application(*args)

    def _sigcont_application(self, *args) -> None:
        # The kernel sends SIGCONT with SIGHUP to a session leader whose terminal
        # hung up: Textual would start application mode again on the dead tty.
        # Resume only after our own suspend (Ctrl+Z).
        if self.hung_up or not self._suspended:
            return
        self._suspended = False
        super()._sigcont_application(*args)

    def _lost(self, reason: str) -> None:
        if self.on_lost is not None:
            self.on_lost(reason)
        else:
            self.hang_up()

    def hang_up(self) -> None:
        """Stop drawing and reading, and ask the app to exit. Any thread, or a signal handler."""
        if self.hung_up:
            return
        self.hung_up = True
        silence = getattr(self.terminal, "silence", None)
        if silence is not None:
            silence()
        # The input thread checks this every 0.1 s; on a hung-up tty it would
        # otherwise spin (select says readable, read returns nothing).
        self.exit_event.set()
        loop = self._loop  # Driver's: the app's running loop, taken when the app built us
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._app.exit)


def driver_for_terminal(
    tty: IO[str] | TerminalOutput, on_lost: Callable[[str], None] | None = None
) -> type[TerminalDriver]:
    """A driver class drawing to ``tty``; ``on_lost(reason)`` is called once if the terminal goes away."""
    if isinstance(tty, TerminalOutput) and on_lost is not None and tty.on_lost is None:
        tty.on_lost = on_lost
    return type("TerminalDriver", (TerminalDriver,), {"terminal": tty, "on_lost": staticmethod(on_lost) if on_lost else None})
