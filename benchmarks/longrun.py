"""A week of training, simulated at an accelerated rate: what it leaves on disk, how fast
replay and attach open it, whether memory stays flat, and what placement monitoring
costs an eager loop.

    .venv/bin/python benchmarks/longrun.py [--days 7] [--quick] [--sections disk,open,memory,eager]

Sections (each prints its numbers; every child process is fresh, for its RSS):

- ``disk``: ``benchmarks/synthetic_run.py`` emits a week of events at the highest rates
  tfmon's probes emit (a ``batch`` event per 0.1 s, an eager ``placement`` event per
  20 ms, a memory sample per 0.5 s, ...) into the real ``Recorder`` (thinning included),
  with simulated time; and the real placement parser and ``output.log`` writer
  (``PlacementProbe.classify`` + ``OutputLog``, what ``OutputSink.lines`` runs) are fed a
  week of real eager ``Executing op`` lines at ``--eager-lines`` per simulated second (the
  demo CNN prints ~120/s), plus a line the script prints per epoch. Bytes per simulated day.
- ``open``: ``tfmon replay`` and ``tfmon attach`` of that 7-day run dir in the real app
  (Textual's headless test driver, 120x40): time to the first frame and to the final state
  on screen, peak RSS; beside the way they opened runs before (``read_events``: every
  event read and folded), on the same file.
- ``memory``: the live app fed the simulated week (every ``--ui-every``-th hot event, all
  the others) and a headless run's recorder + printer + output.log fed all of it: RSS
  after the first simulated day and at the end.
- ``eager``: an eager GradientTape loop (benchmarks/scripts/eager_tape.py) under plain
  python, with TensorFlow's placement logging to /dev/null, and under ``tfmon --headless``
  (fresh processes, alternated, median of ``--repeats``): the loop's own time.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from benchmarks import synthetic_run  # noqa: E402

DAY = synthetic_run.DAY
EAGER_FIXTURE = ROOT / "tests/fixtures/tf-logs/tf2.21.0-cpu-linux-eager-and-graph.stderr.log"
FIT_FIXTURE = ROOT / "tests/fixtures/tf-logs/tf2.21.0-keras3.15.1-cpu-linux-fit"


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- disk --------------------------------------------------------------------------


def record_week(run_dir: Path, days: float, every: float = 1.0) -> dict:
    """The synthetic week through the real recorder; events.jsonl size at each day's end."""
    from tfmon.bus import EventBus
    from tfmon.recorder import EVENTS_FILE, Recorder

    run_dir.mkdir(parents=True, exist_ok=True)
    rec = Recorder(EventBus(), run_dir)  # not started: fed here, in simulated time
    path = run_dir / EVENTS_FILE
    start, sizes, batch, emitted = None, [], [], 0
    t0 = time.perf_counter()
    for e in synthetic_run.events(days=days, every=every):
        start = start if start is not None else e["t"]
        batch.append(e)
        if len(batch) >= 2000:
            rec.record(batch, now=e["t"])
            emitted += len(batch)
            batch = []
            if e["t"] - start >= (len(sizes) + 1) * DAY:
                sizes.append(path.stat().st_size)
    rec.record(batch, now=batch[-1]["t"] if batch else 0.0)
    emitted += len(batch)
    rec.stop()
    sizes.append(path.stat().st_size)
    return {"emitted": emitted, "written": rec.written, "sizes": sizes, "seconds": time.perf_counter() - t0}


def _eager_chunks(lines_per_chunk: int, variants: int = 16) -> list[list[str]]:
    """Real eager lines, cycled, with a different timestamp in each variant (as TF prints them)."""
    step = [l for l in EAGER_FIXTURE.read_text().splitlines() if "Executing op" in l]
    chunks = []
    for v in range(variants):
        stamp = f"I0000 00:00:{1800000000 + v}.{v:06d}"
        lines = [re.sub(r"^I0000 00:00:\d+\.\d+", stamp, step[i % len(step)]) for i in range(lines_per_chunk)]
        chunks.append(lines)
    return chunks


