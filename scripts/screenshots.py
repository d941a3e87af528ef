"""Make the README's screenshots from real runs: train headless, replay in the app.

    .venv/bin/python scripts/screenshots.py [--run-dir DIR] [--only NAME ...]   # reuses DIR if it holds a run

Writes SVGs into screenshots/: the demo's whole app at 200x60 and each pane at 80x24, and
the verdict ("why is it slow?") of tests/scripts/verdict_cases.py's slow input pipeline
(recorded into DIR-verdict) at 80x24, and the GPU views (placement by layer, fallbacks, the
memory pane's TF allocator row) of tests/scripts/simgpu_mlp.py on the simulated GPU of
tests/simgpu, a test PluggableDevice (recorded into DIR-simgpu with .venv-simgpu, made by
scripts/setup-simgpu.sh; skipped with a note where it or a C compiler is missing).
``--only`` makes just the shots named.
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


DEMO = ["demo", "--epochs", "6", "--samples", "8000"]
VERDICT = [str(ROOT / "tests" / "scripts" / "verdict_cases.py"), "input"]
DEMO_SHOTS = [("overview-200x60", (200, 60), None, ())] + [
    (f"{name}-80x24", (80, 24), name, ()) for name in ("metrics", "placement", "fallbacks", "memory", "log")
] + [("placement-by-layer-80x24", (80, 24), "placement", ("b",))]
VERDICT_SHOTS = [("verdict-80x24", (80, 24), "fallbacks", ())]
SIMGPU = [str(ROOT / "tests" / "scripts" / "simgpu_mlp.py"), "{run_dir}/history.json",
          "--epochs", "6", "--samples", "4096", "--width", "256"]
SIMGPU_SHOTS = [("simgpu-placement-by-layer-120x30", (120, 30), "placement", ("m", "b")),
                ("simgpu-fallbacks-120x30", (120, 30), "fallbacks", ("m",)),
                ("simgpu-memory-80x24", (80, 24), "memory", ())]


def simgpu() -> tuple[str, dict] | None:
    """The Python and environment of a run on the simulated GPU, or None (with why)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from simgpu import plugin

    python = plugin.VENV_PYTHON
    if plugin.compiler() is None or not python.exists():
        print(f"simgpu shots skipped: {plugin.NO_COMPILER if python.exists() else 'no .venv-simgpu'} "
              "(bash scripts/setup-simgpu.sh)", file=sys.stderr)
        return None
    env = plugin.env(plugin.build(str(python)))
    env["PYTHONPATH"] = str(ROOT / "src")
    return str(python), env


def record(run_dir: Path, args: list[str], python: str = sys.executable, env: dict | None = None) -> None:
    if (run_dir / "events.jsonl").exists():
        return
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    args = [a.format(run_dir=run_dir.parent) for a in args]
    cmd = [python, "-m", "tfmon", "--headless", "--run-dir", str(run_dir), *args]
    subprocess.run(cmd, check=True, cwd=ROOT, env=env)


async def shoot(run_dir: Path, shots: list) -> list[Path]:
    from tfmon.ui.app import TfmonApp
    from tfmon.ui.sources import ReplaySource

    made = []
    for name, size, pane, keys in shots:
        app = TfmonApp(ReplaySource(run_dir))
        async with app.run_test(size=size) as pilot:
            await pilot.pause(0.5)
            if pane:
                app.action_show_pane(pane)
                await pilot.pause(1.0)  # a pane's rows mount after it shows: 0.3 s was not always enough
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
    p.add_argument("--only", nargs="+", metavar="NAME", help="these shots only (e.g. verdict-80x24)")
    opts = p.parse_args()
    OUT.mkdir(exist_ok=True)
    run_dir = opts.run_dir or Path(tempfile.mkdtemp(prefix="tfmon-shots-")) / "run"
    runs = [(run_dir, DEMO, DEMO_SHOTS, None), (run_dir.with_name(run_dir.name + "-verdict"), VERDICT, VERDICT_SHOTS, None),
            (run_dir.with_name(run_dir.name + "-simgpu"), SIMGPU, SIMGPU_SHOTS, simgpu)]
    for folder, args, shots, where in runs:
        shots = [shot for shot in shots if not opts.only or shot[0] in opts.only]
        if not shots:
            continue
        if where is None:
            record(folder, args)
        else:
            found = where()
            if found is None:
                continue
            record(folder, args, *found)
        for path in asyncio.run(shoot(folder, shots)):
            print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
