"""What the supervising parent (tfmon.supervisor) costs: start-up, CPU and memory.

    .venv/bin/python benchmarks/supervisor_cost.py [--rounds N] [--json FILE]

The fork itself: in a process that has imported what the ``tfmon`` command has
when it forks (``tfmon.cli``), the milliseconds from calling
``supervisor.supervise()`` to the child running on, and from the child's exit to
the parent's return (one clock: CLOCK_MONOTONIC is system-wide); 20 times each.

Start-up: ``benchmarks/tfmon_launch.py --headless`` on a script that returns
at once, with and without the parent (``TFMON_BENCH_SUPERVISED``), alternated
round by round. From the run's own marks: seconds from the launcher's start to
``LiveRun.prepare`` (the fork, when there is one, lies in between), and the
whole command's wall time; printed as medians and the paired ratio.

While training: ``python -m tfmon --headless`` on the tiny MLP (benchmarks/scripts);
the parent's CPU seconds (psutil, from just after the fork to the
child's end) and its unique memory (USS: what it does not share with the child).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from stats import median  # noqa: E402

LAUNCH = HERE / "tfmon_launch.py"
TRAIN = HERE / "scripts" / "tiny_mlp.py"


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.update(extra)
    return env


FORK_PROBE = """
import sys, time
from tfmon import cli, supervisor
t0 = time.monotonic()
code = supervisor.supervise()
if code is None:
    t1 = time.monotonic()
    supervisor.report("ended")
    print(f"child {(t1 - t0) * 1000:.3f}", flush=True)
    print(f"exit {time.monotonic():.6f}", flush=True)
    sys.exit(0)
print(f"parent {time.monotonic():.6f}", flush=True)
"""


def fork_cost(times: int = 20) -> dict:
    to_child, to_parent = [], []
    for _ in range(times):
        out = subprocess.run([sys.executable, "-c", FORK_PROBE], env=_env(), capture_output=True, text=True, check=True).stdout
        got = dict(line.split() for line in out.splitlines())
        to_child.append(float(got["child"]))
        to_parent.append((float(got["parent"]) - float(got["exit"])) * 1000)
    return {"fork_to_child_ms": median(to_child), "child_exit_to_parent_ms": median(to_parent)}


def start_up(supervised: bool, workdir: Path) -> dict:
    script = workdir / "noop.py"
    script.write_text("pass\n")
    out = workdir / f"marks-{supervised}-{time.time_ns()}.json"
    env = _env(TFMON_BENCH_OUT=str(out), TFMON_BENCH_SUPERVISED="1" if supervised else "0")
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, str(LAUNCH), "--headless", "--no-placement", "--sample-interval", "0",
         "--run-dir", str(workdir / f"run-{time.time_ns()}"), str(script)],
        env=env, cwd=workdir, check=True, capture_output=True,
    )
    wall = time.perf_counter() - started
    marks = json.loads(out.read_text())["marks"]
    return {"to_prepare_s": marks["prepare_start"] - marks["launcher"], "wall_s": wall}


def while_training(workdir: Path) -> dict:
    import psutil

    cmd = [sys.executable, "-m", "tfmon", "--headless", "--run-dir", str(workdir / "train"), str(TRAIN)]
    parent = subprocess.Popen(cmd, env=_env(), cwd=workdir,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proc = psutil.Process(parent.pid)
    while not proc.children():
        time.sleep(0.01)
    child = proc.children()[0]
    cpu_at_fork = sum(proc.cpu_times()[:2])
    uss = []
    while parent.poll() is None:
        try:
            uss.append(proc.memory_full_info().uss)
            child_cpu = sum(child.cpu_times()[:2])
            parent_cpu = sum(proc.cpu_times()[:2]) - cpu_at_fork
        except psutil.NoSuchProcess:
            break
        time.sleep(0.5)
    return {"parent_cpu_s": parent_cpu, "child_cpu_s": child_cpu, "parent_uss_mb": max(uss) / 2**20, "exit": parent.returncode}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--json", type=Path)
    opts = p.parse_args()
    fork = fork_cost()
    print(
        f"fork: {fork['fork_to_child_ms']:.2f} ms from supervise() to the child running; "
        f"{fork['child_exit_to_parent_ms']:.2f} ms from the child's exit to the parent's return (medians of 20)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rounds = []
        for _ in range(opts.rounds):
            rounds.append({"plain": start_up(False, work), "supervised": start_up(True, work)})
        training = while_training(work)
    result = {"fork": fork, "rounds": rounds, "training": training}
    for key in ("to_prepare_s", "wall_s"):
        plain = median(r["plain"][key] for r in rounds)
        sup = median(r["supervised"][key] for r in rounds)
        paired = median(r["supervised"][key] / r["plain"][key] for r in rounds)
        delta = median(r["supervised"][key] - r["plain"][key] for r in rounds)
        print(f"{key:13s} plain {plain:.3f} s  supervised {sup:.3f} s  paired ratio {paired:.3f}  paired delta {delta * 1000:+.1f} ms")
    print(
        f"while training: parent CPU {training['parent_cpu_s']:.3f} s against the run's {training['child_cpu_s']:.1f} s, "
        f"parent USS {training['parent_uss_mb']:.1f} MB"
    )
    if opts.json:
        opts.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
