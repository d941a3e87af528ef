"""Extra cost of placement logging on a training run: wall-time ratio with and without.

Runs the same small Keras conv fit in fresh processes, alternating:
  * "off": TF_CPP_MIN_LOG_LEVEL unset, no placement logging (a plain run);
  * "on":  TF_CPP_MIN_LOG_LEVEL=0 and tf.debugging.set_log_device_placement(True),
           stdout/stderr read back through LineBuffer + PlacementProbe as tfmon does.
Reports the median time of model.fit (measured inside the child) and of the whole
process, and the on/off ratios.

    .venv/bin/python benchmarks/placement_overhead.py [--runs 3] [--epochs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from tfmon.placement import PlacementProbe  # noqa: E402
from tfmon.probes.lines import LineBuffer  # noqa: E402

CHILD = r"""
import sys, time
import numpy as np, tensorflow as tf, keras
if sys.argv[1] == "on":
    tf.debugging.set_log_device_placement(True)
epochs = int(sys.argv[2])
x = np.random.rand(2048, 28, 28, 1).astype("float32"); y = np.random.randint(0, 10, 2048)
model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(16, 3, activation="relu"),
                          keras.layers.MaxPooling2D(), keras.layers.Conv2D(32, 3, activation="relu"),
                          keras.layers.Flatten(), keras.layers.Dense(64, activation="relu"),
                          keras.layers.Dense(10)])
model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
start = time.perf_counter()
model.fit(x, y, batch_size=64, epochs=epochs, verbose=0, validation_split=0.1)
print(f"FIT_SECONDS {time.perf_counter() - start:.4f}", flush=True)
"""


def one(mode: str, epochs: int) -> tuple[float, float, float, int]:
    """(model.fit seconds, process wall seconds, process CPU seconds, placement lines parsed)."""
    env = dict(os.environ)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    if mode == "on":
        env["TF_CPP_MIN_LOG_LEVEL"] = "0"
    events: list[str] = []
    probe = PlacementProbe(lambda type_, **f: events.append(type_))
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", CHILD, mode, str(epochs)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    # Read both pipes as tfmon's fd readers do (stderr in a thread: neither may block).
    import threading

    fit = []

    def pump(stream_name, pipe):
        buf = LineBuffer()
        while chunk := pipe.read1(65536):
            for line in buf.feed(chunk):
                if line.startswith("FIT_SECONDS "):
                    fit.append(float(line.split()[1]))
                elif mode == "on":
                    probe.feed(stream_name, line)
            probe.flush()

    readers = [threading.Thread(target=pump, args=(n, p)) for n, p in (("stdout", proc.stdout), ("stderr", proc.stderr))]
    for r in readers:
        r.start()
    for r in readers:
        r.join()
    # wait4: the child's CPU time too, which a busy shared machine disturbs less than wall time
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if proc.returncode != 0 or not fit:
        raise SystemExit(f"child failed ({mode}): exit {proc.returncode}")
    return fit[0], wall, usage.ru_utime + usage.ru_stime, probe.lines_parsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list[tuple[float, float, float, int]]] = {"off": [], "on": []}
    one("off", 1)  # warm the page cache so the first measured import is not slower
    for _ in range(args.runs):
        for mode in ("off", "on"):
            results[mode].append(one(mode, args.epochs))
    med = {m: [statistics.median(r[i] for r in rs) for i in range(3)] for m, rs in results.items()}
    print(f"{args.runs} runs each, {args.epochs} epochs of a small conv net (2048 samples, batch 64), CPU")
    print(f"placement lines parsed per 'on' run: {results['on'][0][3]}")
    for i, what in enumerate(("model.fit wall", "process wall", "process CPU")):
        off, on = med["off"][i], med["on"][i]
        print(f"{what:<15} off {off:6.2f} s   on {on:6.2f} s   ratio {on / off:.3f}")
    for mode, rs in results.items():
        print(f"  {mode} runs (fit, wall, cpu): " + "  ".join(f"({a:.2f}, {b:.2f}, {c:.2f})" for a, b, c, _ in rs))

if __name__ == "__main__":
    main()
