"""``tfmon replay RUN_DIR``: a recorded run in the same app."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tfmon.recorder import EVENTS_FILE


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
    from tfmon.ui.app import TfmonApp
    from tfmon.ui.sources import ReplaySource

    app = TfmonApp(ReplaySource(opts.run_dir, speed=opts.speed))
    app.run(mouse=not opts.no_mouse)
    return 0
