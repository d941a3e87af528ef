"""Can the UI keep up with any event rate? Synthetic events into the real TfmonApp.

    .venv/bin/python benchmarks/ui_throughput.py [--quick] [--json FILE]

The parent re-runs this file as a child on a pseudo-terminal (120x40, drained
as a terminal emulator would) so the app draws for real, through Textual's
Linux driver, not a headless stand-in. In the child a producer thread emits
events through a real ``EventBus`` into a ``LiveSource``, the source the live
app uses, in phases:

- batch events (what the Keras callback emits) at 1k, 10k and 100k per second;
- eager placement events at 5k/s, as the tiny-MLP run really produces
  (TensorFlow logs three "Executing op" lines per batch);
- a burst of 100k distinct placement nodes, one per event (stderr is
  unbuffered, so a reader can get one line per read), then 100k more grouped
  500 per event (what a 64 KiB pipe read of C stdout gives);
- a soak at 100k batch events/s (quick: 20 s; full: 10 minutes) for memory.

Measured per phase: frames per second (``App._display`` calls that drew a
screen update), ticks per second and tick cost, event-to-screen latency (from
an event's ``t`` to the first frame after the tick that applied it), the
process RSS, how far the UI fell behind (events queued in the subscription),
and whether the producer was held up (longest gap between its loop turns,
achieved rate against the target).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]

OPS = ("MatMul", "BiasAdd", "Relu", "ReluGrad", "MatMul_1", "Conv2D", "Conv2DBackpropInput",
       "Conv2DBackpropFilter", "ReadVariableOp", "AssignVariableOp", "Identity", "Const", "Mul", "AddV2",
       "Sub", "RealDiv", "Sqrt", "ResourceApplyAdam", "Softmax", "SparseSoftmaxCrossEntropyWithLogits",
       "Mean", "Sum", "Reshape", "Shape", "Cast", "MaxPool", "MaxPoolGrad", "BroadcastGradientArgs")
PHASES_QUICK = {"seconds": 3.0, "soak": 20.0}
PHASES_FULL = {"seconds": 10.0, "soak": 600.0}


# ----------------------------------------------------------------------------- child


class _Control:
    pending = False

    def ask(self, action: str, source: str = "key") -> None:
        """Queue ``action`` for the next batch boundary (a pause also shows at once as asked)."""
        pass


class Probe:
    """Records ticks, drains and frames of the app, and RSS, with timestamps."""

    def __init__(self) -> None:
        self.drains: list[tuple[float, int, float | None]] = []  # (time, n events, oldest t)
        self.ticks: list[tuple[float, float]] = []  # (start, end)
        self.frames: list[float] = []
        self.rss: list[tuple[float, float]] = []
        self._stop = threading.Event()

    def instrument(self, app, source) -> None:
        drain = source.drain

        def drain_recorded():
            batch = drain()
            oldest = min((e["t"] for e in batch), default=None) if batch else None
            self.drains.append((time.time(), len(batch), oldest))
            return batch

        source.drain = drain_recorded
        tick = app._tick

        def tick_recorded():
            start = time.time()
            try:
                tick()
            finally:
                self.ticks.append((start, time.time()))

        app._tick = tick_recorded
        display = app._display

        def display_recorded(screen, renderable):
            drew = renderable is not None and not app._batch_count
            display(screen, renderable)
            if drew:
                self.frames.append(time.time())

        app._display = display_recorded

    def sample_memory(self, interval: float = 0.25) -> None:
        import psutil

        proc = psutil.Process()
        while not self._stop.wait(interval):
            self.rss.append((time.time(), proc.memory_info().rss / 2**20))

    def stop(self) -> None:
        self._stop.set()


class Producer:
    def __init__(self, bus, sub) -> None:
        self.emit = bus.emit
        self.sub = sub
        self.global_step = 0
        self.epoch = 1
        self.phases: list[dict] = []
        self._node_id = 0

    def _batch(self) -> None:
        self.global_step += 1
        g = self.global_step
        self.emit("batch", epoch=self.epoch, step=g % 100000, global_step=g,
                  logs={"loss": 1.0 / (1 + g * 1e-5), "accuracy": 0.5 + (g % 1000) * 1e-4})

    def _eager(self) -> None:
        self.emit("placement", nodes=[], eager={"OptionalHasValue@CPU:0": 1})

    def preamble(self) -> None:
        e = self.emit
        e("run_start", schema=1, script="synthetic.py", argv=["synthetic.py"], pid=os.getpid(), run_dir="-", headless=False)
        e("status", state="running", detail="running the script")
        e("fit_start", fit=1, epochs=1000, steps=100000, batch_size=32, model="synthetic", params=1000)
        e("epoch_start", epoch=1)

    def side_events(self, now: float, state: dict) -> None:
        """What the sampler and the epoch loop add whatever the batch rate: memory 2/s, an epoch every 2 s."""
        if now - state.get("memory", 0) >= 0.5:
            state["memory"] = now
            self.emit("memory", proc_rss_mb=600.0, proc_cpu_pct=100.0, proc_threads=20, sys_total_mb=24000.0,
                      sys_used_mb=1000.0, sys_avail_mb=23000.0, sys_pct=4.0, swap_total_mb=0.0, swap_used_mb=0.0,
                      swap_growing=False, tf_status="unreported", tf_note="no_gpu", cpu_ms=0.5)
        if now - state.get("epoch", now) >= 2.0:
            self.emit("epoch_end", epoch=self.epoch, steps=100000, global_step=self.global_step, seconds=2.0,
                      metrics={"loss": 0.5, "accuracy": 0.8, "val_loss": 0.6, "val_accuracy": 0.75})
            self.epoch += 1
            self.emit("epoch_start", epoch=self.epoch)
            state["epoch"] = now
        state.setdefault("epoch", now)

    def rate_phase(self, name: str, rate: float, seconds: float, make) -> dict:
        """Emit ``make()`` events at ``rate`` per second for ``seconds``."""
        t0_wall = time.time()
        start = last = time.perf_counter()
        n = 0
        max_gap = 0.0
        max_backlog = 0
        side: dict = {}
        chunk_cap = max(1, int(rate // 200))  # keep the loop turning at least every ~5 ms of events
        while True:
            now = time.perf_counter()
            if now - start >= seconds:
                break
            max_gap = max(max_gap, now - last)
            last = now
            self.side_events(now, side)
            due = min(int((now - start) * rate) - n, chunk_cap)
            if due <= 0:
                time.sleep(0.0005)
                last = time.perf_counter()  # our own sleep is not a hold-up
                continue
            for _ in range(due):
                make()
            n += due
            backlog = len(self.sub)
            if backlog > max_backlog:
                max_backlog = backlog
        elapsed = time.perf_counter() - start
        phase = {"name": name, "target_rate": rate, "seconds": elapsed, "events": n, "rate": n / elapsed,
                 "max_gap_ms": 1000 * max_gap, "max_backlog": max_backlog, "t0": t0_wall, "t1": time.time()}
        self.phases.append(phase)
        return phase

    def burst_phase(self, name: str, nodes: int, per_event: int) -> dict:
        t0_wall = time.time()
        start = time.perf_counter()
        max_gap = 0.0
        last = start
        for i in range(0, nodes, per_event):
            now = time.perf_counter()
            max_gap = max(max_gap, now - last)
            last = now
            batch = []
            for _ in range(min(per_event, nodes - i)):
                k = self._node_id
                self._node_id += 1
                op = OPS[k % len(OPS)]
                layer = f"dense_{(k // 7) % 400}"
                phase = ("gradient_tape/sequential/" if k % 3 == 1 else "adam/" if k % 3 == 2 else "StatefulPartitionedCall/sequential/")
                batch.append([f"{phase}{layer}/{op}_{k}", op, "CPU:0" if k % 11 else "GPU:0"])
            self.emit("placement", nodes=batch, eager={})
        elapsed = time.perf_counter() - start
        phase = {"name": name, "target_rate": None, "seconds": elapsed, "events": (nodes + per_event - 1) // per_event,
                 "nodes": nodes, "rate": nodes / elapsed, "max_gap_ms": 1000 * max_gap, "max_backlog": len(self.sub),
                 "t0": t0_wall, "t1": time.time()}
        self.phases.append(phase)
        return phase

    def settle(self, timeout: float = 30.0) -> float:
        """Wait until the UI has taken every queued event; returns how long that took."""
        start = time.perf_counter()
        while len(self.sub) and time.perf_counter() - start < timeout:
            time.sleep(0.01)
        time.sleep(0.3)  # the tick that applied them, and its frame
        return time.perf_counter() - start


def coalesce_batches(state, history: int) -> None:
    """Experiment (``--coalesce``): emulate the suggested fix in ``RunState.apply_all``.

    Of a drain's ``batch`` events only the last ``history`` can still be seen
    (the loss curve keeps that many; the header shows the latest), so the
    older ones are counted and skipped.
    """
    apply_all = state.apply_all

    def apply_all_coalesced(batch):
        n = 0
        for e in batch:
            if e["type"] == "batch":
                n += 1
        skip = n - history
        if skip <= 0:
            return apply_all(batch)
        apply = state.apply
        for e in batch:
            if skip > 0 and e["type"] == "batch":
                skip -= 1
                state.events_seen += 1
                continue
            apply(e)

    state.apply_all = apply_all_coalesced


def child(out: Path, seconds: float, soak: float, coalesce: bool = False) -> None:
    sys.path.insert(0, str(ROOT / "src"))
    from tfmon.bus import EventBus
    from tfmon.ui.app import TfmonApp
    from tfmon.ui.sources import LiveSource

    bus = EventBus()
    run = SimpleNamespace(bus=bus, control=_Control())
    source = LiveSource(run)
    app = TfmonApp(source)
    if coalesce:
        from tfmon.state import BATCH_HISTORY

        coalesce_batches(app.state, BATCH_HISTORY)
    probe = Probe()
    probe.instrument(app, source)
    producer = Producer(bus, source._sub)
    settle_times: dict[str, float] = {}

    def drive() -> None:
        try:
            time.sleep(1.0)  # the app is up
            producer.preamble()
            for rate in (1_000, 10_000, 100_000):
                producer.rate_phase(f"batch {rate // 1000}k/s", rate, seconds, producer._batch)
                settle_times[producer.phases[-1]["name"]] = producer.settle()
            producer.rate_phase("eager placement 5k/s", 5_000, seconds, producer._eager)
            settle_times[producer.phases[-1]["name"]] = producer.settle()
            producer.burst_phase("burst 100k nodes, 1/event", 100_000, 1)
            settle_times[producer.phases[-1]["name"]] = producer.settle(120)
            producer.burst_phase("burst 100k nodes, 500/event", 100_000, 500)
            settle_times[producer.phases[-1]["name"]] = producer.settle(120)
            producer.rate_phase("soak batch 100k/s", 100_000, soak, producer._batch)
            settle_times[producer.phases[-1]["name"]] = producer.settle()
        finally:
            app.call_from_thread(app.exit)

    threading.Thread(target=probe.sample_memory, name="bench-rss", daemon=True).start()
    threading.Thread(target=drive, name="bench-producer", daemon=True).start()
    app.run()
    probe.stop()
    state = app.state
    record = {
        "phases": producer.phases,
        "settle_s": settle_times,
        "drains": probe.drains,
        "ticks": probe.ticks,
        "frames": probe.frames,
        "rss": probe.rss,
        "final": {
            "events_seen": state.events_seen,
            "batch_history": len(state.metrics.batch_loss),
            "epoch_rows": state.metrics.rows_total,
            "log_lines": len(state.log.lines),
            "placement_ops": len(getattr(state.placement, "op_rows", {}) or {}),
            "placement_layers": len(getattr(state.placement, "layer_rows", {}) or {}),
        },
    }
    out.write_text(json.dumps(record))


# ----------------------------------------------------------------------------- analysis (pure)


def latencies(drains: list, ticks: list, frames: list, t0: float, t1: float) -> list[float]:
    """Event-to-screen latency of the oldest event of each drain in [t0, t1]: the first frame after its tick."""
    import bisect

    out = []
    tick_ends = [end for _, end in ticks]
    for when, n, oldest in drains:
        if not n or oldest is None or not (t0 <= oldest <= t1):
            continue
        i = bisect.bisect_left(tick_ends, when)
        applied = tick_ends[i] if i < len(tick_ends) else when
        j = bisect.bisect_left(frames, applied)
        shown = frames[j] if j < len(frames) and frames[j] - applied < 1.0 else applied
        out.append(shown - oldest)
    return out


def analyse(record: dict) -> list[dict]:
    from benchmarks.stats import median, percentile

    rows = []
    for phase in record["phases"]:
        t0, t1 = phase["t0"], phase["t1"]
        span = max(t1 - t0, 1e-9)
        frames = [f for f in record["frames"] if t0 <= f <= t1]
        ticks = [(s, e) for s, e in record["ticks"] if t0 <= s <= t1]
        lat = latencies(record["drains"], record["ticks"], record["frames"], t0, t1)
        rss = [m for t, m in record["rss"] if t0 <= t <= t1]
        row = {
            "phase": phase["name"],
            "rate": phase["rate"],
            "target": phase["target_rate"],
            "fps": len(frames) / span if phase["target_rate"] else None,
            "ticks_per_s": len(ticks) / span if phase["target_rate"] else None,
            "tick_ms_median": median(1000 * (e - s) for s, e in ticks),
            "tick_ms_max": max((1000 * (e - s) for s, e in ticks), default=None),
            "latency_ms_median": median(1000 * x for x in lat),
            "latency_ms_p95": (percentile([1000 * x for x in lat], 95)),
            "latency_ms_max": max((1000 * x for x in lat), default=None),
            "rss_start_mb": rss[0] if rss else None,
            "rss_end_mb": rss[-1] if rss else None,
            "rss_max_mb": max(rss) if rss else None,
            "max_backlog": phase["max_backlog"],
            "producer_max_gap_ms": phase["max_gap_ms"],
            "settle_s": record["settle_s"].get(phase["name"]),
        }
        if phase["name"].startswith("soak") and len(rss) > 4:
            half = rss[len(rss) // 2 :]
            row["rss_second_half_growth_mb"] = half[-1] - half[0]
        rows.append(row)
    return rows


def report(rows: list[dict], final: dict) -> str:
    from benchmarks.stats import fmt, table

    header = ["phase", "events/s (target)", "frames/s", "tick ms med/max", "latency ms med/p95/max",
              "RSS MB start→end (max)", "backlog max", "producer gap ms", "settle s"]
    body = []
    for r in rows:
        target = f" ({r['target']:,.0f})" if r["target"] else ""
        body.append([
            r["phase"],
            f"{r['rate']:,.0f}{target}",
            fmt(r["fps"], ".1f"),
            f"{fmt(r['tick_ms_median'], '.1f')}/{fmt(r['tick_ms_max'], '.0f')}",
            f"{fmt(r['latency_ms_median'], '.0f')}/{fmt(r['latency_ms_p95'], '.0f')}/{fmt(r['latency_ms_max'], '.0f')}",
            f"{fmt(r['rss_start_mb'], '.0f')}→{fmt(r['rss_end_mb'], '.0f')} ({fmt(r['rss_max_mb'], '.0f')})",
            f"{r['max_backlog']:,}",
            fmt(r["producer_max_gap_ms"], ".1f"),
            fmt(r["settle_s"], ".2f"),
        ])
    text = table(header, body)
    soak = next((r for r in rows if "rss_second_half_growth_mb" in r), None)
    if soak:
        text += f"\nsoak: RSS growth over its second half {soak['rss_second_half_growth_mb']:+.1f} MB"
    text += "\nstate at the end: " + ", ".join(f"{k} {v}" for k, v in final.items())
    return text


# ----------------------------------------------------------------------------- parent


def run(quick: bool, cols: int = 120, rows: int = 40, soak: float | None = None, coalesce: bool = False) -> dict:
    sys.path.insert(0, str(ROOT))
    from benchmarks.ptyproc import PtyProcess

    cfg = PHASES_QUICK if quick else PHASES_FULL
    soak = cfg["soak"] if soak is None else soak
    with tempfile.TemporaryDirectory(prefix="tfmon-ui-bench-") as tmp:
        out = Path(tmp) / "ui.json"
        env = dict(os.environ, TERM=os.environ.get("TERM") if os.environ.get("TERM", "dumb") != "dumb" else "xterm-256color")
        argv = [sys.executable, str(Path(__file__).resolve()), "--child", str(out), "--seconds", str(cfg["seconds"]), "--soak", str(soak)] + (["--coalesce"] if coalesce else [])
        proc = PtyProcess(argv, env, cols=cols, rows=rows)
        budget = 4 * cfg["seconds"] + soak + 400
        code = proc.wait(budget)
        proc.close()
        if code != 0 or not out.exists():
            raise RuntimeError(f"ui benchmark child failed (exit {code})")
        record = json.loads(out.read_text())
    rows_ = analyse(record)
    return {"rows": rows_, "final": record["final"], "size": f"{cols}x{rows}", "frames": len(record["frames"])}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="3 s per rate, 20 s soak (instead of 10 s and 10 min)")
    p.add_argument("--soak", type=float, default=None, help="seconds of the 100k/s soak")
    p.add_argument("--json", type=Path, help="write the results here")
    p.add_argument("--coalesce", action="store_true", help="experiment: skip batch events the screen can no longer show")
    p.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--seconds", type=float, default=3.0, help=argparse.SUPPRESS)
    opts = p.parse_args(argv)
    if opts.child:
        child(opts.child, opts.seconds, opts.soak if opts.soak is not None else 20.0, opts.coalesce)
        return 0
    result = run(opts.quick, soak=opts.soak, coalesce=opts.coalesce)
    what = " with batch events coalesced (experiment)" if opts.coalesce else ""
    print(f"UI throughput (TfmonApp on a {result['size']} pty, synthetic events{what}):")
    print(report(result["rows"], result["final"]))
    if opts.json:
        opts.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
