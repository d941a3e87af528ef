"""What tfmon costs a training run, beside what users would otherwise run.

Each run is a fresh process on a pseudo-terminal (drained by the harness, as a
terminal emulator would), reaped with ``os.wait4`` for its own peak RSS and
CPU time. Variants of one script alternate within each round, and the order
rotates from round to round, so drift on the machine spreads over all of them.

Measured per run:
- ``train_s``: end of the first batch to end of the last, from the script's own
  callback (benchmarks/scripts/_bench.py);
- ``train_cpu_s``: CPU time of the whole process (all threads) over that same
  span: less sensitive than wall time to other load on the machine;
- ``wall_s``: process start to exit (under the full UI, minus the wait between
  the run's end and the harness pressing ``q``);
- ``rss_mb``: peak RSS; ``cpu_s``: user+system CPU of the process;
- ``tfmon_cpu_s``: CPU of tfmon's own threads (recorder, fd readers, sampler,
  printer, control channel; under the UI also the main thread running Textual
  and Textual's input/output threads), from benchmarks/tfmon_launch.py;
- ``main_cpu_per_s``: CPU of tfmon's main thread (Textual under the UI) over the
  training span, per second of it: the UI's cost alone, steadier than the ratios;
- ``steady_s``: ``train_s`` less the epoch boundaries (each epoch's end to the
  next batch's end), reported as paired ratios to plain;
- ``epoch_gap_s``: the longest time from an epoch's end (after its validation) to
  the next batch's end: the next epoch's set-up, one batch, and any monitor's
  epoch-end work;
- under the UI: ``first_frame_s`` (process start to ``TfmonApp.first_frame_at``),
  ``screen_s`` (to the footer being visible on the pty) and ``tf_imported_s``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS_DIR = HERE / "scripts"
LAUNCH = HERE / "tfmon_launch.py"

#: script -> (quick args, full args)
SCRIPTS: dict[str, tuple[list[str], list[str]]] = {
    "demo_cnn": (["--samples", "3000", "--epochs", "2"], ["--samples", "8000", "--epochs", "4"]),
    "tiny_mlp": (["--samples", "4000", "--epochs", "2"], ["--samples", "8000", "--epochs", "3"]),
    "deep_mlp": (["--depth", "16", "--samples", "2000", "--epochs", "2"], ["--depth", "24", "--samples", "4000", "--epochs", "3"]),
}


@dataclass(frozen=True)
class Variant:
    tfmon_args: list[str] | None  # None: plain ``python script.py``
    script_args: list[str]
    #: TFMON_BENCH_EXPERIMENTS for benchmarks/tfmon_launch.py: a fix emulated before it is made
    experiments: str = ""

    @property
    def ui(self) -> bool:
        return self.tfmon_args is not None and "--headless" not in self.tfmon_args


VARIANTS: dict[str, Variant] = {
    "plain": Variant(None, ["--verbose", "0"]),
    "keras-verbose1": Variant(None, ["--verbose", "1"]),
    "keras-verbose2": Variant(None, ["--verbose", "2"]),
    "tensorboard": Variant(None, ["--verbose", "0", "--tensorboard", "{tb}"]),
    "tfmon-headless": Variant(["--headless"], ["--verbose", "0"]),
    "tfmon-ui": Variant([], ["--verbose", "0"]),
    "tfmon-no-placement": Variant(["--headless", "--no-placement"], ["--verbose", "0"]),
    "tfmon-no-sampler": Variant(["--headless", "--sample-interval", "0"], ["--verbose", "0"]),
}


def add_experiment(name: str, spec: str) -> list[str]:
    """Variants ``tfmon-headless+NAME`` and ``tfmon-ui+NAME`` running with the experiments in ``spec``."""
    added = []
    for base in ("tfmon-headless", "tfmon-ui"):
        v = VARIANTS[base]
        VARIANTS[f"{base}+{name}"] = Variant(v.tfmon_args, v.script_args, spec)
        added.append(f"{base}+{name}")
    return added

UI_WATCH = "Quit"  # in the footer: the first full frame is on the screen
COLS, ROWS = 120, 40  # wide and tall enough for every pane at once
RUN_TIMEOUT = 600.0


def build_argv(python: str, script: str, variant: str, quick: bool, work: Path, idx: int) -> tuple[list[str], dict]:
    """The command line of one run, and the paths it writes."""
    v = VARIANTS[variant]
    tfmon_args, script_args = v.tfmon_args, v.script_args
    paths = {
        "timing": work / f"{idx:03d}-timing.jsonl",
        "threads": work / f"{idx:03d}-threads.json",
        "run_dir": work / f"{idx:03d}-run",
        "tb": work / f"{idx:03d}-tb",
    }
    args = [a.replace("{tb}", str(paths["tb"])) for a in script_args]
    args += SCRIPTS[script][0 if quick else 1] + ["--bench-out", str(paths["timing"])]
    path = str(SCRIPTS_DIR / f"{script}.py")
    if tfmon_args is None:
        return [python, path, *args], paths
    return [python, str(LAUNCH), *tfmon_args, "--run-dir", str(paths["run_dir"]), path, *args], paths


def _env(paths: dict, experiments: str = "") -> dict:
    env = dict(os.environ)
    env["TFMON_BENCH_EXPERIMENTS"] = experiments
    env["TERM"] = env.get("TERM") if env.get("TERM", "dumb") not in ("dumb", "") else "xterm-256color"
    env["TFMON_BENCH_OUT"] = str(paths["threads"])
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    return env


def run_one(python: str, script: str, variant: str, quick: bool, work: Path, idx: int) -> dict:
    from benchmarks.ptyproc import PtyProcess

    argv, paths = build_argv(python, script, variant, quick, work, idx)
    ui = VARIANTS[variant].ui
    proc = PtyProcess(argv, _env(paths, VARIANTS[variant].experiments), cwd=str(work), cols=COLS, rows=ROWS, watch_for=UI_WATCH if ui else None)
    q_sent = run_end_t = None
    try:
        if ui:
            q_sent, run_end_t = _quit_when_done(proc, paths["run_dir"])
        proc.wait(RUN_TIMEOUT)
    finally:
        proc.close()
    result = {"script": script, "variant": variant, "exit_code": proc.exit_code, "argv": argv}
    usage = proc.rusage
    wall = proc.ended_at - proc.started_at
    if q_sent is not None and run_end_t is not None:
        wall -= max(0.0, q_sent - run_end_t)
    result.update(
        wall_s=wall,
        rss_mb=usage.ru_maxrss / 1024,
        cpu_s=usage.ru_utime + usage.ru_stime,
        pty_bytes=proc.bytes_read,
    )
    result.update(_timing(paths["timing"]))
    if VARIANTS[variant].tfmon_args is not None:
        result.update(_threads(paths["threads"], proc.started_at))
        result.update(_events(paths["run_dir"], proc.started_at))
    if ui:
        result["screen_s"] = proc.seen_at - proc.started_at if proc.seen_at else None
    result["ok"] = proc.exit_code == 0 and result.get("train_s") is not None
    for key in ("run_dir", "tb"):
        shutil.rmtree(paths[key], ignore_errors=True)
    return result


def _quit_when_done(proc, run_dir: Path) -> tuple[float | None, float | None]:
    """Under the full UI the app stays open at the end: press q once the run has ended."""
    from tfmon.recorder import EventFollower

    follower = EventFollower(run_dir)
    deadline = time.monotonic() + RUN_TIMEOUT
    while proc.poll() is None and time.monotonic() < deadline:
        for e in follower.poll():
            if e.get("type") == "run_end":
                time.sleep(0.3)  # let the app show the end; it is not counted in wall_s
                sent = time.time()
                proc.send("q")
                return sent, e["t"]
        time.sleep(0.05)
    return None, None


def _timing(path: Path) -> dict:
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return {}
    if not lines:
        return {}
    rec = json.loads(lines[-1])
    out = {"train_s": rec["train_s"], "train_cpu_s": rec.get("train_cpu_s"), "batches": rec["batches"]}
    if rec["batches"] > 1:
        out["batch_ms"] = 1000 * rec["train_s"] / (rec["batches"] - 1)
    out["epoch_gap_s"] = rec.get("epoch_gap_s")
    if rec.get("epoch_gaps_s") is not None:
        # Training without the epoch boundaries: TF/Keras sometimes spends 0.3-0.45 s
        # there under plain python too (bimodal), the largest noise in train_s.
        out["steady_s"] = rec["train_s"] - rec["epoch_gaps_s"]
    if rec.get("main_thread_cpu_s") is not None and rec["train_s"] > 0:
        # tfmon's main thread (the UI's, or headless output) while the script trains
        out["main_cpu_per_s"] = rec["main_thread_cpu_s"] / rec["train_s"]
    return out


def _threads(path: Path, started: float) -> dict:
    try:
        rec = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    threads = rec["threads"]
    known = sum(t["cpu_s"] or 0 for t in threads)
    own = [t for t in threads if not t["job"]]
    out = {
        "tfmon_cpu_s": sum(t["cpu_s"] or 0 for t in own),
        "job_cpu_s": sum(t["cpu_s"] or 0 for t in threads if t["job"]),
        "native_cpu_s": rec["process_cpu_s"] - known,
        "tfmon_threads": {t["name"]: round(t["cpu_s"] or 0, 4) for t in own},
    }
    if rec.get("first_frame_at"):
        out["first_frame_s"] = rec["first_frame_at"] - started
    marks = rec.get("marks") or {}
    cpu = marks.pop("main_cpu_at_first_frame", None)
    out["startup"] = {k: round(v - started, 3) for k, v in sorted(marks.items(), key=lambda kv: kv[1])}
    if cpu is not None:
        out["ui_startup_cpu_s"] = cpu
    return out


def _events(run_dir: Path, started: float) -> dict:
    from tfmon.recorder import read_events

    try:
        evs = read_events(run_dir)
    except OSError:
        return {}
    counts: dict[str, int] = {}
    out: dict = {}
    for e in evs:
        counts[e["type"]] = counts.get(e["type"], 0) + 1
        if e["type"] == "tf_imported" and "tf_imported_s" not in out:
            out["tf_imported_s"] = e["t"] - started
    out["events"] = counts
    out["events_total"] = len(evs)
    return out


def warm_up(python: str) -> None:
    """Import TensorFlow once so the first measured run does not pay for a cold page cache."""
    import subprocess

    subprocess.run([python, "-c", "import tensorflow, keras"], capture_output=True, check=False)


def run_all(python: str, scripts: list[str], variants: list[str], repeats: int, quick: bool, work: Path,
            log=print) -> list[dict]:
    work.mkdir(parents=True, exist_ok=True)
    warm_up(python)
    runs = []
    total = repeats * len(scripts) * len(variants)
    idx = 0
    for r in range(repeats):
        for script in scripts:
            k = r % len(variants)
            for variant in variants[k:] + variants[:k]:  # rotate: no variant always goes first
                idx += 1
                started = time.monotonic()
                res = run_one(python, script, variant, quick, work, idx)
                res["round"] = r
                runs.append(res)
                log(f"[{idx}/{total}] {script:9s} {variant:19s} " + _progress(res, time.monotonic() - started))
    return runs


def _progress(res: dict, seconds: float) -> str:
    if not res["ok"]:
        return f"FAILED (exit {res['exit_code']}) after {seconds:.1f}s"
    extra = ""
    if res.get("tfmon_cpu_s") is not None:
        extra = f" tfmon cpu {res['tfmon_cpu_s']:.2f}s"
    if res.get("first_frame_s") is not None:
        extra += f" first frame {res['first_frame_s']:.2f}s"
    return (f"train {res['train_s']:.2f}s ({res['batches']} batches) wall {res['wall_s']:.1f}s "
            f"rss {res['rss_mb']:.0f}MB cpu {res['cpu_s']:.1f}s{extra}")


if __name__ == "__main__":  # one run, for trying things: python -m benchmarks.overhead SCRIPT VARIANT
    import tempfile

    sys.path.insert(0, str(HERE.parent))
    work = Path(tempfile.mkdtemp(prefix="tfmon-bench-"))
    print(json.dumps(run_one(sys.executable, sys.argv[1], sys.argv[2], True, work, 1), indent=1))


# ----------------------------------------------------------------------------- report (pure)

KEYS = ("train_s", "steady_s", "train_cpu_s", "wall_s", "rss_mb", "cpu_s", "tfmon_cpu_s", "main_cpu_per_s", "epoch_gap_s", "first_frame_s",
        "screen_s", "tf_imported_s")


def report(runs: list[dict], variants: list[str] | None = None) -> str:
    """One table per script: medians, and ratios or differences against ``plain``."""
    from benchmarks.stats import fmt, summarize, table

    summary = summarize(runs, KEYS)
    out = []
    for script, rows in summary.items():
        order = [v for v in (variants or VARIANTS) if v in rows]
        batches = {r["batches"] for r in runs if r["script"] == script and r.get("ok")}
        body = []
        for v in order:
            r = rows[v]
            body.append([
                v,
                str(r["n"]),
                fmt(r["train_s"], ".2f"),
                fmt(r["train_s_ratio"], ".3f"),
                _paired(r, "train_s"),
                _paired(r, "steady_s"),
                fmt(r["train_cpu_s"], ".2f"),
                fmt(r["train_cpu_s_ratio"], ".3f"),
                _paired(r, "train_cpu_s"),
                fmt(r["wall_s"], ".1f"),
                fmt(r["wall_s_ratio"], ".2f"),
                fmt(r["rss_mb"], ".0f"),
                fmt(r["rss_mb_delta"], "+.0f"),
                fmt(r["cpu_s"], ".1f"),
                fmt(r["tfmon_cpu_s"], ".2f"),
                fmt(r["main_cpu_per_s"], ".3f"),
                fmt(None if r["epoch_gap_s"] is None else r["epoch_gap_s"] * 1000, ".0f"),
            ])
        header = ["variant", "n", "train s", "x plain", "paired (min-max)", "steady: paired", "train CPU s", "x plain",
                  "paired (min-max)", "wall s", "x plain", "peak RSS MB", "+MB", "CPU s", "tfmon CPU s", "main thread CPU-s/s",
                  "epoch gap ms"]
        out.append(f"{script} ({', '.join(str(b) for b in sorted(batches))} batches; medians)\n" + table(header, body))
        failed = [r for r in runs if r["script"] == script and not r.get("ok")]
        if failed:
            out.append(f"  {len(failed)} failed run(s): " + ", ".join(f"{r['variant']} (exit {r['exit_code']})" for r in failed))
    return "\n\n".join(out)


def _paired(row: dict, key: str) -> str:
    """The median of the per-round ratios to plain, and their range."""
    if row.get(key + "_paired") is None:
        return "-"
    return f"{row[key + '_paired']:.3f} ({row[key + '_paired_min']:.2f}-{row[key + '_paired_max']:.2f})"


def first_frame_report(runs: list[dict]) -> str | None:
    from benchmarks.stats import fmt, median

    ui = [r for r in runs if r.get("ok") and r.get("first_frame_s") is not None]
    if not ui:
        return None
    by_variant: dict[str, list[dict]] = {}
    for r in ui:
        by_variant.setdefault(r["variant"], []).append(r)
    lines = []
    for v, rs in by_variant.items():
        steps = rs[0].get("startup")
        lines.append(
            f"{v}: first frame {fmt(median(r['first_frame_s'] for r in rs), '.2f')} s after the process started "
            f"(min {min(r['first_frame_s'] for r in rs):.2f}, max {max(r['first_frame_s'] for r in rs):.2f}; "
            f"footer on the pty at {fmt(median(r.get('screen_s') for r in rs), '.2f')} s; "
            f"TensorFlow imported at {fmt(median(r.get('tf_imported_s') for r in rs), '.2f')} s; "
            f"UI thread CPU until then {fmt(median(r.get('ui_startup_cpu_s') for r in rs), '.2f')} s; n={len(rs)})"
        )
        if steps:
            lines.append("  one run's steps (s after the process started): " + ", ".join(f"{k} {t:.2f}" for k, t in steps.items()))
    return "\n".join(lines)


#: (script, variant, key, limit, what): the aims of issue #7 that one table row can check
AIMS = (
    ("demo_cnn", "tfmon-ui", "train_s_ratio", 1.03, "demo CNN, full UI <= 1.03x plain"),
    ("demo_cnn", "tfmon-headless", "train_s_ratio", 1.02, "demo CNN, headless <= 1.02x plain"),
    ("tiny_mlp", "tfmon-headless", "train_s_ratio", 1.10, "tiny MLP, headless <= 1.10x plain"),
    ("tiny_mlp", "tfmon-ui", "train_s_ratio", 1.10, "tiny MLP, full UI <= 1.10x plain"),
)


def aims_report(runs: list[dict]) -> str:
    from benchmarks.stats import median, summarize

    summary = summarize(runs, KEYS)
    lines = []

    def verdict(ok: bool | None) -> str:
        return "n/a " if ok is None else ("met " if ok else "MISS")

    for script, variant, key, limit, what in AIMS:
        row = summary.get(script, {}).get(variant, {})
        value = row.get(key)
        paired = row.get(key.replace("_ratio", "_paired"))
        judged = paired if paired is not None else value
        detail = "-" if value is None else f"{value:.3f} (ratio of medians)"
        if paired is not None:
            lo, hi = row[key.replace("_ratio", "_paired_min")], row[key.replace("_ratio", "_paired_max")]
            detail = f"{paired:.3f} paired median, rounds {lo:.2f}-{hi:.2f}; ratio of medians {value:.3f}"
            if lo <= limit < hi:
                detail += "; the rounds straddle the aim: within this machine's noise"
        steady = row.get("steady_s_paired")
        if steady is not None and key == "train_s_ratio":
            detail += f"; without epoch boundaries {steady:.3f}"
        lines.append(f"[{verdict(None if judged is None else judged <= limit)}] {what}: {detail}")
    for script in ("demo_cnn", "tiny_mlp"):
        rows = summary.get(script, {})
        for other in ("keras-verbose1", "tensorboard"):
            if other not in rows:
                continue
            for variant in ("tfmon-headless", "tfmon-ui"):
                if variant in rows and rows[variant]["train_s"] is not None and rows[other]["train_s"] is not None:
                    ok = rows[variant]["train_s"] < rows[other]["train_s"]
                    lines.append(f"[{verdict(ok)}] {script}: {variant} below {other}: "
                                 f"{rows[variant]['train_s']:.2f} s vs {rows[other]['train_s']:.2f} s")
    extra = [rows[v]["rss_mb_delta"] for rows in summary.values() for v in rows
             if v.startswith("tfmon") and rows[v].get("rss_mb_delta") is not None]
    if extra:
        worst = max(extra)
        lines.append(f"[{verdict(worst <= 60)}] tfmon's extra peak RSS over plain <= 60 MB: worst {worst:+.0f} MB")
    frames = [r["first_frame_s"] for r in runs if r.get("ok") and r.get("first_frame_s") is not None and r["variant"] == "tfmon-ui"]
    if frames:
        m = median(frames)
        lines.append(f"[{verdict(m < 1.0)}] time to first frame < 1 s: median {m:.2f} s")
    return "\n".join(lines)
