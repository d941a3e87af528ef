"""Pause delay and checkpoint time, read from the events of a real run of the demo CNN.

    .venv/bin/python benchmarks/control_delay.py [--pauses N] [--checkpoints N] [--json FILE]

The run is a real ``LiveRun`` (fd capture, placement, sampler, recorder, control
channel: what ``tfmon --headless`` runs) in this process, its script the demo
CNN from benchmarks/scripts. A driver thread sends ``pause``/``resume`` and
``checkpoint`` through the run's control socket, the path ``tfmon ctl`` uses
(falling back to ``run.control.request`` if the run has no channel), at varied
moments inside batches. From ``events.jsonl`` afterwards:

- pause delay: ``control`` event (the request reached the gate) to ``paused``
  (it took effect at a batch boundary), in ms and in batches completed between
  the two (the script's own callback timestamps every batch end);
- the same from the moment the client sent the request;
- checkpoint: the ``checkpoint`` event's ``seconds`` and ``size``, while training
  and while paused.
"""

from __future__ import annotations

import argparse
import bisect
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SCRIPT = HERE / "scripts" / "demo_cnn.py"


def _send(run, action: str) -> float:
    """Send one action the way ``tfmon ctl`` does; returns when it was sent."""
    sent = time.time()
    if getattr(run, "channel", None) is not None:
        from tfmon.run.client import call

        call(run.run_dir, action, wait=0.0)
    else:
        run.control.ask(action, source="bench")
    return sent


