"""Runs the user's script the way ``python SCRIPT ARGS...`` would, in this process."""

from __future__ import annotations

import contextlib
import os
import runpy
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass
class JobResult:
    exit_code: int
    error: str | None = None  # the traceback, as Python would print it
    error_type: str | None = None


def script_problem(script: str) -> str | None:
    """One line saying why the script cannot be run, or None when it can."""
    path = Path(script)
    if not path.exists():
        return f"tfmon: can't open file '{script}': No such file or directory"
    if path.is_dir():
        return f"tfmon: '{script}' is a directory, not a Python script"
    if not os.access(path, os.R_OK):
        return f"tfmon: can't open file '{script}': Permission denied"
    return None


def _user_frames(tb):
    """Skip tfmon's and runpy's own frames: the user sees their script's traceback."""
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if "runpy" not in filename and f"{os.sep}tfmon{os.sep}" not in filename:
            return tb
        tb = tb.tb_next
    return None


def format_user_traceback(exc: BaseException) -> str:
    tb = _user_frames(exc.__traceback__)
    return "".join(traceback.format_exception(type(exc), exc, tb))


@contextlib.contextmanager
def _signals_from_a_worker_thread(warn: Callable[[str], None] | None):
    """Under the UI the script runs in a worker thread, where ``signal.signal`` raises
    ValueError. A handler the script installs there is ignored with a note instead
    of failing the whole script (tfmon's own handlers keep Ctrl+C and hang-up)."""
    if threading.current_thread() is threading.main_thread():
        yield
        return
    original = signal.signal

    def install(signum, handler):
        if threading.current_thread() is threading.main_thread():
            return original(signum, handler)
        if warn is not None:
            name = signal.Signals(signum).name if isinstance(signum, int) else str(signum)
            warn(f"tfmon: the script's handler for {name} is not installed: under tfmon it runs in a worker thread")
        return signal.getsignal(signum)

    signal.signal = install
    try:
        yield
    finally:
        signal.signal = original


def run_script(script: Path, args: list[str], warn: Callable[[str], None] | None = None) -> JobResult:
    """Run ``script`` as ``__main__`` with ``sys.argv`` and ``sys.path[0]`` set as python does."""
    script = Path(script)
    saved_argv, saved_path0 = sys.argv, sys.path[0] if sys.path else None
    sys.argv = [str(script), *args]
    folder = str(script.resolve().parent)
    if sys.path:
        sys.path[0] = folder
    else:
        sys.path.append(folder)
    try:
        with _signals_from_a_worker_thread(warn):
            # __file__ absolute, as python (3.9+) makes it for the main script.
            runpy.run_path(os.path.abspath(script), run_name="__main__")
        return JobResult(0)
    except SystemExit as exc:
        return _system_exit(exc)
    except KeyboardInterrupt as exc:
        return JobResult(130, format_user_traceback(exc), "KeyboardInterrupt")
    except BaseException as exc:  # the script's failure is reported, never raised into tfmon
        return JobResult(1, format_user_traceback(exc), type(exc).__name__)
    finally:
        sys.argv = saved_argv
        if saved_path0 is not None and sys.path:
            sys.path[0] = saved_path0


def _system_exit(exc: SystemExit) -> JobResult:
    code = exc.code
    if code is None:
        return JobResult(0)
    if isinstance(code, int):
        return JobResult(code & 0xFF if code >= 0 else 1)
    # sys.exit("message") prints the message and exits 1, as python does.
    return JobResult(1, str(code), "SystemExit")
