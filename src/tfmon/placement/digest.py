"""A few lines that summarise CPU fallbacks, for headless output.

A 2-layer MLP on a GPU with a partial set of kernels has ~160 fallback nodes
(one event each): headless prints what fell back (ops, heaviest first), where
(layers), and why (the registry's answer, grouped), one line each, and points
at the run directory for every node's reason and advice.
"""

from __future__ import annotations

import time
from collections import defaultdict

from tfmon import events
from tfmon.placement import rules
from tfmon.placement.state import PlacementState

_SHOWN = 6  # names per line before "+N more"


def _names(items: list[str]) -> str:
    shown = ", ".join(items[:_SHOWN])
    return shown + (f" (+{len(items) - _SHOWN} more)" if len(items) > _SHOWN else "")


def _why(fallback: dict) -> str:
    code = fallback.get("reason_code")
    if code == rules.NO_GPU_KERNEL:
        return "no GPU kernel for float math"
    if code == rules.GPU_KERNEL_EXISTS:
        dtypes = fallback.get("gpu_dtypes") or ()
        if any(d not in dtypes for d in rules.FLOAT_DTYPES) and dtypes:
            taken = [d for d in rules.FLOAT_DTYPES if d in dtypes]
            return f"GPU kernel for {' and '.join(taken)} only"
        return "pinned to the CPU although a GPU kernel takes every float type"
    return "kernel registry unreadable"


class FallbackDigest:
    """Folds events; ``take_lines()`` summarises the fallbacks that came since the last call."""

    def __init__(self) -> None:
        self._state = PlacementState()  # knows the layers' own names (fit_start)
        self._pending = 0
        self.run_dir: str | None = None
        self.total = 0
        self.last_at = 0.0  # time.monotonic() of the last fallback

    def apply(self, event: dict) -> None:
        kind = event["type"]
        if kind == events.RUN_START:
            self.run_dir = event.get("run_dir")
        if kind not in (events.FALLBACK, events.FIT_START):
            return  # placement events: nothing to summarise here, and folding them costs
        self._state.apply(event)
        if kind == events.FALLBACK:
            self._pending += 1
            self.total += 1
            self.last_at = time.monotonic()

    @property
    def pending(self) -> bool:
        return self._pending > 0

    def take_lines(self) -> list[str]:
        if not self._pending:
            return []
        fallbacks = self._state.fallbacks[-self._pending :]
        self._pending = 0
        weight: dict[str, float] = defaultdict(float)
        by_layer: dict[str, set[str]] = defaultdict(set)
        by_why: dict[str, set[str]] = defaultdict(set)
        for fb in fallbacks:
            weight[fb["op"]] += float(fb.get("weight", 1.0))
            by_layer[fb.get("layer") or "(no layer)"].add(fb["op"])
            by_why[_why(fb)].add(fb["op"])
        ops = sorted(weight, key=lambda op: (-weight[op], op))
        layers = sorted(by_layer, key=lambda layer: (layer == "(no layer)", -len(by_layer[layer]), layer))
        first = self.total == len(fallbacks)
        more = "" if first else " more"
        where = self.run_dir or "the run directory"
        lines = [
            f"tfmon: warning: {len(fallbacks)}{more} CPU fallback node{'s' if len(fallbacks) != 1 else ''} "
            f"next to a visible GPU, {len(ops)} op type{'s' if len(ops) != 1 else ''}: {_names(ops)}",
            "tfmon:   layers: " + _names([f"{layer} ({_names(sorted(by_layer[layer]))})" if len(by_layer[layer]) <= 2
                                           else f"{layer} ({len(by_layer[layer])} ops)" for layer in layers]),
            "tfmon:   why: " + "; ".join(f"{why}: {_names(sorted(op_set, key=lambda op: (-weight[op], op)))}"
                                         for why, op_set in sorted(by_why.items(), key=lambda kv: -len(kv[1]))),
        ]
        if first:
            lines.append(
                f"tfmon:   every node, its reason and advice: `tfmon replay {where}` (Fallbacks pane), "
                f"or the \"fallback\" events in {where}/events.jsonl"
            )
        return lines
