"""``tfmon replay RUN_DIR``: a recorded run in the same app."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tfmon.recorder import EVENTS_FILE

HEAD = 1 << 20  # bytes read to tell a recording from garbage


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="tfmon replay", description="Show a recorded run in the tfmon app.")
    p.add_argument("run_dir", type=Path)
    p.add_argument("--speed", type=float, default=None, metavar="X", help="replay at X times the recorded speed (default: all at once)")
    p.add_argument("--no-mouse", action="store_true")
    opts = p.parse_args(argv)
    if not (opts.run_dir / EVENTS_FILE).is_file():
        print(f"tfmon: {opts.run_dir} is not a tfmon run directory (no {EVENTS_FILE})", file=sys.stderr)
        return 2
    if opts.speed is not None and opts.speed <= 0:
        print("tfmon: --speed must be > 0", file=sys.stderr)
        return 2
    problem = unreadable(opts.run_dir / EVENTS_FILE)
    if problem:
        print(f"tfmon: {problem}", file=sys.stderr)
        return 1
    from tfmon.ui.app import TfmonApp
    from tfmon.ui.sources import ReplaySource

    app = TfmonApp(ReplaySource(opts.run_dir, speed=opts.speed))
    app.run(mouse=not opts.no_mouse)
    return app.return_code or 0  # non-zero if the app itself failed


def unreadable(path: Path) -> str | None:
    """Why a recording cannot be replayed at all, or None. Only its head is read: a
    week-long file is read once, by the app (a damaged line there is skipped and counted)."""
    from tfmon.recorder import parse_lines_counted

    try:
        with open(path, "rb") as f:
            head = f.read(HEAD)
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror or exc}"
    lines = head.split(b"\n")
    if len(head) == HEAD:
        lines.pop()  # cut in the middle
    found, skipped = parse_lines_counted(lines)
    if not found and len(head) < HEAD:
        return f"{path} holds no readable event ({skipped} lines skipped)"
    return None