def output_log_week(run_dir: Path, days: float, lines_per_s: float, chunk: int = 64) -> dict:
    """The real parser and output.log writer fed ``days`` of eager lines; output.log size per day."""
    from tfmon.placement import PlacementProbe
    from tfmon.placement.rules import static_registry
    from tfmon.probes.outputlog import OutputLog

    sim = [0.0]
    probe = PlacementProbe(lambda *a, **k: None, registry=static_registry({}))
    log = OutputLog(run_dir / "output.log", clock=lambda: sim[0])
    for name in ("stdout", "stderr"):  # a fit's start: graph placement, banners, warnings
        lines = (FIT_FIXTURE.parent / f"{FIT_FIXTURE.name}.{name}.log").read_text().splitlines()
        log.write(lines, probe.classify(name, lines))
        probe.flush()
    chunks = _eager_chunks(chunk)
    per_chunk_s = chunk / lines_per_s
    n_chunks = int(days * DAY / per_chunk_s)
    sizes, lines, busy = [], 0, 0.0
    next_print = 600.0
    for i in range(n_chunks):
        sim[0] = i * per_chunk_s
        batch = chunks[i % len(chunks)]
        t = time.perf_counter()
        log.write(batch, probe.classify("stderr", batch))
        probe.flush()
        busy += time.perf_counter() - t
        lines += len(batch)
        if sim[0] >= next_print:  # the script prints a line per epoch
            next_print += 600.0
            log.write([f"epoch {int(sim[0] // 600)}: loss 0.1234, accuracy 0.987"], [None])
        if sim[0] >= (len(sizes) + 1) * DAY:
            sizes.append(log.path.stat().st_size)
    log.close()
    sizes.append(log.path.stat().st_size)
    return {"lines": lines, "sizes": sizes, "us_per_line": busy / lines * 1e6}


def parse_cost_before(lines: int = 200_000) -> float:
    """µs per eager line on the path before (regex per line, every line written out)."""
    from tfmon.tflog import parse_line

    chunks = _eager_chunks(64)
    with open(os.devnull, "w") as out:
        t = time.perf_counter()
        for i in range(lines // 64):
            batch = chunks[i % len(chunks)]
            out.write("".join(l + "\n" for l in batch))
            for line in batch:
                parse_line(line)
        return (time.perf_counter() - t) / lines * 1e6


def section_disk(args, work: Path) -> Path:
    run = work / "week"
    rec = record_week(run, args.days, every=args.every)
    out = output_log_week(run, args.days, args.eager_lines)
    days = len(rec["sizes"])
    print(f"\n## disk: {args.days:g} simulated days ({rec['emitted']:,} events emitted, "
          f"{rec['written']:,} written; simulated in {rec['seconds']:.0f} s)")
    print("| day | events.jsonl | +that day | output.log | +that day |")
    print("|---:|---:|---:|---:|---:|")
    prev_e = prev_o = 0
    for d in range(days):
        e, o = rec["sizes"][d], out["sizes"][min(d, len(out["sizes"]) - 1)]
        print(f"| {d + 1} | {_mb(e)} | {_mb(e - prev_e)} | {_mb(o)} | {_mb(o - prev_o)} |")
        prev_e, prev_o = e, o
    total = sum(p.stat().st_size for p in run.iterdir())
    print(f"run dir: {_mb(total)} in all, {_mb(total / args.days)} per simulated day on average, "
          f"most in one day {_mb(max(b - a for a, b in zip([0] + rec['sizes'], rec['sizes'])) + out['sizes'][0])}")
    before = parse_cost_before()
    print(f"output.log fed {out['lines']:,} eager lines ({args.eager_lines:g}/s); parse + write "
          f"{out['us_per_line']:.2f} µs per line (before: regex + every line written, {before:.2f} µs: "
          f"x{out['us_per_line'] / before:.2f})")
    return run


# -- open ---------------------------------------------------------------------------

CHILD_OPEN = r"""
import asyncio, json, resource, sys, time
t0 = time.perf_counter()
sys.path.insert(0, sys.argv[3])
mode, run = sys.argv[1], sys.argv[2]
from tfmon.ui.app import TfmonApp
from tfmon.ui import sources
if mode == "replay":
    source = sources.ReplaySource(run)
elif mode == "attach":
    source = sources.AttachSource(run)
else:  # "replay-before": every event read, as tfmon replay did before
    from tfmon.recorder import read_events
    source = sources.ReplaySource(run, events=read_events(run))

async def main():
    app = TfmonApp(source)
    async with app.run_test(size=(120, 40)) as pilot:
        while app.first_frame_at is None:
            await asyncio.sleep(0.005)
        first = time.perf_counter()
        while not app._final_drawn:
            await asyncio.sleep(0.01)
        await pilot.pause()
        final = time.perf_counter()
        header = str(app.query_one("#header").render())
    print(json.dumps({"first_frame_s": first - t0, "final_s": final - t0,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "epochs": app.state.metrics.rows_total, "header": header[:200]}))

asyncio.run(main())
"""


def open_once(mode: str, run: Path) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD_OPEN, mode, str(run), str(ROOT / "src")],
                          capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def section_open(args, run: Path) -> None:
    size = (run / "events.jsonl").stat().st_size
    print(f"\n## open: the {args.days:g}-day run dir ({_mb(size)} of events.jsonl), median of {args.repeats}")
    print("| how | first frame s | final state s | peak RSS MB | epochs shown |")
    print("|---|---:|---:|---:|---:|")
    modes = ["replay", "attach"] + ([] if args.quick else ["replay-before"])
    # The app's own start, on a 3-epoch recording: what any replay costs on this machine now.
    baseline = ("replay 3 epochs", ROOT / "tests/fixtures/runs/demo-3-epochs")
    results = {m: [] for m in [baseline[0], *modes]}
    for _ in range(args.repeats):
        results[baseline[0]].append(open_once("replay", baseline[1]))
        for m in modes:
            results[m].append(open_once(m, run))
    for m in results:
        ok = [r for r in results[m] if "error" not in r]
        if not ok:
            print(f"| {m} | failed: {results[m][0]['error']} | | | |")
            continue
        med = {k: statistics.median(r[k] for r in ok) for k in ("first_frame_s", "final_s", "peak_rss_mb")}
        print(f"| {m} | {med['first_frame_s']:.2f} | {med['final_s']:.2f} | {med['peak_rss_mb']:.0f} | {ok[0]['epochs']} |")