def _wait(pred, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


def drive(run, live: dict, pauses: int, checkpoints: int, sent: list, errors: list) -> None:
    try:
        if not _wait(lambda: live["global_step"] >= 20, 300):
            raise RuntimeError("training did not start")
        live["record"] = True
        for i in range(pauses):
            time.sleep(0.25 + 0.037 * i)  # land at different moments inside a batch
            sent.append(("pause", _send(run, "pause")))
            if not _wait(lambda: run.control.paused, 30):
                raise RuntimeError("pause did not take effect")
            time.sleep(0.3)
            if i == 0:  # a checkpoint while paused is taken at once
                sent.append(("checkpoint", _send(run, "checkpoint")))
                time.sleep(0.5)
            sent.append(("resume", _send(run, "resume")))
            _wait(lambda: not run.control.paused, 30)
        for _ in range(checkpoints):
            time.sleep(0.4)
            sent.append(("checkpoint", _send(run, "checkpoint")))
        time.sleep(1.0)
        _send(run, "stop")
    except Exception as exc:  # report, and stop the run so the benchmark ends
        errors.append(f"{type(exc).__name__}: {exc}")
        run.control.ask("stop", source="bench")


def measure(pauses: int = 5, checkpoints: int = 3, samples: int = 3000) -> dict:
    sys.path.insert(0, str(SCRIPT.parent))
    import _bench  # the same module object the script imports: its LIVE dict is shared

    from tfmon.run.session import LiveRun, Options
    from tfmon.recorder import read_events

    tmp = Path(tempfile.mkdtemp(prefix="tfmon-control-bench-"))
    run = LiveRun(SCRIPT, ["--samples", str(samples), "--epochs", "1000"], Options(run_dir=tmp / "run", headless=True))
    run.prepare()
    sent: list[tuple[str, float]] = []
    errors: list[str] = []
    driver = threading.Thread(target=drive, args=(run, _bench.LIVE, pauses, checkpoints, sent, errors), daemon=True)
    driver.start()
    try:
        code = run.run_job()
    finally:
        run.finish()
    driver.join(5)
    evs = read_events(run.run_dir)
    result = analyse(evs, _bench.LIVE["batch_ends"], sent)
    result.update(exit_code=code, errors=errors, channel=getattr(run, "channel", None) is not None, run_dir=str(run.run_dir))
    return result


def analyse(evs: list[dict], batch_ends: list[float], sent: list[tuple[str, float]]) -> dict:
    """Pure: pair each pause request with the pause it caused, and list the checkpoints."""
    from benchmarks.stats import median

    ends = sorted(batch_ends)
    gaps = [b - a for a, b in zip(ends, ends[1:])]
    batch_ms = 1000 * median(gaps) if gaps else None
    pause_sends = [t for a, t in sent if a == "pause"]
    rows = []
    pending = None
    for e in evs:
        if e["type"] == "control" and e.get("action") == "pause":
            pending = e
        elif e["type"] == "paused" and pending is not None:
            t0, t1 = pending["t"], e["t"]
            batches = bisect.bisect_right(ends, t1) - bisect.bisect_right(ends, t0)
            sent_at = max((t for t in pause_sends if t <= t0), default=None)
            rows.append({
                "delay_ms": 1000 * (t1 - t0),
                "from_send_ms": 1000 * (t1 - sent_at) if sent_at else None,
                "batches": batches,
                "epoch": e.get("epoch"),
                "step": e.get("step"),
            })
            pending = None
    paused_spans = []
    start = None
    for e in evs:
        if e["type"] == "paused":
            start = e["t"]
        elif e["type"] == "resumed" and start is not None:
            paused_spans.append((start, e["t"]))
            start = None
    ckpts = []
    for e in evs:
        if e["type"] == "checkpoint":
            paused = any(a <= e["t"] <= b for a, b in paused_spans)
            ckpts.append({"ok": e.get("ok"), "seconds": e.get("seconds"), "size_mb": (e.get("size") or 0) / 1e6,
                          "paused": paused, "path": e.get("path"), "error": e.get("error")})
    return {"batch_ms": batch_ms, "pauses": rows, "checkpoints": ckpts}


def report(result: dict) -> str:
    from benchmarks.stats import fmt, median, table

    lines = []
    p = result["pauses"]
    if p:
        lines.append(f"pause delay over {len(p)} pauses (batch {fmt(result['batch_ms'], '.1f')} ms): "
                     f"median {median(r['delay_ms'] for r in p):.1f} ms, max {max(r['delay_ms'] for r in p):.1f} ms; "
                     f"batches completed before it took effect: max {max(r['batches'] for r in p)}; "
                     f"from the client's send: median {fmt(median(r['from_send_ms'] for r in p), '.1f')} ms")
        lines.append(table(["pause", "delay ms", "from send ms", "batches", "at epoch/step"],
                           [[str(i + 1), fmt(r["delay_ms"], ".1f"), fmt(r["from_send_ms"], ".1f"), str(r["batches"]),
                             f"{r['epoch']}/{r['step']}"] for i, r in enumerate(p)]))
    c = [x for x in result["checkpoints"] if x["ok"]]
    if c:
        lines.append(f"checkpoint of the demo CNN ({c[0]['size_mb']:.1f} MB .keras): median {median(x['seconds'] for x in c):.3f} s, "
                     f"max {max(x['seconds'] for x in c):.3f} s over {len(c)} ({sum(x['paused'] for x in c)} while paused)")
    failed = [x for x in result["checkpoints"] if not x["ok"]]
    if failed:
        lines.append(f"checkpoint failures: {[x['error'] for x in failed]}")
    if result.get("errors"):
        lines.append(f"driver errors: {result['errors']}")
    lines.append(f"requests sent through the control {'socket (tfmon ctl path)' if result.get('channel') else 'gate (no channel)'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pauses", type=int, default=5)
    p.add_argument("--checkpoints", type=int, default=3)
    p.add_argument("--json", type=Path, help="write the results here")
    opts = p.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    result = measure(opts.pauses, opts.checkpoints)
    text = report(result)
    if opts.json:
        opts.json.write_text(json.dumps(result, indent=1))
    # fds 1/2 were captured during the run and are back now
    print(text)
    return 0 if not result.get("errors") else 1


if __name__ == "__main__":
    sys.exit(main())
