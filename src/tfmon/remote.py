"""``tfmon ls``, ``tfmon ctl`` and ``tfmon attach``: runs seen from another shell.

Everything goes through the run directory: its events file says whether the
run is live, ended or died (``tfmon.liveness``), its control socket takes
commands (``tfmon.run.client``). No network port is involved; over SSH,
log in and run these in the project folder.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from tfmon.liveness import RunStatus, find_runs, is_run_dir, last_checkpoint, read_status
from tfmon.rundir import DEFAULT_BASE

CTL_ACTIONS = ("pause", "resume", "checkpoint", "stop", "status")
#: How long ``tfmon ctl`` waits for an action to take effect before saying it is queued.
CTL_WAIT = 15.0


def _base_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--base", type=Path, default=Path(DEFAULT_BASE), help=f"where runs are (default ./{DEFAULT_BASE})")


def _error(text: str, code: int = 1) -> int:
    print(f"tfmon: {text}", file=sys.stderr)
    return code


def resolve_run_dir(arg: str, base: Path) -> Path | None:
    """A run directory from a path, or from a run's name under ``base``."""
    for candidate in (Path(arg), Path(base) / arg):
        if is_run_dir(candidate):
            return candidate
    return None


def newest_live(base: Path) -> RunStatus | None:
    return next((s for s in find_runs(base) if s.state == "live"), None)


def _when(t: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) if t else "?"


# -- tfmon ls


def format_runs(runs: list[RunStatus], now: float | None = None) -> str:
    rows = [("RUN", "STATE", "SCRIPT", "STARTED", "PID")]
    for s in runs:
        script = Path(s.script).name if s.script else "?"
        rows.append((s.name, s.describe(now), script, _when(s.started), str(s.pid or "?")))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows)


def ls_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="tfmon ls", description="List runs: live, ended or died.")
    _base_arg(p)
    opts = p.parse_args(argv)
    runs = find_runs(opts.base)
    if not runs:
        print(f"no runs under {opts.base}")
        return 0
    print(format_runs(runs))
    return 0


# -- tfmon ctl


def _why_no_channel(run_dir: Path, problem: str) -> str:
    status = read_status(run_dir)
    if status.state == "ended":
        return f"{run_dir.name}: the run has {status.describe()}; nothing to control"
    if status.state == "died":
        checkpoint = last_checkpoint(run_dir)
        where = f"; last checkpoint: {checkpoint}" if checkpoint else "; no checkpoint was saved"
        return f"{run_dir.name}: {status.describe()}{where}"
    return f"{run_dir.name}: {problem}"


def format_status(status: dict) -> str:
    parts = [f"{status.get('state')}"]
    if status.get("epochs"):
        parts.append(f"epoch {status.get('epoch')}/{status.get('epochs')}")
        steps = status.get("steps")
        parts.append(f"step {status.get('step')}/{steps}" if steps else f"step {status.get('step')}")
    parts.append(f"pid {status.get('pid')}")
    if status.get("hung_up"):
        parts.append("terminal hung up: running headless")
    lines = [" · ".join(parts)]
    lines.append(f"script: {status.get('script')}")
    if status.get("last_checkpoint"):
        lines.append(f"last checkpoint: {status['last_checkpoint']}")
    return "\n".join(lines)


