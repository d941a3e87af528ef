"""The rules of the verdict: pure functions of ``RunFacts``, each returning a
``Finding`` (what, the numbers behind it, the change to try) or None when it
finds nothing, or cannot judge yet. None is the answer whenever the numbers are
missing: a rule never guesses.

``diagnose`` runs them all and ranks what they found by ``score``: the share of
the training time at stake where the rule can measure it (fallbacks, per-step
overhead, input waits), otherwise a fixed rank that puts a run that cannot go
faster at all (XLA failing, no GPU although one could be used, swapping) first.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from typing import Callable

from tfmon.placement.layers import PHASES
from tfmon.tflog import device_type
from tfmon.placement.rules import is_compute
from tfmon.verdict.facts import RunFacts

STEP_OVERHEAD_S = 0.005  # steps shorter than this spend much of it in Python and callbacks
EXECUTION_TARGET_S = 0.02  # what steps_per_execution should make one call last, at least
START_WAIT_MIN_S = 0.05  # an epoch's first batch this much slower than later ones...
START_WAIT_FACTOR = 5.0  # ...and this many times a later step, is waiting for data...
START_WAIT_SHARE = 0.05  # ...that matters when it is this share of the epoch's training time
GPU_IDLE_PCT = 40.0  # median GPU utilisation below this while training...
CPU_BUSY_PCT = 80.0  # ...while the process keeps a core busy: the GPU waits on the host
MIN_UTIL_SAMPLES = 10
FALLBACK_MIN_COST = 10.0  # one heavy op (weight 10) per training step, or ten medium ones
OUTSIDE_STEP_FACTOR = 0.3  # a fallback outside the training step costs less per step
NO_LAYER = "(no layer)"


@dataclass(frozen=True)
class Finding:
    rule: str  # no_gpu, cpu_fallbacks, step_overhead, input_bound, memory_pressure, retracing, xla
    title: str  # short: the header shows it
    evidence: str  # the numbers
    change: str  # what to try
    score: float  # rank: share of time at stake where measured, else a fixed rank
    subject: str = ""  # what it is about (layers, functions): a new subject is a new finding

    @property
    def key(self) -> tuple[str, str]:
        return self.rule, self.subject

    def to_dict(self) -> dict:
        return asdict(self)


def _clamp(x: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, x))


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 0.1 else f"{seconds:.2f} s"


# -- 1 ------------------------------------------------------------------------


def no_gpu(f: RunFacts) -> Finding | None:
    """No GPU visible (the doctor's reason), or one visible and every compute op on the CPU."""
    p = f.placement
    cpu, gpu = p.compute_nodes.get("CPU", 0), p.compute_nodes.get("GPU", 0)
    if not p.gpu_visible:
        if not (f.perf.devices_listed or cpu):
            return None  # devices not read yet: no claim either way
        problems = sorted(p.problem_findings(), key=lambda x: x.get("status") != "fail")
        devices = [d.get("name", "").rsplit("device:", 1)[-1] for d in p.devices.get("physical", [])]
        evidence = f"TensorFlow lists {', '.join(devices) or 'no GPU'}"
        evidence += f"; {cpu} compute ops placed on the CPU" if cpu else ""
        if problems:
            evidence += f"; doctor: {problems[0]['message']}"
        change = problems[0].get("fix") if problems and problems[0].get("fix") else "run `tfmon doctor`"
        # A machine with no GPU at all cannot be fixed from the script: ranked last.
        hardware = any(x.get("check") == "nvidia_driver" and x.get("status") == "fail" for x in problems)
        return Finding("no_gpu", "no GPU in use: TensorFlow sees none", evidence, change,
                       0.15 if hardware else 0.95, "none visible")
    if gpu or cpu < 5 or not f.perf.steps_run:
        return None
    gpus = ", ".join(g.get("device", "GPU") for g in p.devices.get("gpus", [])) or "a GPU"
    groups = p.fallback_groups()
    evidence = f"{gpus} visible, but all {cpu} compute ops ran on the CPU"
    change = "look for a tf.device('/CPU:0') around the model or a dtype the GPU lacks"
    if groups:
        evidence += f"; e.g. {groups[0]['op']}: {groups[0]['reason']}"
        change = groups[0]["advice"] or change
    return Finding("no_gpu", "GPU visible but unused: every op on the CPU", evidence, change, 0.95, "all on CPU")


# -- 2 ------------------------------------------------------------------------


def _runs_per_step(f: RunFacts, fb: dict) -> float:
    """How often a fallback runs per training step: a graph node once per call of its
    function (one per step); an eager op as often as it was executed per step."""
    if not fb.get("eager"):
        return 1.0
    row = f.placement.op_rows.get((fb["op"], fb["device"]))
    steps = max(f.perf.steps_run, 1)
    return (row.eager / steps) if row is not None and row.eager else 0.0


def cpu_fallbacks(f: RunFacts) -> Finding | None:
    """CPU fallbacks weighted by op weight, runs per step, and whether inside the step."""
    p = f.placement
    if not (p.gpu_visible and p.fallbacks and p.compute_nodes.get("GPU")):
        return None
    cost_by_layer: dict[str, float] = {}
    ops_by_layer: dict[str, set[str]] = {}
    in_step = 0
    for fb in p.fallbacks:
        # A graph node under a layer's (or the loss', the optimizer's) scope is in the
        # step; one without a layer may be (metrics) or not (a shuffle): counted as outside.
        inside = fb.get("phase") in PHASES and not fb.get("eager") and bool(fb.get("layer"))
        in_step += inside
        cost = float(fb.get("weight", 1.0)) * _runs_per_step(f, fb) * (1.0 if inside else OUTSIDE_STEP_FACTOR)
        layer = fb.get("layer") or NO_LAYER
        cost_by_layer[layer] = cost_by_layer.get(layer, 0.0) + cost
        ops_by_layer.setdefault(layer, set()).add(f"{fb['op']} {fb.get('phase') or ''}".strip())
    total = sum(cost_by_layer.values())
    if total < FALLBACK_MIN_COST:
        return None
    gpu_cost = sum(row.weight * row.nodes for row in p.op_rows.values()
                   if device_type(row.device) == "GPU" and is_compute(row.op))
    # Layers the user can change first; "(no layer)" only when nothing else is left.
    top = sorted(cost_by_layer.items(), key=lambda kv: (kv[0] == NO_LAYER, -kv[1]))[:3]
    named = "; ".join(f"{layer}: {', '.join(sorted(ops_by_layer[layer])[:3])}" for layer, _ in top)
    evidence = (f"{len(p.fallbacks)} compute ops on the CPU ({in_step} inside the training step), "
                f"cost {total:.0f} per step against {gpu_cost:.0f} on the GPU; {named}")
    # What to try for the costliest layer: its heaviest group's advice (groups come heaviest first).
    groups = p.fallback_groups()
    first = top[0][0] if top[0][0] != NO_LAYER else ""
    group = next((g for g in groups if g["layer"] == first), groups[0])
    change = group["advice"] or "see the Fallbacks pane"
    score = _clamp(total / (total + gpu_cost) if gpu_cost else 0.9, 0.1, 0.9)
    return Finding("cpu_fallbacks", f"CPU fallbacks: {', '.join(layer for layer, _ in top)}", evidence,
                   change, score, ",".join(sorted(layer for layer, _ in top)))


# -- 3 ------------------------------------------------------------------------


def steady_step(f: RunFacts) -> tuple[float, int] | None:
    """Median seconds per step after each epoch's first call in this fit, and epochs used."""
    steps = [t.steady_step_s for t in f.perf.epochs if t.steady_step_s is not None]
    return (statistics.median(steps), len(steps)) if steps else None


def suggested_steps_per_execution(step_s: float, steps_per_epoch: int | None) -> int:
    k = 8
    while k * step_s < EXECUTION_TARGET_S and k < 256:
        k *= 2
    return min(k, steps_per_epoch) if steps_per_epoch else k


def step_overhead(f: RunFacts) -> Finding | None:
    """Steps of a few milliseconds with steps_per_execution = 1."""
    if f.perf.loop != "keras" or f.perf.steps_per_execution != 1:
        return None  # a custom loop, or steps_per_execution unknown or already set
    measured = steady_step(f)
    if measured is None or measured[0] >= STEP_OVERHEAD_S:
        return None
    step_s, n = measured
    k = suggested_steps_per_execution(step_s, f.info.steps_per_epoch)
    evidence = (f"{_ms(step_s)} per step ({1 / step_s:.0f} steps/s, median of {n} epoch{'s' if n != 1 else ''}) "
                "with steps_per_execution=1: Keras returns to Python and runs the callbacks after every step")
    change = f"model.compile(..., steps_per_execution={k}): {k} steps per call (callbacks see every {k}th batch)"
    score = _clamp(0.5 + 0.4 * (1 - step_s / STEP_OVERHEAD_S), 0.5, 0.9)
    return Finding("step_overhead", f"per-step overhead: {_ms(step_s)} steps", evidence, change, score)


# -- 4 ------------------------------------------------------------------------


def _input_change(f: RunFacts) -> str:
    ds = f.perf.dataset
    if ds is None:
        steps = (".cache() (if the data fit in memory), map(..., num_parallel_calls=tf.data.AUTOTUNE), "
                 ".prefetch(tf.data.AUTOTUNE) last")
        if f.perf.input_kind == "other":  # arrays or a generator given to fit
            return f"feed fit a tf.data pipeline: {steps}"
        return f"in the input pipeline (tfmon cannot see it): {steps}"
    missing, todo = [], []
    if not ds.get("cache"):
        missing.append("cache()")
        todo.append(".cache() after the costly maps (in memory, or cache(filename))")
    if ds.get("maps"):
        missing.append("num_parallel_calls")
        todo.append("num_parallel_calls=tf.data.AUTOTUNE on its map")
    if not ds.get("prefetch"):
        missing.append("prefetch()")
        todo.append(".prefetch(tf.data.AUTOTUNE) last")
    if not missing:
        return ("the dataset passed to fit already caches and prefetches: make its source faster "
                "(interleave(..., num_parallel_calls=tf.data.AUTOTUNE) over files, fewer Python maps)")
    text = f"the dataset passed to fit lacks {', '.join(missing)}: add {'; '.join(todo)}"
    if ds.get("py_function"):
        text += " (its map calls Python: py_function holds the GIL, cache() its results)"
    return text


def _epoch_start_waits(f: RunFacts) -> tuple[float, float, float, list[int]] | None:
    """(median wait, median steady step, median share of the epoch, epochs) when the first
    batch of most epochs after the first (which traces) waits for data."""
    judged = [t for t in f.perf.epochs if t.epoch >= 2 and t.start_wait_s is not None]
    slow = [t for t in judged
            if t.start_wait_s >= START_WAIT_MIN_S and t.first_s >= START_WAIT_FACTOR * t.steady_step_s * t.first_steps
            and t.start_wait_s >= START_WAIT_SHARE * t.train_s]
    if len(slow) < 2 or len(slow) * 3 < len(judged) * 2:
        return None
    return (statistics.median(t.start_wait_s for t in slow), statistics.median(t.steady_step_s for t in slow),
            statistics.median(t.start_wait_s / t.train_s for t in slow), [t.epoch for t in slow])


def _low_utilisation(f: RunFacts) -> tuple[float, float, int, str] | None:
    samples = list(f.perf.util)
    if len(samples) < MIN_UTIL_SAMPLES:
        return None
    cpu = statistics.median(s[0] for s in samples)
    gpu = statistics.median(s[1] for s in samples)
    if gpu >= GPU_IDLE_PCT or cpu < CPU_BUSY_PCT:
        return None
    return gpu, cpu, len(samples), samples[-1][2]


def input_bound(f: RunFacts) -> Finding | None:
    """The GPU idles while the process's CPU is busy, or every epoch starts waiting for data."""
    waits, util = _epoch_start_waits(f), _low_utilisation(f)
    if waits is None and util is None:
        return None
    parts, scores, subject = [], [], []
    if util is not None:
        gpu, cpu, n, source = util
        parts.append(f"{source} busy {gpu:.0f}% while the process uses {cpu:.0f}% CPU (median of {n} samples)")
        scores.append(0.8 * (1 - gpu / 100))
        subject.append("utilisation")
    if waits is not None:
        wait, step, share, epochs = waits
        span = f"{epochs[0]}-{epochs[-1]}" if len(epochs) > 1 else str(epochs[0])
        parts.append(f"the first batch of epochs {span} waits {_ms(wait)} for data "
                     f"({wait / step:.0f}x a later step of {_ms(step)}): {share:.0%} of each epoch")
        scores.append(share)
        subject.append("epoch start")
    title = "input-bound: " + ("the GPU waits for data" if util is not None else "each epoch waits for data")
    return Finding("input_bound", title, "; ".join(parts), _input_change(f), _clamp(max(scores), 0.1, 0.9),
                   "+".join(subject))


# -- 5 ------------------------------------------------------------------------


def memory_pressure(f: RunFacts) -> Finding | None:
    """Swap growing, system memory nearly full, the GPU near its limit, or a leak."""
    m = f.memory
    kinds = {w.get("kind"): w for w in m.warnings}
    trend = ""
    if m.epochs:
        rss = [e.get("rss_mb") for e in list(m.epochs)[-5:] if isinstance(e.get("rss_mb"), (int, float))]
        if len(rss) >= 2:
            trend = f"; process memory at the last epoch ends: {', '.join(f'{x:.0f}' for x in rss)} MB"
    batch = f.info.batch_size
    smaller = f"a smaller batch size{f' (now {batch})' if batch else ''}"
    if "swap_growing" in kinds:
        w = kinds["swap_growing"]
        return Finding("memory_pressure", "memory pressure: swapping while training",
                       f"swap grew to {w.get('swap_used_mb', 0):.0f} MB while training" + trend,
                       f"{smaller}; with a GPU, --memory-growth", 0.85, "swap")
    for kind, what in (("system_memory", "system memory"), ("gpu_limit", "GPU memory")):
        if kind in kinds:
            w = kinds[kind]
            figure = f"{w['pct']:.0f}% used" if "pct" in w else f"{w.get('gpu_mb', 0):.0f} of {w.get('total_mb', 0):.0f} MB"
            return Finding("memory_pressure", f"memory pressure: {what} nearly full", f"{what} {figure}" + trend,
                           f"{smaller}; with a GPU, --memory-growth", 0.7, kind)
    if "leak" in kinds:
        w = kinds["leak"]
        latest = m.epochs[-1] if m.epochs else {}
        slope = latest.get("rss_slope_mb") if w.get("series") != "gpu" else latest.get("gpu_slope_mb")
        slope = slope if isinstance(slope, (int, float)) else w.get("slope_mb", 0)
        what = "GPU memory" if w.get("series") == "gpu" else "process memory"
        return Finding("memory_pressure", f"memory grows every epoch: {slope:+.0f} MB/epoch",
                       f"{what} {slope:+.0f} MB/epoch over {latest.get('n', w.get('epochs'))} epochs" + trend,
                       "find what keeps references each epoch (a Python list of tensors or arrays, a tf.data "
                       "cache() of a growing dataset, models built in a loop: keras.backend.clear_session())",
                       0.4, "leak")
    return None


# -- 6 ------------------------------------------------------------------------


def retracing(f: RunFacts) -> Finding | None:
    """TensorFlow's "triggered tf.function retracing" warnings, per function."""
    if not f.perf.retraces:
        return None
    ranked = sorted(f.perf.retraces.items(), key=lambda kv: (-kv[1]["traced"], kv[0]))
    evidence = "; ".join(f"{name}: {r['traced']} of its last {r['calls']} calls traced again "
                         f"({r['warnings']} warning{'s' if r['warnings'] != 1 else ''})" for name, r in ranked[:3])
    change = ("call it with tensors of one shape and dtype (pad or bucket the inputs), or give it "
              "input_signature=[tf.TensorSpec([None, ...])] or reduce_retracing=True; define tf.function "
              "outside loops and pass tensors, not Python numbers")
    return Finding("retracing", f"retracing: {ranked[0][0]}", evidence, change, 0.5,
                   ",".join(sorted(f.perf.retraces)))


# -- 7 ------------------------------------------------------------------------


def xla(f: RunFacts) -> Finding | None:
    """XLA asked for (jit_compile) on a device that has no XLA compiler."""
    p = f.perf
    if not p.xla_errors:
        return None
    where = f"platform {p.xla_platform}" if p.xla_platform else "this device"
    evidence = f"XLA failed: {p.xla_message}" + (f" ({p.xla_errors} messages)" if p.xla_errors > 1 else "")
    change = (f"model.compile(..., jit_compile=False) and drop tf.function(jit_compile=True): "
              f"XLA has no compiler for {where}")
    return Finding("xla", f"XLA cannot compile for {where}", evidence, change, 1.0)


RULES: tuple[Callable[[RunFacts], Finding | None], ...] = (
    no_gpu, cpu_fallbacks, step_overhead, input_bound, memory_pressure, retracing, xla,
)


def diagnose(f: RunFacts) -> list[Finding]:
    """Every rule's finding, highest score first (ties: in rule order)."""
    found = [finding for rule in RULES if (finding := rule(f)) is not None]
    return sorted(found, key=lambda x: -x.score)
