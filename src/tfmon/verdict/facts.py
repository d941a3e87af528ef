"""The facts the verdict's rules read, folded from events. Pure, bounded, cheap per event.

``RunFacts`` holds the run state's own sub-states that the rules need (header
info, placement, memory) and ``PerfFacts``: per-epoch timing of the current fit,
CPU and GPU utilisation while training, TensorFlow's retracing warnings counted
per function, and XLA's "no compiler for this platform" errors.
"""

from __future__ import annotations

import collections
import re
from dataclasses import dataclass
from typing import Any

from tfmon import events
from tfmon.events import Event
from tfmon.memory.state import MemoryState
from tfmon.placement.state import PlacementState
from tfmon.state import RunInfo

MIN_STEADY_STEPS = 10  # later steps an epoch needs before its step time is trusted
MAX_EPOCHS = 1000
UTIL_SAMPLES = 120  # memory samples kept while training: a minute at the default 0.5 s

# "5 out of the last 5 calls to <function f at 0x7f...> triggered tf.function retracing."
_RETRACING = re.compile(r"(\d+) out of the last (\d+) calls to <(.+?)(?: at 0x[0-9a-f]+)?> triggered tf\.function retracing")
# XLA asked for on a device it has no compiler for: TF's own wording (tensorflow-metal,
# other PluggableDevices) and the registry lookup that fails under it.
_XLA_NO_COMPILER = re.compile(
    r"Could not find compiler for platform (\S+?):?\s|could not find registered compiler for"
    r"|could not find registered platform with id"
)
_XLA_TRIGGERS = ("compiler for", "registered platform with id")


@dataclass(frozen=True)
class EpochTiming:
    """One epoch of a Keras fit: its first batch and the steps after it."""

    epoch: int
    steps: int
    first_steps: int  # steps the first call ran (steps_per_execution of them)
    first_s: float  # epoch start to the end of the first call: data start-up, tracing
    train_s: float  # epoch start to the end of the last training call

    @property
    def steady_step_s(self) -> float | None:
        """Seconds per step after the first call; None when too few steps to tell."""
        rest = self.steps - self.first_steps
        if rest < MIN_STEADY_STEPS:
            return None
        return max(self.train_s - self.first_s, 0.0) / rest

    @property
    def start_wait_s(self) -> float | None:
        """How much longer the first call took than later calls of the same size."""
        step = self.steady_step_s
        if step is None:
            return None
        return max(self.first_s - step * self.first_steps, 0.0)


def _function_name(text: str) -> str:
    """``function f`` -> ``f``; ``bound method Model.train_step of <...>`` -> ``Model.train_step``."""
    for prefix in ("function ", "bound method "):
        if text.startswith(prefix):
            text = text[len(prefix):]
    name = text.split(" of ", 1)[0]
    return name.replace(".<locals>", "")


class PerfFacts:
    def __init__(self) -> None:
        self.fit = 0
        self.loop = "keras"  # or "custom"
        self.steps_per_execution: int | None = None
        self.dataset: dict[str, Any] | None = None
        self.input_kind = "unknown"  # "dataset", "other" (arrays, generators): from fit_start
        self.epochs: collections.deque[EpochTiming] = collections.deque(maxlen=MAX_EPOCHS)
        self.steps_run = 0  # training steps of all fits, from epoch ends
        self.last_epoch: int | None = None  # the last epoch that ended
        self.training = False
        self.paused = False
        self.devices_listed = False  # TensorFlow's own device list has been read
        #: (process CPU %, GPU utilisation %, where the GPU figure came from)
        self.util: collections.deque[tuple[float, float, str]] = collections.deque(maxlen=UTIL_SAMPLES)
        self.retraces: dict[str, dict[str, int]] = {}  # function -> {"traced", "calls", "warnings"}
        self.xla_errors = 0
        self.xla_message: str | None = None
        self.xla_platform: str | None = None

    def apply(self, e: Event) -> None:
        kind = e["type"]
        if kind == events.FIT_START:
            self.fit = e.get("fit", self.fit + 1)
            self.loop = e.get("loop") or "keras"
            self.steps_per_execution = e.get("steps_per_execution")
            self.dataset = e.get("dataset")
            self.input_kind = "dataset" if self.dataset else ("unknown" if "dataset" not in e else "other")
            self.epochs.clear()
            self.last_epoch = None
            self.training = True
        elif kind == events.EPOCH_END:
            self.steps_run += e.get("steps") or 0
            self.last_epoch = e.get("epoch")
            if "first_batch_seconds" in e and "train_seconds" in e:
                self.epochs.append(EpochTiming(e["epoch"], e.get("steps") or 0, e.get("first_steps") or 1,
                                               e["first_batch_seconds"], e["train_seconds"]))
        elif kind in (events.FIT_END, events.RUN_END):
            self.training = False
            if kind == events.RUN_END:
                self._xla(e.get("error") or "")
        elif kind == events.PAUSED:
            self.paused = True
        elif kind == events.RESUMED:
            self.paused = False
        elif kind == events.DEVICES and e.get("source") == "tf":
            self.devices_listed = True
        elif kind == events.MEMORY:
            if self.training and not self.paused:
                self._utilisation(e)
        elif kind == events.LOG:
            text = e.get("text", "")
            if "tf.function retracing" in text:
                self._retracing(text)
            self._xla(text)
        elif kind == events.TF_WARNING and e.get("code", "").startswith("xla"):
            self._xla(e.get("message", ""), known=True)

    def _utilisation(self, e: Event) -> None:
        cpu = e.get("proc_cpu_pct")
        if not isinstance(cpu, (int, float)):
            return
        if isinstance(e.get("agx_dev_pct"), (int, float)):
            self.util.append((float(cpu), float(e["agx_dev_pct"]), "Apple GPU"))
            return
        nv = [e[k] for k in e if k.startswith("nv") and k.endswith("_util_pct") and isinstance(e[k], (int, float))]
        if nv:  # several GPUs: the busiest one says whether the host keeps up
            self.util.append((float(cpu), float(max(nv)), "NVIDIA GPU"))

    def _retracing(self, text: str) -> None:
        m = _RETRACING.search(text)
        if m is None:
            return
        name = _function_name(m.group(3))
        entry = self.retraces.setdefault(name, {"traced": 0, "calls": 0, "warnings": 0})
        entry["warnings"] += 1
        entry["traced"], entry["calls"] = int(m.group(1)), int(m.group(2))

    def _xla(self, text: str, known: bool = False) -> None:
        if not known and not any(t in text for t in _XLA_TRIGGERS):
            return
        m = _XLA_NO_COMPILER.search(text)
        if m is None and not known:
            return
        self.xla_errors += 1
        if self.xla_message is None:
            line = next((ln for ln in text.splitlines() if _XLA_NO_COMPILER.search(ln)), text)
            self.xla_message = line.strip()[:200]
        if m is not None and m.group(1) and self.xla_platform is None:
            self.xla_platform = m.group(1)


class RunFacts:
    """Everything the rules read: the header's info, placement, memory, and PerfFacts."""

    def __init__(self) -> None:
        self.info = RunInfo()
        self.placement = PlacementState()
        self.memory = MemoryState()
        self.perf = PerfFacts()
        self._handlers = (self.info, self.placement, self.memory, self.perf)

    def apply(self, e: Event) -> None:
        for handler in self._handlers:
            handler.apply(e)
