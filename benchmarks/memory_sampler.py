"""What the memory sampler costs, measured in one run:

1. its own CPU time per sample (``time.thread_time`` inside the sampler thread,
   reported by every ``memory`` event as ``cpu_ms``), while a real Keras model trains;
2. the wall time of a small real Keras training with the sampler at 0.5 s vs off,
   alternating on/off several times in this process (same compiled model, so every
   run does the same work), as the ratio of the medians (aim: <= 1.01). On a shared
   machine wall time swings by more than the sampler costs, so the ratio of the best
   runs and the ratio of process CPU time (all threads, the sampler's included) are
   printed beside it.

    PYTHONPATH=src .venv/bin/python benchmarks/memory_sampler.py [--pairs 6] [--interval 0.5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from tfmon.memory import MemorySampler  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=6, help="on/off pairs of training runs")
    ap.add_argument("--interval", type=float, default=0.5, help="sampling interval, seconds")
    ap.add_argument("--epochs", type=int, default=12)
    args = ap.parse_args()

    import keras
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = rng.random((20000, 64), dtype=np.float32)
    y = rng.integers(0, 10, 20000)
    model = keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(256, activation="relu"),
        keras.layers.Dense(256, activation="relu"),
        keras.layers.Dense(10),
    ])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=1, batch_size=128, verbose=0)  # trace once, outside the timings

    ready = threading.Event()
    ready.set()  # as during fit: the TF allocator source is read too
    costs: list[float] = []

    def emit(type_: str, **fields) -> None:
        if type_ == "memory":
            costs.append(fields["cpu_ms"])

    cpu = {True: [], False: []}

    def run(with_sampler: bool) -> float:
        sampler = MemorySampler(emit, interval=args.interval, devices_ready=ready) if with_sampler else None
        start, start_cpu = time.perf_counter(), time.process_time()
        if sampler:
            sampler.start()
        model.fit(x, y, epochs=args.epochs, batch_size=128, verbose=0)
        if sampler:
            sampler.stop()
        cpu[with_sampler].append(time.process_time() - start_cpu)
        return time.perf_counter() - start

    on: list[float] = []
    off: list[float] = []
    for i in range(args.pairs):
        # alternate which goes first, so a drift in machine speed hits both sides
        order = (False, True) if i % 2 == 0 else (True, False)
        for with_sampler in order:
            (on if with_sampler else off).append(run(with_sampler))

    costs_sorted = sorted(costs)
    p95 = costs_sorted[min(len(costs_sorted) - 1, int(0.95 * len(costs_sorted)))]
    ratio = statistics.median(on) / statistics.median(off)
    pair_ratios = [a / b for a, b in zip(on, off)]
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}, {os.cpu_count()} CPUs")
    print(f"sampler CPU time per sample: median {statistics.median(costs):.2f} ms, mean {statistics.mean(costs):.2f} ms, "
          f"p95 {p95:.2f} ms, max {max(costs):.2f} ms over {len(costs)} samples "
          f"(= {100 * statistics.mean(costs) / 1000 / args.interval:.2f}% of one core at {args.interval} s)")
    print(f"training wall time, sampler off: median {statistics.median(off):.3f} s  {[round(t, 3) for t in off]}")
    print(f"training wall time, sampler on : median {statistics.median(on):.3f} s  {[round(t, 3) for t in on]}")
    print(f"wall-time ratio on/off (medians): {ratio:.4f}   per-pair ratios: {[round(r, 3) for r in pair_ratios]}")
    print(f"wall-time ratio on/off (best runs): {min(on) / min(off):.4f}")
    print(f"process CPU time ratio on/off (medians): {statistics.median(cpu[True]) / statistics.median(cpu[False]):.4f}"
          f"   (off {statistics.median(cpu[False]):.2f} s, on {statistics.median(cpu[True]):.2f} s)")


if __name__ == "__main__":
    main()
