"""A Textual driver that draws to a duplicate of the real terminal.

tfmon points fds 1 and 2 at pipes (to capture TensorFlow's C++ output), so
the terminal Textual would find there is gone. This driver writes to, and
takes its size from, a file descriptor that was duplicated before the pipes
went in. It relies on LinuxDriver's ``_file`` attribute and
``_get_terminal_size`` method: Textual's major version is pinned, and
``tests/ui/test_driver.py`` covers both.
"""

from __future__ import annotations

import os
from typing import IO

from textual.drivers.linux_driver import LinuxDriver


def driver_for_terminal(tty: IO[str]) -> type[LinuxDriver]:
    class TerminalDriver(LinuxDriver):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self._file = tty

        def _get_terminal_size(self) -> tuple[int, int]:
            try:
                size = os.get_terminal_size(tty.fileno())
            except OSError:
                return super()._get_terminal_size()
            return size.columns or 80, size.lines or 24

    return TerminalDriver
