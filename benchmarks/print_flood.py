"""What a script that prints a lot of tiny flushed pieces pays under tfmon: dots printed
with ``print('.', end='', flush=True)`` and a bar redrawn with ``\\r`` (tqdm's way).

Each variant runs the same child in a fresh process, alternated round by round:
  * plain:  ``python child.py`` (stdout and stderr to pipes, drained);
  * tfmon:  ``tfmon --headless`` from this tree;
  * before: ``tfmon --headless`` from another source tree (``--before-src``), e.g. a
            worktree of an older commit, for a before/after in one run.
The child times its own printing loops; reported: the median seconds, the median of
the per-round ratios to plain, and how many ``log`` events the run recorded.

    .venv/bin/python benchmarks/print_flood.py [--dots 320000] [--steps 20000] [--rounds 3] [--before-src DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.stats import fmt, median, table  # noqa: E402

CHILD = r"""
import json, sys, time
dots, steps, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
start = time.perf_counter()
for _ in range(dots):
    print(".", end="", flush=True)
print()
dots_s = time.perf_counter() - start
start = time.perf_counter()
for i in range(steps + 1):
    sys.stderr.write(f"\r{i * 100 // steps:3d}%| {i}/{steps}")
    sys.stderr.flush()
sys.stderr.write("\n")
bar_s = time.perf_counter() - start
json.dump({"dots_s": dots_s, "bar_s": bar_s}, open(out, "w"))
"""


def one(variant: str, src: Path | None, child: Path, args: argparse.Namespace, tmp: Path, n: int) -> dict:
    results = tmp / f"{variant}-{n}.json"
    env = dict(os.environ)
    if variant == "plain":
        cmd = [sys.executable, str(child)]
    else:
        env["PYTHONPATH"] = str(src)
        run_dir = tmp / f"run-{variant}-{n}"
        cmd = [sys.executable, "-m", "tfmon", "--headless", "--no-placement", "--sample-interval", "0",
               "--run-dir", str(run_dir), str(child)]
    cmd += [str(args.dots), str(args.steps), str(results)]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=1800)
    row = {"variant": variant, "ok": proc.returncode == 0, **(json.loads(results.read_text()) if results.exists() else {})}
    if variant != "plain" and (run_dir / "events.jsonl").exists():
        row["log_events"] = sum(1 for line in open(run_dir / "events.jsonl") if '"type":"log"' in line)
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dots", type=int, default=320_000)
    p.add_argument("--steps", type=int, default=20_000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--before-src", type=Path, help="a source tree (its src/ folder) to compare with")
    args = p.parse_args()
    variants = {"plain": None, "tfmon": ROOT / "src"}
    if args.before_src:
        variants["before"] = args.before_src.resolve()
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        child = tmp / "child.py"
        child.write_text(CHILD)
        for n in range(args.rounds):
            round_rows = {v: one(v, src, child, args, tmp, n) for v, src in variants.items()}
            for row in round_rows.values():
                for key in ("dots_s", "bar_s"):
                    base = round_rows["plain"].get(key)
                    row[f"{key}_ratio"] = row[key] / base if row.get(key) and base else None
                rows.append(row)
    out = []
    for v in variants:
        mine = [r for r in rows if r["variant"] == v and r["ok"]]
        out.append([
            v, f"{len(mine)}/{args.rounds}",
            fmt(median(r.get("dots_s") for r in mine), ".3f"), fmt(median(r.get("dots_s_ratio") for r in mine)),
            fmt(median(r.get("bar_s") for r in mine), ".3f"), fmt(median(r.get("bar_s_ratio") for r in mine)),
            fmt(median(r.get("log_events") for r in mine), ".0f"),
        ])
    print(f"{args.dots} flushed dots, a {args.steps}-step \\r bar; median of {args.rounds} rounds, ratios paired by round")
    print(table(["variant", "ok", "dots s", "dots x plain", "bar s", "bar x plain", "log events"], out))


if __name__ == "__main__":
    main()
