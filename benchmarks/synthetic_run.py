"""A synthetic long run: the events a week of Keras training emits, in simulated time.

The shapes are a real run's (tests/fixtures/runs/demo-3-epochs: its run_start,
devices, placement nodes, memory sample, epoch_end metrics); the rates are what
tfmon's probes emit at most whatever the step rate: a ``batch`` event every
0.1 s, a ``placement`` event with eager counts per fd-reader flush (every
0.02 s), a ``memory`` sample every 0.5 s, a heartbeat every 2 s. On top: an
epoch every ``epoch_s`` (epoch_end, memory_epoch, epoch_start, a line the script
prints), a checkpoint every hour, a pause and resume twice a day, a TF warning
and a fallback at the start, a memory warning on day 2, and the end.

``every`` scales the hot rates down (``every=10``: one batch event per second of
simulated time, carrying the same steps) for tests, which need the mix, not the
volume. Used by tests/unit/test_thinning.py and benchmarks/longrun.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

FIXTURE = Path(__file__).resolve().parents[1] / "tests/fixtures/runs/demo-3-epochs/events.jsonl"
DAY = 86400.0


def _fixture() -> list[dict]:
    with open(FIXTURE) as f:
        return [json.loads(line) for line in f]


def events(
    days: float = 7.0,
    steps_per_s: float = 50.0,
    epoch_s: float = 600.0,
    every: float = 1.0,
    start: float = 1_800_000_000.0,
) -> Iterator[dict]:
    real = _fixture()
    first = {e["type"]: e for e in reversed(real)}
    graph = [e for e in real if e["type"] == "placement" and e["nodes"]]
    end = start + days * DAY
    steps = int(steps_per_s * epoch_s)
    eager_per_flush = max(1, round(steps_per_s * 0.02 * 3))

    def at(t: float, type_: str, **fields) -> dict:
        fields["type"], fields["t"] = type_, t
        return fields

    yield at(start, "run_start", **{k: v for k, v in first["run_start"].items() if k not in ("type", "t")})
    yield at(start, "status", state="running", detail="running the script")
    yield at(start + 0.1, "devices", **{k: v for k, v in first["devices"].items() if k not in ("type", "t")})
    yield at(start + 0.2, "fit_start", fit=1, epochs=int(days * DAY / epoch_s) + 1, steps=steps, batch_size=32,
             model="sequential", params=12345, layer_scopes={})
    for e in graph:
        yield at(start + 0.3, "placement", nodes=e["nodes"], eager={})
    yield at(start + 0.4, "tf_warning", code="input_ran_out", severity="warning",
             message="Your input ran out of data; interrupting training.", advice="repeat() the dataset")
    yield at(start + 0.5, "fallback", node="Adam/AssignAddVariableOp", op="AssignAddVariableOp", device="CPU:0",
             layer="adam", phase="optimizer", eager=False, weight=0.1, reason_code="gpu_kernel_exists",
             reason="placed on the CPU", advice="none needed", gpu_dtypes=["float32"])
    memory = {k: v for k, v in first["memory"].items() if k not in ("type", "t")}
    metrics = dict(first["epoch_end"]["metrics"])
    hot = (0.1 * every, 0.02 * every, 0.5 * every, 2.0)  # batch, placement, memory, heartbeat
    due = [start + 1.0] * 4
    epoch, epoch_at, global_step = 1, start + 1.0, 0
    next_ckpt, next_pause = start + 3600.0, start + DAY / 2
    yield at(epoch_at, "epoch_start", epoch=1)
    n = 0
    while True:
        i = min(range(4), key=due.__getitem__)
        t = due[i]
        if t >= end:
            break
        due[i] = t + hot[i]
        while t >= epoch_at + epoch_s:  # an epoch ends
            epoch_at += epoch_s
            loss = 1.0 / (1 + epoch * 0.05)
            yield at(epoch_at, "epoch_end", epoch=epoch, steps=steps, global_step=epoch * steps, seconds=epoch_s,
                     metrics=dict(metrics, loss=loss, val_loss=loss * 1.1))
            yield at(epoch_at, "memory_epoch", epoch=epoch, n=epoch, rss_mb=900.0, rss_slope_mb=0.1)
            yield at(epoch_at, "log", stream="stdout", text=f"epoch {epoch} done, loss {loss:.4f}")
            epoch += 1
            yield at(epoch_at, "epoch_start", epoch=epoch)
        if t >= next_ckpt:
            next_ckpt += 3600.0
            yield at(t, "checkpoint", ok=True, path=f"/runs/x/checkpoints/epoch{epoch:05d}.keras", kind="model",
                     size=1_000_000, seconds=0.2, epoch=epoch, step=int((t - epoch_at) * steps_per_s))
        if t >= next_pause:
            next_pause += DAY / 2
            step = int((t - epoch_at) * steps_per_s)
            yield at(t, "control", action="pause", source="ctl")
            yield at(t + 0.05, "paused", epoch=epoch, step=step, source="ctl")
            yield at(t + 0.06, "control", action="resume", source="ctl")
            yield at(t + 0.07, "resumed", seconds=0.02)
            if t - start > DAY and n == 0:
                n = 1
                yield at(t, "memory_warning", kind="swap_growing", message="swap is growing", swap_used_mb=512.0)
        if i == 0:
            step = min(int((t - epoch_at) * steps_per_s) + 1, steps)
            global_step = (epoch - 1) * steps + step
            yield at(t, "batch", epoch=epoch, step=step, global_step=global_step,
                     logs={"loss": round(1.0 / (1 + global_step / steps * 0.05), 5), "accuracy": 0.9})
        elif i == 1:
            k = round(eager_per_flush * every)
            yield at(t, "placement", nodes=[], eager={"__inference_multi_step_on_iterator_1074@CPU:0": k,
                                                      "_EagerConst@CPU:0": k})
        elif i == 2:
            yield at(t, "memory", **memory)
        else:
            yield at(t, "heartbeat", pid=1234)
    yield at(end, "fit_end", fit=1, epochs_done=epoch - 1, reason="stopped by user")
    yield at(end, "status", state="finished", detail="finished")
    yield at(end, "run_end", exit_code=0, state="finished", error=None, error_type=None)
