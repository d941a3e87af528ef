"""Make the README's screenshots from a real run: train the demo headless, replay it in the app.

    .venv/bin/python scripts/screenshots.py [--run-dir DIR]   # reuses DIR if it holds a run

Writes SVGs into screenshots/: the whole app at 200x60, and each pane at 80x24.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "screenshots"


def record(run_dir: Path) -> None:
    cmd = [sys.executable, "-m", "tfmon", "demo", "--headless", "--run-dir", str(run_dir), "--epochs", "6", "--samples", "8000"]
    subprocess.run(cmd, check=True, cwd=ROOT)


async def shoot(run_dir: Path) -> list[Path]:
    from tfmon.ui.app import TfmonApp
    from tfmon.ui.sources import ReplaySource

    made = []
    shots = [("overview-200x60", (200, 60), None, ())] + [
        (f"{name}-80x24", (80, 24), name, ()) for name in ("metrics", "placement", "fallbacks", "memory", "log")
    ] + [("placement-by-layer-80x24", (80, 24), "placement", ("b",))]
    for name, size, pane, keys in shots:
        app = TfmonApp(ReplaySource(run_dir))
        async with app.run_test(size=size) as pilot:
            await pilot.pause(0.5)
            if pane:
                app.action_show_pane(pane)
                await pilot.pause(0.3)
            if keys:
                await pilot.press(*keys)
                await pilot.pause(0.3)
            # Freeze the clock-dependent header on the recorded end.
            path = OUT / f"{name}.svg"
            app.save_screenshot(filename=path.name, path=str(OUT))
            made.append(path)
    return made


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--run-dir", type=Path)
    opts = p.parse_args()
    OUT.mkdir(exist_ok=True)
    run_dir = opts.run_dir or Path(tempfile.mkdtemp(prefix="tfmon-shots-")) / "run"
    if not (run_dir / "events.jsonl").exists():
        record(run_dir)
    for path in asyncio.run(shoot(run_dir)):
        print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
