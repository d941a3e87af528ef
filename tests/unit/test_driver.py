"""The terminal driver: drawing to a duplicate of the terminal, and losing it without dying.

Real pseudo-terminals and pipes; the Textual internals the driver relies on
(``_file``, ``_get_terminal_size``, ``_loop``, ``exit_event``, the SIGCONT
handler) are exercised here so a Textual upgrade that moves them fails a test.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import pty
import signal
import struct
import termios

import pytest

from tfmon.ui.driver import TerminalDriver, TerminalOutput, driver_for_terminal


def _pty(cols: int = 100, rows: int = 30) -> tuple[int, int]:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    return master, slave


def test_output_reaches_the_terminal_on_flush():
    master, slave = _pty()
    out = TerminalOutput(os.dup(slave))
    try:
        out.write("\x1b[1mhello")
        out.write(" tfmon")
        out.flush()
        assert b"hello tfmon" in os.read(master, 100)
        assert out.lost is None and out.isatty()
    finally:
        out.close()
        os.close(master)
        os.close(slave)


def test_a_hung_up_terminal_calls_on_lost_once_and_drops_the_rest():
    master, slave = _pty()
    lost: list[str] = []
    out = TerminalOutput(os.dup(slave), on_lost=lost.append)
    os.close(master)  # the SSH link drops: the kernel hangs the terminal up
    try:
        out.write("frame 1")
        out.flush()  # EIO: no exception
        out.write("frame 2")
        out.flush()
        out.write_line("tfmon: bye")
        assert lost == ["terminal write failed: EIO"]
        assert out.lost == "terminal write failed: EIO" and not out.isatty()
    finally:
        out.close()
        os.close(slave)


def test_a_closed_pipe_is_a_lost_terminal_too():
    read_end, write_end = os.pipe()
    os.close(read_end)
    lost: list[str] = []
    out = TerminalOutput(write_end, on_lost=lost.append)
    out.write("x")
    out.flush()
    out.close()
    assert lost == ["terminal write failed: EPIPE"]


def test_a_full_disk_is_an_error_not_a_hang_up(monkeypatch):
    out = TerminalOutput(os.open(os.devnull, os.O_WRONLY))

    def enospc(fd, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", enospc)
    out.write("x")
    with pytest.raises(OSError):
        out.flush()
    monkeypatch.undo()
    assert out.lost is None
    out.close()


@pytest.fixture(autouse=True)
def _keep_signal_handlers():
    # LinuxDriver installs SIGTSTP/SIGCONT handlers when it is built.
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTSTP, signal.SIGCONT)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


class _App:
    def __init__(self) -> None:
        self.exits = 0

    def exit(self) -> None:
        self.exits += 1


def test_driver_draws_to_the_terminal_and_takes_its_size_from_it():
    master, slave = _pty(cols=100, rows=30)
    out = TerminalOutput(os.dup(slave))

    async def build() -> TerminalDriver:
        return driver_for_terminal(out)(_App())

    try:
        driver = asyncio.run(build())
        assert driver._file is out
        assert driver._get_terminal_size() == (100, 30)
        assert type(driver).instance is driver
    finally:
        out.close()
        os.close(master)
        os.close(slave)


def test_hang_up_silences_stops_input_and_asks_the_app_to_exit_once():
    master, slave = _pty()
    out = TerminalOutput(os.dup(slave))
    app = _App()

    async def scenario() -> TerminalDriver:
        driver = driver_for_terminal(out)(app)
        driver.hang_up()
        driver.hang_up()
        await asyncio.sleep(0.01)  # the exit was scheduled on the app's loop
        return driver

    try:
        driver = asyncio.run(scenario())
        assert driver.hung_up and driver.exit_event.is_set()
        assert app.exits == 1
        out.write("after")
        out.flush()
        assert out.lost == "terminal hung up"
    finally:
        out.close()
        os.close(master)
        os.close(slave)


def test_sigcont_restarts_the_app_only_after_our_own_suspend():
    master, slave = _pty()
    out = TerminalOutput(os.dup(slave))
    started: list[int] = []

    async def build() -> TerminalDriver:
        return driver_for_terminal(out)(_App())

    try:
        driver = asyncio.run(build())
        driver.start_application_mode = lambda: started.append(1)
        driver.stop_application_mode = lambda: None
        driver._sigcont_application()  # the kernel's SIGCONT that comes with SIGHUP
        assert started == []
        driver._suspended = True  # as after Ctrl+Z
        driver._sigcont_application()
        assert started == [1]
        driver._suspended = True
        driver.hung_up = True
        driver._sigcont_application()
        assert started == [1]
    finally:
        out.close()
        os.close(master)
        os.close(slave)


def test_on_lost_of_the_driver_class_is_wired_to_the_output():
    master, slave = _pty()
    calls: list[str] = []
    out = TerminalOutput(os.dup(slave))
    driver_for_terminal(out, on_lost=calls.append)
    os.close(master)
    out.write("x")
    out.flush()
    out.close()
    os.close(slave)
    assert calls == ["terminal write failed: EIO"]