def ctl_main(argv: list[str]) -> int:
    from tfmon.run.channel import MAX_WAIT
    from tfmon.run.client import ChannelError, call

    p = argparse.ArgumentParser(
        prog="tfmon ctl",
        description="Control a running tfmon run (headless or not) from another shell.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="the run's directory (or its name under --base)")
    p.add_argument("action", choices=CTL_ACTIONS)
    p.add_argument("--wait", type=float, default=CTL_WAIT, metavar="S", help=f"wait up to S seconds for the action to take effect (default {CTL_WAIT:g})")
    p.add_argument("--json", action="store_true", help="print the reply as JSON")
    _base_arg(p)
    opts = p.parse_args(argv)
    if not math.isfinite(opts.wait) or opts.wait < 0:
        return _error(f"--wait must be a number of seconds >= 0 (at most {MAX_WAIT:g} are used), not {opts.wait}", 2)
    run_dir = resolve_run_dir(opts.run_dir, opts.base)
    if run_dir is None:
        return _error(f"{opts.run_dir}: not a run directory (no events.jsonl)", 2)
    if opts.action == "status":
        ended = read_status(run_dir)
        if ended.state == "ended":  # a question with an answer: the run's final state
            return _print_final_status(ended, opts.json)
    try:
        reply = call(run_dir, opts.action, wait=0.0 if opts.action == "status" else min(opts.wait, MAX_WAIT))
    except ChannelError as exc:
        return _error(_why_no_channel(run_dir, str(exc)))
    except OSError as exc:
        return _error(f"{run_dir.name}: {exc}")
    if opts.json:
        import json

        print(json.dumps(reply))
    if not reply.get("ok"):
        if not opts.json:
            print(f"tfmon: {run_dir.name}: {reply.get('error')}", file=sys.stderr)
        return 1
    if not opts.json:
        print(format_status(reply["status"]) if opts.action == "status" else reply.get("message", "ok"))
    return 0


def _print_final_status(status: RunStatus, as_json: bool) -> int:
    end = status.end or {}
    final = {
        "state": end.get("state", "ended"),
        "exit_code": end.get("exit_code"),
        "error_type": end.get("error_type"),
        "pid": status.pid,
        "script": status.script,
        "last_checkpoint": last_checkpoint(status.run_dir),
    }
    if as_json:
        import json

        print(json.dumps({"ok": True, "status": final}))
        return 0
    lines = [f"{status.describe()} · pid {status.pid}", f"script: {status.script}"]
    if final["last_checkpoint"]:
        lines.append(f"last checkpoint: {final['last_checkpoint']}")
    print("\n".join(lines))
    return 0


# -- tfmon attach


def attach_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="tfmon attach",
        description="Open the live view of a run going on in another process (q leaves it going).",
    )
    p.add_argument("run_dir", nargs="?", metavar="RUN_DIR", help="default: the newest live run under --base")
    p.add_argument("--no-mouse", action="store_true", help="for terminals that misbehave with mouse reporting")
    _base_arg(p)
    opts = p.parse_args(argv)
    if opts.run_dir is None:
        status = newest_live(opts.base)
        if status is None:
            runs = find_runs(opts.base)
            hint = f"; the newest is {runs[0].run_dir} ({runs[0].describe()})" if runs else ""
            return _error(f"no live run under {opts.base}{hint}. tfmon ls lists them; tfmon attach RUN_DIR shows any.")
    else:
        run_dir = resolve_run_dir(opts.run_dir, opts.base)
        if run_dir is None:
            return _error(f"{opts.run_dir}: not a run directory (no events.jsonl)", 2)
        status = read_status(run_dir)
    if not sys.stdout.isatty() or not sys.stdin.isatty():
        return _error("attach needs a terminal (for a script: tfmon ctl RUN_DIR status)", 2)
    from tfmon.ui.sources import AttachSource

    source = AttachSource(status.run_dir, status)
    if not _run_view(source, mouse=not opts.no_mouse):
        return 0  # this terminal went away: nobody to tell; the run is not affected
    after = read_status(status.run_dir)
    if after.state == "live":
        print(f"tfmon: detached; {after.name} goes on (pid {after.pid}). tfmon attach {after.run_dir} comes back.")
    else:
        print(f"tfmon: {after.name}: {after.describe()}")
    return 0


def _run_view(source, mouse: bool) -> bool:
    """Run the app on this terminal; False if the terminal hung up meanwhile.

    A view whose SSH link drops must leave quietly, not spin on a dead tty:
    the same driver as the live view, with SIGHUP and failed writes ending it.
    """
    import os
    import signal

    from tfmon.ui.app import TfmonApp
    from tfmon.ui.driver import TerminalOutput, driver_for_terminal

    terminal = TerminalOutput(os.dup(sys.__stdout__.fileno()))

    def lost(reason: str) -> None:
        terminal.silence(reason)
        if driver_class.instance is not None:
            driver_class.instance.hang_up()

    driver_class = driver_for_terminal(terminal, on_lost=lost)
    previous = signal.signal(signal.SIGHUP, lambda signum, frame: lost("SIGHUP"))
    try:
        TfmonApp(source, driver_class=driver_class).run(mouse=mouse)
    finally:
        terminal.close()
    if terminal.lost is not None:
        from tfmon.run.streams import detach_std_streams

        detach_std_streams()
        return False
    signal.signal(signal.SIGHUP, previous)
    return True
