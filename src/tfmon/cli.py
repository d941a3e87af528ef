"""Command line: ``tfmon SCRIPT [ARGS...]`` and the subcommands."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from tfmon import __version__

SUBCOMMANDS = ("demo", "doctor", "replay", "attach", "ls", "ctl")


def _run_parser(prog: str = "tfmon") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Run a TensorFlow training script under a live terminal monitor.",
        epilog="subcommands: tfmon demo | doctor | replay RUN_DIR | attach [RUN_DIR] | ls | ctl RUN_DIR ACTION",
    )
    p.add_argument("--version", action="version", version=f"tfmon {__version__}")
    p.add_argument("--headless", action="store_true", help="no UI: concise lines on stdout")
    p.add_argument("--run-dir", type=Path, help="write the run here instead of ./tfmon-runs/<time>-<script>")
    p.add_argument("--no-placement", action="store_true", help="do not log device placement")
    p.add_argument("--raw-log", action="store_true", help="output.log keeps every line, repeated placement lines too, with no size cap")
    p.add_argument("--sample-interval", type=float, default=0.5, metavar="S", help="memory sampling period (0: off)")
    p.add_argument("--memory-growth", action="store_true", help="set_memory_growth(True) on every GPU first")
    p.add_argument("--leak-threshold", type=float, default=None, metavar="MB", help="warn when memory grows more than MB per epoch")
    p.add_argument("--no-mouse", action="store_true", help="for terminals that misbehave with mouse reporting")
    return p


_OPTIONS_WITH_VALUE = ("--run-dir", "--sample-interval", "--leak-threshold")


def _first_positional(argv: list[str]) -> int | None:
    i = 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("-"):
            return i
        i += 2 if arg in _OPTIONS_WITH_VALUE else 1
    return None


def main(argv: list[str] | None = None, supervised: bool | None = None) -> int:
    """``supervised``: run the script under a supervising parent (``tfmon.supervisor``);
    by default only as the ``tfmon`` command itself (``argv`` None), never when
    called from Python (a test), where forking would copy the caller."""
    if supervised is None:
        supervised = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    i = _first_positional(argv)
    # `tfmon demo --headless` and `tfmon --headless demo` both work; a script
    # that happens to be named like a subcommand still runs.
    if i is not None and argv[i] in SUBCOMMANDS and not Path(argv[i]).exists():
        return _subcommand(argv[i], argv[:i] + argv[i + 1 :], supervised)
    parser = _run_parser()
    parser.add_argument("script", help="the training script")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the script's own arguments")
    opts = parser.parse_args(argv)
    return run_script_command(opts, Path(opts.script), opts.args, supervised)


def run_script_command(opts: argparse.Namespace, script: Path, args: list[str], supervised: bool = False) -> int:
    from tfmon.run.job import script_problem

    problem = script_problem(str(script))
    if problem:
        print(problem, file=sys.stderr)
        return 2
    if opts.sample_interval < 0:
        print("tfmon: --sample-interval must be >= 0", file=sys.stderr)
        return 2
    from tfmon import supervisor

    if supervised and supervisor.enabled():
        code = supervisor.supervise()
        if code is not None:
            return code  # the parent, once the child has ended or died
        try:
            return _run(opts, script, args)
        finally:
            supervisor.report("ended")
    return _run(opts, script, args)


def _run(opts: argparse.Namespace, script: Path, args: list[str]) -> int:
    from tfmon.run.session import LiveRun, Options

    headless = opts.headless or not (os.isatty(0) and os.isatty(1))
    options = Options(
        placement=not opts.no_placement,
        raw_log=opts.raw_log,
        sample_interval=opts.sample_interval,
        memory_growth=opts.memory_growth,
        leak_threshold_mb=opts.leak_threshold,
        run_dir=opts.run_dir,
        headless=headless,
    )
    try:
        run = LiveRun(script, args, options)
    except OSError as exc:
        print(f"tfmon: {exc}", file=sys.stderr)
        return 2
    if headless:
        from tfmon.headless import run_headless

        return _guard(run_headless, run)
    from tfmon.live import run_with_ui

    return _guard(run_with_ui, run, mouse=not opts.no_mouse)


def _guard(fn, *args, **kwargs) -> int:
    try:
        return fn(*args, **kwargs)
    except OSError as exc:  # the run dir cannot be created, say
        print(f"tfmon: {exc}", file=sys.stderr)
        return 2


def _subcommand(name: str, argv: list[str], supervised: bool = False) -> int:
    if name == "demo":
        from tfmon.examples import demo_path

        parser = _run_parser("tfmon demo")
        opts, rest = parser.parse_known_args(argv)
        return run_script_command(opts, demo_path(), rest, supervised)
    if name == "doctor":
        from tfmon.doctor import main as doctor_main

        return doctor_main(argv)
    if name == "replay":
        from tfmon.replay import main as replay_main

        return replay_main(argv)
    if name in ("attach", "ls", "ctl"):
        from tfmon import remote

        return getattr(remote, f"{name}_main")(argv)
    raise AssertionError(name)
