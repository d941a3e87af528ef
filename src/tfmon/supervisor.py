"""The ``tfmon`` command's supervising parent: whatever kills the run, the terminal comes back.

``tfmon SCRIPT`` forks once, before anything heavy is imported. The child runs
the monitor and the script as before; the parent only waits (``waitpid``: no
CPU, no thread, no polling). When the child ends through tfmon's own exit path
it says so on a socket pair and the parent just passes its exit code on. When
it dies instead (a segfault or ``abort()`` in a native plugin, ``kill -9``, the
OOM killer, ``os._exit``), the parent, which outlives it:

- saves what the child's output pipes still held (TensorFlow's fatal message,
  a native stack dump) into the run's ``output.log``: the child passed it the
  pipes' read ends when it set them up;
- restores the terminal: leaves the alternate screen, shows the cursor, turns
  off every mouse mode, focus events, bracketed paste and the kitty keyboard
  protocol, and puts back the tty modes saved before the fork (raw mode off);
- appends ``run_end`` (with the signal and exit code) to ``events.jsonl`` when
  the child did not, and removes its dead control socket;
- prints one line: how the run died and where its log is.

Signals: the child is in the same process group, so the terminal's signals
(Ctrl+C headless, Ctrl+Z, hang-up forwarded by the shell) reach it directly.
Signals sent to the parent alone (``kill -TERM PID``, ``timeout``, a hang-up
of a terminal the parent leads) are forwarded to the child; the child treats
the same signal twice within ``tfmon.signals.SAME_SIGNAL`` seconds as one.
The parent's exit code is the child's (128 + N when it died of signal N).
"""

from __future__ import annotations

import errno
import faulthandler
import os
import signal
import socket
import sys
import termios
from dataclasses import dataclass, field
from pathlib import Path

#: Set to 0 to run without the parent (one process, as before).
ENV = "TFMON_SUPERVISOR"
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
#: Everything Textual (or any full-screen app) may have turned on, turned off.
TERMINAL_RESET = (
    "\x1b[<u"  # kitty keyboard protocol: pop
    "\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1005l\x1b[?1006l\x1b[?1015l\x1b[?1016l"  # mouse modes
    "\x1b[?1004l"  # focus events
    "\x1b[?2004l"  # bracketed paste
    "\x1b[?2048l"  # in-band resize
    "\x1b[?7h"  # line wrap back on
    "\x1b[0m"  # colours
    "\x1b[?1049l"  # leave the alternate screen
    "\x1b[?25h"  # show the cursor
)

_channel: socket.socket | None = None  # the child's end, once forked


@dataclass
class ChildReport:
    """What the child told the parent before it ended (or died)."""

    run_dir: Path | None = None
    script: str | None = None
    ui: bool = False  # the full-screen app took the terminal
    ended: bool = False  # tfmon's own exit path ran: run_end is recorded
    pipes: list[int] = field(default_factory=list)  # read ends of the child's fd 1/2 pipes


def enabled() -> bool:
    return os.environ.get(ENV, "1") != "0" and hasattr(os, "fork")


def supervise() -> int | None:
    """Fork. In the child return None (carry on with the run); in the parent
    wait for the child and return the exit code for the ``tfmon`` command."""
    global _channel
    tty = _find_tty()
    saved = _tty_modes(tty)
    parent_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    # Held back over the fork: a signal meant for the run that comes before the
    # parent's handlers are in place is forwarded once they are, not fatal to it.
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, FORWARDED)
    pid = os.fork()
    if pid == 0:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        parent_end.close()
        child_end.setblocking(False)  # a report never waits on the parent
        _channel = child_end
        return None
    child_end.close()
    return _parent(pid, parent_end, tty, saved, mask)


# -- the child's side: a few datagrams, each a no-op when not supervised, and the crash trace