# -- memory -------------------------------------------------------------------------

CHILD_MEMORY = r"""
import asyncio, json, os, sys, time
sys.path.insert(0, sys.argv[3]); sys.path.insert(0, sys.argv[4])
mode, days, every = sys.argv[1], float(sys.argv[2]), float(sys.argv[5])
from benchmarks import synthetic_run
from benchmarks.longrun import _rss_mb, _eager_chunks
DAY = synthetic_run.DAY
samples = []

def mark(t, start):
    if t - start >= (len(samples) + 1) * DAY:
        samples.append(_rss_mb())

if mode == "ui":
    from tfmon.ui.app import TfmonApp
    class WeekSource:
        live = can_control = attached = False
        def __init__(self):
            self.events = synthetic_run.events(days=days, every=every)
            self.done = False
        def drain(self):
            out = []
            for e in self.events:
                out.append(e)
                if len(out) >= 20000:
                    break
            else:
                self.done = True
            return out
        def send(self, action):
            pass
    async def main():
        source = WeekSource()
        app = TfmonApp(source)
        async with app.run_test(size=(120, 40)) as pilot:
            start = None
            while not source.done:
                await asyncio.sleep(0.02)
                t = app.state.info.last_t
                if t is not None:
                    start = start or app.state.info.started or t
                    mark(t, start)
            await pilot.pause(0.5)
        samples.append(_rss_mb())
    asyncio.run(main())
else:  # headless: the recorder, the printer and output.log, fed the week
    import tempfile
    from tfmon.bus import EventBus
    from tfmon.headless import Printer
    from tfmon.placement import PlacementProbe
    from tfmon.placement.rules import static_registry
    from tfmon.probes.outputlog import OutputLog
    from tfmon.recorder import Recorder
    work = tempfile.mkdtemp()
    bus = EventBus()
    rec = Recorder(bus, work)
    printer = Printer(bus.subscribe(), open(os.devnull, "w"))
    probe = PlacementProbe(bus.emit, registry=static_registry({}))
    log = OutputLog(os.path.join(work, "output.log"))
    chunks = _eager_chunks(64)
    start = None
    for i, e in enumerate(synthetic_run.events(days=days, every=every)):
        bus.publish(e)
        if i % 5000 == 0:
            start = start or e["t"]
            rec.record(rec._sub.drain(), now=e["t"])
            printer._print(printer._sub.drain())
            lines = chunks[i // 5000 % len(chunks)]
            log.write(lines, probe.classify("stderr", lines))
            probe.flush()
            mark(e["t"], start)
    rec.stop(); log.close()
    samples.append(_rss_mb())
print(json.dumps(samples))
"""


def section_memory(args) -> None:
    print(f"\n## memory over {args.days:g} simulated days (RSS MB at the end of each day, then at the end)")
    for mode, every in (("ui", args.ui_every), ("headless", args.every)):
        proc = subprocess.run([sys.executable, "-c", CHILD_MEMORY, mode, str(args.days), str(ROOT / "src"), str(ROOT), str(every)],
                              capture_output=True, text=True, timeout=3600)
        if proc.returncode != 0:
            print(f"{mode}: failed: {proc.stderr.strip()[-500:]}")
            continue
        rss = json.loads(proc.stdout.strip().splitlines()[-1])
        growth = rss[-1] - rss[0]
        print(f"{mode} (every {every:g}th hot event): " + " ".join(f"{r:.0f}" for r in rss)
              + f"  -> {growth:+.1f} MB from day 1 to the end")


# -- eager --------------------------------------------------------------------------

