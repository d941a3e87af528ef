"""``tfmon`` as its console script runs it, plus per-thread CPU accounting for the benchmark.

    python benchmarks/tfmon_launch.py [tfmon args...]   (TFMON_BENCH_OUT=FILE)

Same process, same code path as the ``tfmon`` command (``tfmon.cli.main``);
``TFMON_BENCH_SUPERVISED=1`` also forks the supervising parent as the command
does (tfmon.supervisor): the record is then the child's (the run's) own.
Python 3.11 does not name OS threads, so CPU time is taken from inside: each
Python thread's ``time.thread_time()`` when its run ends, ``/proc`` for those
still alive at exit, the main thread's at exit. The thread that ran the script
(``LiveRun.run_job``) is marked "job"; the rest of the process's CPU time is
TensorFlow's native thread pools. At exit one JSON object goes to
``$TFMON_BENCH_OUT`` with the threads, the process totals and, under the full
UI, the time of the app's first frame (``TfmonApp.first_frame_at``).
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import resource
import sys
import threading
import time
from pathlib import Path

_T0 = time.time()
_records: list[dict] = []
#: wall-clock times of the steps from start to the first frame
_marks: dict[str, float] = {"launcher": _T0}
_job_ident: list[int] = []
_first_frame: list[float] = []
_CLK = os.sysconf("SC_CLK_TCK")


def _proc_thread_cpu(native_id: int) -> float | None:
    try:
        with open(f"/proc/self/task/{native_id}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLK  # utime, stime
    except (OSError, IndexError, ValueError):
        return None


def _patch_threads() -> None:
    original = threading.Thread._bootstrap_inner

    def bootstrap_inner(self):
        try:
            original(self)
        finally:
            _records.append({"name": self.name, "ident": self.ident, "cpu_s": time.thread_time(), "ended": True})

    threading.Thread._bootstrap_inner = bootstrap_inner


def _mark(cls, name: str, label: str, after: bool = False) -> None:
    method = getattr(cls, name)

    @functools.wraps(method)  # Textual reads a handler's signature
    def marked(*args, **kwargs):
        if not after:
            _marks.setdefault(label, time.time())
        try:
            return method(*args, **kwargs)
        finally:
            if after:
                _marks.setdefault(label, time.time())

    setattr(cls, name, marked)


def _patch_tfmon() -> None:
    try:
        from tfmon.run.session import LiveRun
    except ImportError:  # an older tfmon tree (--before-src in longrun.py, print_flood.py)
        from tfmon.probes.session import LiveRun

    run_job = LiveRun.run_job

    def run_job_marked(self):
        _job_ident.append(threading.get_ident())
        _marks.setdefault("job_start", time.time())
        return run_job(self)

    LiveRun.run_job = run_job_marked
    _mark(LiveRun, "prepare", "prepare_start")
    _mark(LiveRun, "prepare", "prepare_end", after=True)
    try:
        from tfmon.ui.app import TfmonApp
    except ImportError:
        return
    _mark(TfmonApp, "compose", "compose")
    _mark(TfmonApp, "on_mount", "mount")
    first = TfmonApp._first_frame

    def first_frame(self):
        first(self)
        _first_frame.append(self.first_frame_at or time.time())
        _marks["main_cpu_at_first_frame"] = time.thread_time()  # the UI thread's start-up cost

    TfmonApp._first_frame = first_frame


def _apply_experiments(spec: str) -> None:
    """Emulate a suggested fix without editing tfmon, to measure it before it is made.

    ``TFMON_BENCH_EXPERIMENTS`` is a comma-separated list of:
    ``switch=S`` sys.setswitchinterval(S); ``reader_sleep=S`` the fd readers wait S
    seconds after each read (fewer, larger reads); ``tick=S`` / ``pane_interval=S`` the UI's
    pull-and-header interval and its panes' interval; ``read_nap=S`` the readers' own nap
    after a short read (``capture.READ_NAP``) set to S; ``static_nolayout`` Static.update
    never asks for a layout pass; ``defer_job`` the script starts after the first frame.
    """
    for item in filter(None, (x.strip() for x in spec.split(","))):
        name, _, value = item.partition("=")
        if name == "switch":
            sys.setswitchinterval(float(value))
        elif name == "reader_sleep":
            from tfmon.probes import capture

            capture.os = _SleepyOs(float(value))
        elif name in ("tick", "pane_interval"):
            from tfmon.ui import app as ui_app

            setattr(ui_app, name.upper(), float(value))
        elif name == "read_nap":
            from tfmon.probes import capture

            capture.READ_NAP = float(value)
        elif name == "static_nolayout":
            from textual.widgets import Static

            update = Static.update

            def update_no_layout(self, content="", *, layout=True):
                return update(self, content, layout=False)

            Static.update = update_no_layout
        elif name == "profile":
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
            atexit.register(lambda: (profiler.disable(), profiler.dump_stats(value)))
        elif name == "slow_panes":
            _slow_panes(float(value))
        elif name == "trace_layout":
            _trace_layout(value)
        elif name == "defer_job":
            from tfmon.ui.app import TfmonApp

            run_worker = TfmonApp.run_worker

            def run_worker_later(self, work, *args, **kwargs):
                if kwargs.get("name") != "script":
                    return run_worker(self, work, *args, **kwargs)
                self.call_after_refresh(lambda: run_worker(self, work, *args, **kwargs))

            TfmonApp.run_worker = run_worker_later
        else:
            raise SystemExit(f"tfmon_launch: unknown experiment {item!r}")


def _slow_panes(period: float) -> None:
    from tfmon.ui.app import TfmonApp

    on_mount = TfmonApp.on_mount

    @functools.wraps(on_mount)
    def on_mount_slow(self, *args, **kwargs):
        for widget in self._panes.values():
            update = getattr(widget, "update_from", None)
            if update is None:
                continue
            last = [0.0]

            def gated(sub, update=update, last=last):
                now = time.monotonic()
                if now - last[0] >= period:
                    last[0] = now
                    update(sub)

            widget.update_from = gated
        return on_mount(self, *args, **kwargs)

    TfmonApp.on_mount = on_mount_slow


def _trace_layout(path: str) -> None:
    import collections
    import traceback

    from textual.widget import Widget

    counts: collections.Counter[str] = collections.Counter()
    refresh = Widget.refresh

    def traced(self, *regions, **kwargs):
        if kwargs.get("layout"):
            caller = next((f"{f.filename.rsplit('/tfmon/', 1)[-1]}:{f.lineno} {f.name}"
                           for f in reversed(traceback.extract_stack(limit=12)[:-1]) if "/tfmon/" in f.filename), "textual")
            counts[f"{type(self).__name__}#{self.id} <- {caller}"] += 1
        return refresh(self, *regions, **kwargs)

    Widget.refresh = traced
    atexit.register(lambda: Path(path).write_text("\n".join(f"{n:6d} {k}" for k, n in counts.most_common())))


class _SleepyOs:
    """``os`` for tfmon.probes.capture, whose ``read`` naps after returning data."""

    def __init__(self, nap: float) -> None:
        self._nap = nap

    def read(self, fd: int, n: int) -> bytes:
        data = os.read(fd, n)
        if data:
            time.sleep(self._nap)
        return data

    def __getattr__(self, name: str):
        return getattr(os, name)


def _write() -> None:
    out = os.environ.get("TFMON_BENCH_OUT")
    if not out or "prepare_start" not in _marks:
        return  # the supervising parent: the run's record is the child's
    threads = list(_records)
    seen = {r["ident"] for r in threads}
    main = threading.main_thread()
    for t in threading.enumerate():
        if t.ident in seen:
            continue
        if t is main:
            cpu = time.thread_time() if threading.current_thread() is main else _proc_thread_cpu(t.native_id)
        else:
            cpu = _proc_thread_cpu(t.native_id)
        threads.append({"name": "main" if t is main else t.name, "ident": t.ident, "cpu_s": cpu, "ended": False})
    job = _job_ident[0] if _job_ident else None
    for r in threads:
        r["job"] = r["ident"] == job
        r["main"] = r["ident"] == main.ident
    usage = resource.getrusage(resource.RUSAGE_SELF)
    record = {
        "threads": threads,
        "process_cpu_s": usage.ru_utime + usage.ru_stime,
        "maxrss_kb": usage.ru_maxrss,
        "first_frame_at": _first_frame[0] if _first_frame else None,
        "marks": _marks,
    }
    with open(out, "w", encoding="utf-8") as f:
        json.dump(record, f)


def main() -> int:
    _patch_threads()
    _patch_tfmon()
    _apply_experiments(os.environ.get("TFMON_BENCH_EXPERIMENTS", ""))
    _marks["imported"] = time.time()
    atexit.register(_write)
    from tfmon.cli import main as tfmon_main

    if os.environ.get("TFMON_BENCH_SUPERVISED") == "1":
        return tfmon_main(sys.argv[1:], supervised=True)
    return tfmon_main(sys.argv[1:])  # unsupervised: also an older tfmon tree, whose main() has no flag


if __name__ == "__main__":
    sys.exit(main())