class CrashTrace:
    """faulthandler writes the Python traceback of every thread (and, on Python 3.14+,
    the native stack) to output.log when the process dies of a fatal signal: through
    a file descriptor of its own, written by the dying process itself, so it survives.
    ``reopen`` after output.log was rotated (replaced by a new file)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def reopen(self) -> None:
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            return
        try:
            faulthandler.enable(file=fd, all_threads=True, c_stack=True)  # type: ignore[call-arg]
        except TypeError:  # before Python 3.14: no native frames
            faulthandler.enable(file=fd, all_threads=True)
        old, self._fd = self._fd, fd
        if old is not None:
            os.close(old)
        # The fd stays open to the end: a crash while Python exits is recorded too.


def report(kind: str, text: str = "", fds: list[int] | None = None) -> None:
    channel = _channel
    if channel is None:
        return
    try:
        socket.send_fds(channel, [f"{kind}\0{text}".encode()], fds or [])
    except OSError:
        pass  # the parent is gone: nothing to tell


# -- the parent's side


def _parent(pid: int, channel: socket.socket, tty: int | None, saved, mask) -> int:
    def forward(signum, frame):
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    for sig in FORWARDED:
        signal.signal(sig, forward)
    signal.signal(signal.SIGQUIT, signal.SIG_IGN)  # Ctrl+\ is the child's to die of
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    status = _wait(pid)
    report = _collect(channel)
    channel.close()
    code = os.waitstatus_to_exitcode(status)
    died_of = -code if code < 0 else None
    exit_code = 128 + died_of if died_of else code
    if died_of is None and report.ended:
        _close(report.pipes)
        return exit_code
    # The child did not leave through tfmon's exit path: clean up after it,
    # the terminal first (nothing below may keep it broken).
    if tty is not None:
        _restore_terminal(tty, saved, screen=report.ui and not report.ended)
    recorded = report.ended
    try:
        _save_pipes(report)
        if report.run_dir is not None and not report.ended:
            recorded = record_death(report.run_dir, exit_code, died_of)
            _remove_socket(report.run_dir)
    except Exception as exc:  # a bug here must not hide how the run died
        _say(f"tfmon: cleaning up after the run failed: {type(exc).__name__}: {exc}")
    _say(died_line(report, exit_code, died_of, recorded))
    return exit_code


def _wait(pid: int) -> int:
    """waitpid until the child has ended; a stopped child (Ctrl+Z in the app) stops us too,
    so the shell sees the job stop and its ``fg`` continues both."""
    while True:
        try:
            _, status = os.waitpid(pid, os.WUNTRACED)
        except ChildProcessError:  # pragma: no cover (reaped elsewhere)
            return 1 << 8
        if os.WIFSTOPPED(status):
            os.kill(os.getpid(), signal.SIGSTOP)
            os.kill(pid, signal.SIGCONT)  # in case only we were continued
            continue
        return status


def _collect(channel: socket.socket) -> ChildReport:
    out = ChildReport()
    channel.setblocking(False)
    while True:
        try:
            data, fds, _flags, _addr = socket.recv_fds(channel, 65536, 16)
        except (BlockingIOError, OSError):
            return out
        kind, _, text = data.decode("utf-8", "replace").partition("\0")
        if kind == "run":
            out.run_dir = Path(text)
        elif kind == "script":
            out.script = text
        elif kind == "pipes":
            out.pipes.extend(fds)
            fds = []
        elif kind == "ui":
            out.ui = True
        elif kind == "ended":
            out.ended = True
        _close(fds)


def _save_pipes(report: ChildReport) -> None:
    """What the dead child's pipes still held (a native fatal message), appended to output.log."""
    data = b""
    for fd in report.pipes:
        os.set_blocking(fd, False)
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EAGAIN: a process the script started still holds the pipe
                break
            if not chunk:
                break
            data += chunk
    _close(report.pipes)
    if data and report.run_dir is not None:
        _append(report.run_dir / "output.log", data if data.endswith(b"\n") else data + b"\n")


def record_death(run_dir: Path, exit_code: int, died_of: int | None) -> bool:
    """Append run_end for a child that died without writing one; False if it cannot."""
    from tfmon import events

    path = Path(run_dir) / "events.jsonl"
    try:
        if _has_run_end(path):
            return True
        how = signal_name(died_of) if died_of else f"exit {exit_code} without tfmon's exit path (os._exit?)"
        event = events.make(
            events.RUN_END,
            exit_code=exit_code,
            state="failed",
            signal=signal_name(died_of) if died_of else None,
            error=f"the process died: {how}",
            error_type=signal_name(died_of) if died_of else "exit",
            recorded_by="supervisor",
        )
        _append(path, events.dumps(event).encode() + b"\n", own_line=True)
    except OSError:
        return False
    return True


def _has_run_end(path: Path) -> bool:
    from tfmon.liveness import find_run_end

    try:
        return find_run_end(path) is not None
    except FileNotFoundError:
        return False


def _append(path: Path, data: bytes, own_line: bool = False) -> None:
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        if own_line and os.fstat(fd).st_size:
            # The child may have died in the middle of a line.
            if os.pread(fd, 1, os.fstat(fd).st_size - 1) != b"\n":
                data = b"\n" + data
        while data:
            data = data[os.write(fd, data) :]
    finally:
        os.close(fd)


def _remove_socket(run_dir: Path) -> None:
    from tfmon.run.channel import remove_socket

    remove_socket(Path(run_dir))


def signal_name(signum: int | None) -> str:
    try:
        return signal.Signals(signum).name
    except (ValueError, TypeError):
        return f"signal {signum}"


def died_line(report: ChildReport, exit_code: int, died_of: int | None, recorded: bool) -> str:
    who = Path(report.script).name if report.script else "the run"
    if died_of:
        desc = signal.strsignal(died_of) or ""
        how = f"died of {signal_name(died_of)}" + (f" ({desc.lower()})" if desc else "")
    elif report.ended:
        how = f"ended, then exited {exit_code}"
    else:
        how = f"exited {exit_code} without tfmon's exit path (os._exit?)"
    if report.ended and died_of:
        how = f"ended, then {how} while exiting"
    line = f"tfmon: {who} {how}"
    if report.run_dir is None:
        return line + " before its run directory was set up"
    line += f" · traceback and output: {report.run_dir / 'output.log'}"
    if not recorded:
        line += " · run_end could not be recorded"
    return line


def _say(line: str) -> None:
    try:
        os.write(2, (line + "\n").encode("utf-8", "replace"))
    except OSError:
        pass  # the terminal went away with the run


# -- the terminal


def _find_tty() -> int | None:
    for fd in (0, 1, 2):
        try:
            if os.isatty(fd):
                return fd
        except OSError:
            continue
    return None


def _tty_modes(fd: int | None):
    if fd is None:
        return None
    try:
        return termios.tcgetattr(fd)
    except termios.error:
        return None


def _restore_terminal(tty: int, saved, screen: bool) -> None:
    out = next((fd for fd in (1, 2, tty) if _isatty(fd)), None)
    if screen and out is not None:
        try:
            os.write(out, TERMINAL_RESET.encode())
        except OSError:
            pass
    if saved is not None:
        try:
            termios.tcsetattr(tty, termios.TCSAFLUSH, saved)
        except termios.error:
            pass


def _isatty(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False


def _close(fds: list[int]) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError as exc:
            if exc.errno != errno.EBADF:
                raise
    fds.clear()