TF_LOGGING = r"""
import runpy, sys
import tensorflow as tf
tf.debugging.set_log_device_placement(True)
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def eager_once(variant: str, steps: int, work: Path, i: int, before_src: Path | None = None) -> dict:
    """One fresh process: the loop's time (inside the script), the process's CPU time,
    and under tfmon the CPU time of its fd reader threads (what parses the lines)."""
    script = ROOT / "benchmarks/scripts/eager_tape.py"
    out = work / f"eager-{variant}-{i}.json"
    threads = work / f"eager-{variant}-{i}.threads.json"
    src = before_src if variant == "tfmon-before" else ROOT / "src"
    env = dict(os.environ, PYTHONPATH=str(src), TFMON_BENCH_OUT=str(threads))
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    args = [str(script), str(steps), str(out)]
    if variant == "plain":
        cmd = [sys.executable, *args]
    elif variant == "tf-logging":
        env["TF_CPP_MIN_LOG_LEVEL"] = "0"
        cmd = [sys.executable, "-c", TF_LOGGING, *args]
    else:
        extra = ["--raw-log"] if variant == "tfmon-raw-log" else []
        cmd = [sys.executable, str(ROOT / "benchmarks/tfmon_launch.py"), "--headless", *extra,
               "--run-dir", str(work / f"run-{variant}-{i}"), *args]
    with open(os.devnull, "w") as null:
        proc = subprocess.Popen(cmd, stdout=null, stderr=null, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"eager {variant}: exit {os.waitstatus_to_exitcode(status)}")
    result = {"loop_s": json.loads(out.read_text())["loop_s"], "cpu_s": usage.ru_utime + usage.ru_stime}
    if threads.exists():
        record = json.loads(threads.read_text())["threads"]
        result["readers_cpu_s"] = sum(t["cpu_s"] or 0 for t in record if t["name"] in ("tfmon-fd1", "tfmon-fd2"))
        result["tfmon_cpu_s"] = sum(t["cpu_s"] or 0 for t in record if not t["main"] and not t["job"])
    return result


def section_eager(args, work: Path) -> None:
    variants = ["plain", "tf-logging", "tfmon-headless", "tfmon-raw-log"]
    if args.before_src:
        variants.append("tfmon-before")
    runs = {v: [] for v in variants}
    for r in range(args.repeats):
        for v in variants[r % len(variants):] + variants[: r % len(variants)]:
            runs[v].append(eager_once(v, args.eager_steps, work, r, args.before_src))
    med = {v: {k: statistics.median(x[k] for x in rs) for k in rs[0]} for v, rs in runs.items()}
    lines = args.eager_steps * 16
    print(f"\n## eager GradientTape loop, {args.eager_steps} steps ({lines:,} eager lines), median of {args.repeats}")
    print("| variant | loop s | x plain | x tf-logging | process CPU s | x tf-logging | tfmon threads CPU s | fd readers CPU s | µs per line |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for v in variants:
        m = med[v]
        readers = m.get("readers_cpu_s")
        extra = (f"{m['tfmon_cpu_s']:.2f} | {readers:.2f} | {readers / lines * 1e6:.1f}"
                 if readers is not None else "- | - | -")
        print(f"| {v} | {m['loop_s']:.2f} | {m['loop_s'] / med['plain']['loop_s']:.3f} | "
              f"{m['loop_s'] / med['tf-logging']['loop_s']:.3f} | {m['cpu_s']:.2f} | "
              f"{m['cpu_s'] / med['tf-logging']['cpu_s']:.3f} | {extra} |")
    print("loop s per run: " + "; ".join(f"{v} " + " ".join(f"{x['loop_s']:.2f}" for x in rs) for v, rs in runs.items()))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--days", type=float, default=7.0)
    p.add_argument("--quick", action="store_true", help="1 simulated day, 1 repeat, fewer eager steps")
    p.add_argument("--sections", default="disk,open,memory,eager")
    p.add_argument("--every", type=float, default=1.0, help="scale the hot event rates down (synthetic_run)")
    p.add_argument("--ui-every", type=float, default=10.0, help="the same, for the live app's memory run")
    p.add_argument("--eager-lines", type=float, default=120.0, help="eager lines per simulated second for output.log")
    p.add_argument("--eager-steps", type=int, default=3000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--before-src", type=Path, help="also run tfmon from this src/ (an older checkout): variant tfmon-before")
    p.add_argument("--out", type=Path, help="keep the run dir here (default: a temporary folder)")
    args = p.parse_args()
    if args.quick:
        args.days, args.repeats, args.eager_steps, args.every = 1.0, 1, 1000, 5.0
    sections = args.sections.split(",")
    work = args.out or Path(tempfile.mkdtemp(prefix="tfmon-longrun-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"# longrun: {args.days:g} simulated days; work dir {work}")
    run = work / "week"
    if "disk" in sections or not (run / "events.jsonl").exists():
        run = section_disk(args, work)
    if "open" in sections:
        section_open(args, run)
    if "memory" in sections:
        section_memory(args)
    if "eager" in sections:
        section_eager(args, work)


if __name__ == "__main__":
    main()
