"""Run a command under a real pseudo-terminal and read its screen with pyte."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import termios
import time

import pyte


class PtyProcess:
    def __init__(self, argv: list[str], env: dict, cwd=None, cols: int = 120, rows: int = 40) -> None:
        self.cols, self.rows = cols, rows
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = bytearray()
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.attrs_before = termios.tcgetattr(slave)
        self.pid = os.fork()
        if self.pid == 0:  # child: the slave becomes its controlling terminal
            os.setsid()
            fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
            for fd in (0, 1, 2):
                os.dup2(slave, fd)
            os.close(master)
            if cwd:
                os.chdir(cwd)
            os.execvpe(argv[0], argv, env)
        self.master, self.slave = master, slave
        self.exit_code: int | None = None

    def read(self, timeout: float = 0.1) -> None:
        if self.master < 0:  # hung up: nothing to read, only time to let pass
            time.sleep(timeout)
            return
        ready, _, _ = select.select([self.master], [], [], timeout)
        if ready:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            self.raw += data
            self.stream.feed(data)
            # answer a cursor position request so the app never waits on it
            if b"\x1b[6n" in data:
                os.write(self.master, b"\x1b[1;1R")

    def text(self) -> str:
        return "\n".join(self.screen.display)

    def wait_for(self, needle: str, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.text():
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} not on screen:\n{self.text()}")
            self.read()
            self.poll()

    def wait_for_match(self, pattern: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.text()):
            if time.monotonic() > deadline:
                raise AssertionError(f"/{pattern}/ not on screen:\n{self.text()}")
            self.read()

    def send(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def hang_up(self) -> None:
        """What sshd does when the link drops: close the master side (and our slave fd)."""
        os.close(self.master)
        os.close(self.slave)
        self.master = self.slave = -1  # closed: close() only ends the process if it still runs

    def poll(self) -> int | None:
        if self.exit_code is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.exit_code = os.waitstatus_to_exitcode(status)
        return self.exit_code

    def wait_exit(self, timeout: float = 60.0) -> int:
        deadline = time.monotonic() + timeout
        while self.poll() is None:
            if time.monotonic() > deadline:
                raise AssertionError("process did not exit:\n" + self.text())
            self.read()
        for _ in range(5):
            self.read(0.05)
        return self.exit_code

    def close(self) -> None:
        if self.poll() is None:
            os.kill(self.pid, 9)
            os.waitpid(self.pid, 0)
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


def tfmon_under_pty(args: list[str], env: dict, cwd, cols: int = 120, rows: int = 40) -> PtyProcess:
    """``tfmon ARGS...`` (this Python, the full UI) under a new pseudo-terminal."""
    import sys

    return PtyProcess([sys.executable, "-m", "tfmon", *args], env=env, cwd=cwd, cols=cols, rows=rows)
