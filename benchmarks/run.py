"""tfmon's benchmarks, one entry point.

    .venv/bin/python benchmarks/run.py --quick          # a few minutes on 2 cores
    .venv/bin/python benchmarks/run.py                  # the full run (see README for its duration)
    .venv/bin/python benchmarks/run.py --sections overhead --scripts tiny_mlp --repeats 5

Sections (all by default):
- overhead: the training scripts under every variant (plain python, Keras
  verbose=1/2, TensorBoard update_freq="batch", tfmon headless / full UI /
  --no-placement / --sample-interval 0), alternated, a table of medians and
  ratios against plain per script, the time to the UI's first frame, and the
  issue's aims checked (benchmarks/overhead.py);
- control: pause delay and checkpoint time from a real run's events
  (benchmarks/control_delay.py);
- ui: the app fed synthetic events at rising rates (benchmarks/ui_throughput.py);
- parser, sampler: the placement parser's and the memory sampler's own
  benchmarks, when they exist (benchmarks/placement_parser.py, memory_sampler.py).

Everything measured goes to OUT/results.json and the printed report to OUT/report.md.
``--experiment NAME=SPEC`` adds variants tfmon-headless+NAME and tfmon-ui+NAME that
run with a fix emulated in benchmarks/tfmon_launch.py (e.g. ``fix=switch=0.001,static_nolayout``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from benchmarks import overhead  # noqa: E402

SECTIONS = ("overhead", "control", "ui", "parser", "sampler")
QUICK_REPEATS, FULL_REPEATS = 2, 5


def machine() -> dict:
    info = {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), None)
    except OSError:
        pass
    try:
        import psutil

        info["memory_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        pass
    try:
        out = subprocess.run([sys.executable, "-c", "import tensorflow as tf, keras, textual; print(tf.__version__, keras.__version__, textual.__version__)"],
                             capture_output=True, text=True, timeout=120).stdout.split()
        info.update(tensorflow=out[0], keras=out[1], textual=out[2])
    except (subprocess.SubprocessError, IndexError, OSError):
        pass
    try:  # the tree measured: other work may be uncommitted in it
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "src"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
        info["commit"] = rev + (" + uncommitted changes in src/" if dirty else "")
    except OSError:
        pass
    info["load_before"] = os.getloadavg()
    return info


def _helper(script: str, args: list[str], log) -> str | None:
    path = HERE / script
    if not path.exists():
        return None
    proc = subprocess.run([sys.executable, str(path), *args], capture_output=True, text=True, cwd=ROOT)
    text = proc.stdout.strip()
    if proc.returncode != 0:
        text += f"\n({script} exited {proc.returncode}: {proc.stderr.strip()[-500:]})"
    return text


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="tfmon's benchmarks")
    p.add_argument("--quick", action="store_true", help=f"smaller data, {QUICK_REPEATS} repeats, short UI phases")
    p.add_argument("--repeats", type=int, help=f"rounds of the overhead section (default {QUICK_REPEATS} quick, {FULL_REPEATS} full)")
    p.add_argument("--sections", default=",".join(SECTIONS), help="comma-separated, from: " + ", ".join(SECTIONS))
    p.add_argument("--scripts", default=",".join(overhead.SCRIPTS), help="comma-separated, from: " + ", ".join(overhead.SCRIPTS))
    p.add_argument("--variants", default=None, help="comma-separated (default all): " + ", ".join(overhead.VARIANTS))
    p.add_argument("--experiment", action="append", default=[], metavar="NAME=SPEC", help="extra variants with an emulated fix")
    p.add_argument("--out", type=Path, help="folder for results.json and report.md (default: a new temporary folder)")
    opts = p.parse_args(argv)

    sections = [s for s in opts.sections.split(",") if s]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        p.error(f"unknown sections: {', '.join(sorted(unknown))}")
    variants = opts.variants.split(",") if opts.variants else list(overhead.VARIANTS)
    for spec in opts.experiment:
        name, _, value = spec.partition("=")
        if not value:
            p.error(f"--experiment wants NAME=SPEC, got {spec!r}")
        variants += overhead.add_experiment(name, value)
    scripts = [s for s in opts.scripts.split(",") if s]
    bad = [v for v in variants if v not in overhead.VARIANTS] + [s for s in scripts if s not in overhead.SCRIPTS]
    if bad:
        p.error(f"unknown variants or scripts: {', '.join(bad)}")
    if "plain" not in variants:
        variants.insert(0, "plain")  # the baseline every ratio needs
    out = opts.out or Path(tempfile.mkdtemp(prefix="tfmon-bench-"))
    out.mkdir(parents=True, exist_ok=True)
    repeats = opts.repeats or (QUICK_REPEATS if opts.quick else FULL_REPEATS)

    report: list[str] = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        report.append(text)

    started = time.monotonic()
    results: dict = {"machine": machine(), "quick": opts.quick, "repeats": repeats}
    m = results["machine"]
    say(f"# tfmon benchmarks ({'quick' if opts.quick else 'full'} run)")
    say(f"machine: {m.get('cpu')}, {m.get('cpus')} cores, {m.get('memory_gb')} GB; {m.get('platform')}; "
        f"Python {m.get('python')}, TensorFlow {m.get('tensorflow')}, Keras {m.get('keras')}, Textual {m.get('textual')}; "
        f"tfmon at {m.get('commit')}; load average before: {', '.join(f'{x:.2f}' for x in m['load_before'])}")

    if "overhead" in sections:
        say(f"\n## Overhead: {len(scripts)} scripts x {len(variants)} variants x {repeats} rounds, alternated")
        runs = overhead.run_all(sys.executable, scripts, variants, repeats, opts.quick, out / "work",
                                log=lambda line: print("  " + line, flush=True))
        results["overhead"] = runs
        say(overhead.report(runs, variants))
        frames = overhead.first_frame_report(runs)
        if frames:
            say("\nTime to first frame (full UI, 120x40 pty):\n" + frames)
        say("\nAims (issue #7):\n" + overhead.aims_report(runs))
    if "control" in sections:
        say("\n## Control: pause delay and checkpoint time (demo CNN)")
        path = out / "control.json"
        text = _helper("control_delay.py", ["--json", str(path)], say)
        say(text or "(control_delay.py missing)")
        if path.exists():
            results["control"] = json.loads(path.read_text())
    if "ui" in sections:
        say("\n## UI throughput")
        path = out / "ui.json"
        text = _helper("ui_throughput.py", (["--quick"] if opts.quick else []) + ["--json", str(path)], say)
        say(text or "(ui_throughput.py missing)")
        if path.exists():
            results["ui"] = json.loads(path.read_text())
    if "parser" in sections:
        text = _helper("placement_parser.py", [], say)
        if text:
            say("\n## Placement parser\n" + text)
    if "sampler" in sections:
        text = _helper("memory_sampler.py", ["--pairs", "2"] if opts.quick else [], say)
        if text:
            say("\n## Memory sampler\n" + text)

    elapsed = time.monotonic() - started
    results["seconds"] = elapsed
    results["machine"]["load_after"] = os.getloadavg()
    say(f"\n{elapsed / 60:.1f} minutes; load average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    (out / "results.json").write_text(json.dumps(results, indent=1, default=str))
    (out / "report.md").write_text("\n".join(report) + "\n")
    print(f"results: {out / 'results.json'}  report: {out / 'report.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
