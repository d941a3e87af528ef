"""A child process on a real pseudo-terminal, its output drained so it never blocks.

The terminal is what a user runs training in: Keras' progress bar draws
itself only on a terminal, and tfmon shows its full UI only there. The parent
reads the master side in a thread until the child closes it, answers cursor
position queries, can look for text on the screen (pyte) until it shows, and
reaps the child with ``os.wait4`` for its own resource usage (peak RSS, CPU).
"""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import termios
import threading
import time


class PtyProcess:
    def __init__(self, argv: list[str], env: dict, cwd: str | None = None, cols: int = 120, rows: int = 40,
                 watch_for: str | None = None) -> None:
        self.cols, self.rows = cols, rows
        self.bytes_read = 0
        self.first_output_at: float | None = None
        #: time the ``watch_for`` text was first seen on the screen
        self.seen_at: float | None = None
        self._watch = watch_for
        self._screen = self._stream = None
        if watch_for:
            import pyte

            self._screen = pyte.Screen(cols, rows)
            self._stream = pyte.ByteStream(self._screen)
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.started_at = time.time()
        self.pid = os.fork()
        if self.pid == 0:  # child: the slave becomes its controlling terminal
            try:
                os.setsid()
                fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
                for fd in (0, 1, 2):
                    os.dup2(slave, fd)
                os.close(master)
                os.close(slave)
                if cwd:
                    os.chdir(cwd)
                os.execvpe(argv[0], argv, env)
            finally:
                os._exit(127)
        os.close(slave)
        self.master = master
        self.exit_code: int | None = None
        self.rusage = None
        self.ended_at: float | None = None
        self._reader = threading.Thread(target=self._drain, name="bench-pty-drain", daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            if self.first_output_at is None:
                self.first_output_at = time.time()
            self.bytes_read += len(data)
            if b"\x1b[6n" in data:  # a cursor position query: answer so the app never waits
                os.write(self.master, b"\x1b[1;1R")
            if self._stream is not None and self.seen_at is None:
                self._stream.feed(data)
                if any(self._watch in line for line in self._screen.display):
                    self.seen_at = time.time()
                    self._stream = self._screen = None  # stop paying for the emulator

    def send(self, keys: str) -> None:
        try:
            os.write(self.master, keys.encode())
        except OSError:
            pass

    def poll(self) -> int | None:
        if self.exit_code is None:
            pid, status, usage = os.wait4(self.pid, os.WNOHANG)
            if pid:
                self._reaped(status, usage)
        return self.exit_code

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                self.kill()
                raise TimeoutError(f"pid {self.pid} still running after {timeout}s")
            time.sleep(0.02)
        self._reader.join(2)
        return self.exit_code

    def _reaped(self, status: int, usage) -> None:
        self.ended_at = time.time()
        self.exit_code = os.waitstatus_to_exitcode(status)
        self.rusage = usage

    def kill(self) -> None:
        if self.exit_code is None:
            os.kill(self.pid, 9)
            _, status, usage = os.wait4(self.pid, 0)
            self._reaped(status, usage)

    def close(self) -> None:
        self.kill()
        try:
            os.close(self.master)
        except OSError:
            pass
