"""Shared by the benchmark scripts: the variant flags and the timing callback.

Each script runs the same under ``python script.py`` and ``tfmon script.py``
(tfmon puts the script's folder first on ``sys.path``, as python does, so this
module is found either way). The training time is taken here, inside the
script, from the end of the first batch to the end of the last one: the
first batch (tracing the train function) and TensorFlow's import are outside
it, and whatever a monitor does per batch, per epoch or in its own threads
while training runs is inside it.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time

#: Wall-clock time this module was imported: the script's start, before TensorFlow.
T_START = time.time()

#: Read by an in-process driver (benchmarks/control_delay.py) while the script runs.
LIVE = {"global_step": 0, "batch_ends": [], "record": False}


def parser(description: str, **defaults) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--epochs", type=int, default=defaults.get("epochs", 3))
    p.add_argument("--samples", type=int, default=defaults.get("samples", 4000))
    p.add_argument("--batch-size", type=int, default=defaults.get("batch_size", 32))
    p.add_argument("--verbose", type=int, default=0, help="Keras' own progress output (0, 1, 2)")
    p.add_argument("--tensorboard", metavar="LOGDIR", help="add keras.callbacks.TensorBoard(update_freq='batch')")
    p.add_argument("--bench-out", metavar="FILE", help="append one JSON line per fit with the timings")
    p.add_argument("--seed", type=int, default=0)
    return p


def _main_thread_cpu() -> float | None:
    """CPU seconds of the process's main thread, when the script runs in another one.

    Under ``tfmon`` the main thread is the UI's (Textual) and the script a worker
    thread: this is what the UI costs while training runs. Linux only (/proc);
    None under plain python, where the main thread is the training itself."""
    if threading.current_thread() is threading.main_thread():
        return None
    try:
        with open(f"/proc/self/task/{os.getpid()}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def fit(model, x, y, args, **extra):
    """``model.fit`` as every benchmark script runs it: the shared flags, the timing callback."""
    return model.fit(x, y, epochs=args.epochs, batch_size=args.batch_size, verbose=args.verbose,
                     callbacks=callbacks(args), **extra)


def callbacks(args) -> list:
    """The timing callback first, then TensorBoard's when asked."""
    import keras

    class Timing(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.t_fit_start = time.time()
            self.first = self.last = None
            self.batches = 0
            self.epoch_ends: list[float] = []
            self.epoch_gaps: list[float] = []
            self.gap_open = False

        def on_train_batch_end(self, batch, logs=None):
            now = time.time()
            cpu = time.process_time()  # every thread of the process: TF's pools, the monitor's
            if self.first is None:
                self.first, self.cpu_first = now, cpu
                self.main_first = _main_thread_cpu()
            self.last, self.cpu_last = now, cpu
            if self.epoch_ends and self.gap_open:
                # the next epoch's set-up and first batch, and whatever a monitor does at
                # an epoch's end after this callback (finding 8 of benchmarks/README.md)
                self.epoch_gaps.append(now - self.epoch_ends[-1])
                self.gap_open = False
            self.batches += 1
            LIVE["global_step"] = self.batches
            if LIVE["record"]:
                LIVE["batch_ends"].append(now)

        def on_epoch_end(self, epoch, logs=None):
            self.epoch_ends.append(time.time())
            self.gap_open = True

        def on_train_end(self, logs=None):
            if not args.bench_out or self.first is None:
                return
            record = {
                "t_start": T_START,
                "t_fit_start": self.t_fit_start,
                "t_first_batch_end": self.first,
                "t_last_batch_end": self.last,
                "t_fit_end": time.time(),
                "batches": self.batches,
                "train_s": self.last - self.first,
                "train_cpu_s": self.cpu_last - self.cpu_first,
                "epochs": len(self.epoch_ends),
                "epoch_gap_s": max(self.epoch_gaps) if self.epoch_gaps else None,
                "epoch_gaps_s": sum(self.epoch_gaps),
            }
            main_last = _main_thread_cpu()
            if self.main_first is not None and main_last is not None:
                # read once at the end, not per batch: /proc is a syscall or three
                record["main_thread_cpu_s"] = main_last - self.main_first
            with open(args.bench_out, "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")

    out = [Timing()]
    if args.tensorboard:
        out.append(keras.callbacks.TensorBoard(log_dir=args.tensorboard, update_freq="batch"))
    return out
