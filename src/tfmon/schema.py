"""What a well-formed event looks like, for readers of recordings that may be damaged.

A live run's events come from tfmon's own code; a recording read back
(``replay``, ``attach``, ``ls``) may hold anything: a torn write, a disk error,
another program, another tfmon version. ``problem(event)`` says why an event
cannot be shown (None when it can): the fields the state and panes read must
have the types docs/events.md gives them. Fields nobody reads are not checked.
"""

from __future__ import annotations

import math
from typing import Any

from tfmon import events
from tfmon.events import Event

NUM = (int, float)
LIST = (list, tuple)

#: Per type, field -> accepted types. A field may be absent or null unless REQUIRED.
FIELDS: dict[str, dict[str, tuple[type, ...]]] = {
    events.RUN_START: {"script": (str,), "run_dir": (str,), "pid": (int,)},
    events.STATUS: {"state": (str,), "detail": (str,)},
    events.TF_IMPORTED: {"tf_version": (str,)},
    events.ENVIRONMENT: {"findings": LIST},
    events.HEARTBEAT: {"pid": (int,)},
    events.HANGUP: {"reason": (str,)},
    events.RUN_END: {"exit_code": (int,), "state": (str,), "error": (str,), "error_type": (str,), "signal": (str,)},
    events.FIT_START: {"fit": (int,), "epochs": (int,), "steps": (int,), "batch_size": (int,), "loop": (str,)},
    events.EPOCH_START: {"epoch": (int,)},
    events.BATCH: {"epoch": (int,), "step": (int,), "global_step": (int,), "logs": (dict,)},
    events.EPOCH_END: {"epoch": (int,), "steps": (int,), "global_step": (int,), "metrics": (dict,), "seconds": NUM},
    events.FIT_END: {"fit": (int,), "epochs_done": (int,), "reason": (str,)},
    events.EVALUATE_END: {"metrics": (dict,)},
    events.PREDICT_END: {"batches": (int,), "seconds": NUM},
    events.VERDICT: {"fit": (int,), "epoch": (int,), "findings": LIST},
    events.SCALAR: {"name": (str,), "run": (str,), "step": (int,), "value": NUM},
    events.LOG: {"stream": (str,), "text": (str,), "level": (str,)},
    events.CONTROL: {"action": (str,), "source": (str,)},
    events.PAUSED: {"epoch": (int,), "step": (int,)},
    events.RESUMED: {"seconds": NUM},
    events.CHECKPOINT: {"ok": (bool,), "path": (str,), "size": NUM, "epoch": (int,), "step": (int,), "error": (str,), "note": (str,)},
    events.NOTICE: {"severity": (str,), "text": (str,)},
    events.MEMORY: {},  # every *_mb, *_pct, *_ms field: a number (below)
    events.MEMORY_EPOCH: {"epoch": (int,), "n": (int,), "rss_mb": NUM, "gpu_mb": NUM, "gpu_src": (str,)},
    events.MEMORY_WARNING: {"kind": (str,), "message": (str,)},
    events.PLACEMENT: {"nodes": LIST, "eager": (dict,)},
    events.FALLBACK: {"node": (str,), "op": (str,), "device": (str,), "layer": (str,), "phase": (str,), "weight": NUM,
                 "reason": (str,), "advice": (str,)},
    events.DEVICES: {"backend": (str,), "accelerator": (str,), "gpus": LIST, "physical": LIST, "logical": LIST},
    events.TF_WARNING: {"code": (str,), "severity": (str,), "message": (str,), "advice": (str,)},
}
REQUIRED: dict[str, tuple[str, ...]] = {
    events.STATUS: ("state",),
    events.EPOCH_START: ("epoch",),
    events.BATCH: ("step",),
    events.EPOCH_END: ("epoch",),
    events.CONTROL: ("action",),
    events.LOG: ("text",),
    events.PLACEMENT: ("nodes",),
}
#: Mappings of metric name -> number (or "nan"/"inf": JSON has no NaN).
METRICS = ("logs", "metrics")


def problem(e: Any) -> str | None:
    """Why this event cannot be shown, or None."""
    if not isinstance(e, dict):
        return "not a JSON object"
    kind = e.get("type")
    if not isinstance(kind, str):
        return "no type"
    t = e.get("t")
    if not isinstance(t, NUM) or isinstance(t, bool) or not math.isfinite(t):
        return "no time"
    fields = FIELDS.get(kind)
    if fields is None:
        return f"unknown type {kind!r}"
    for name in REQUIRED.get(kind, ()):
        if e.get(name) is None:
            return f"{kind} without {name}"
    for name, types in fields.items():
        value = e.get(name)
        if value is None:
            continue
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            return f"{kind}.{name} is {type(value).__name__}"
    for name in METRICS:
        values = e.get(name)
        if isinstance(values, dict) and not all(isinstance(v, (*NUM, str)) or v is None for v in values.values()):
            return f"{kind}.{name} holds a value that is not a number"
    if kind == events.MEMORY and not all(
        isinstance(v, NUM) or v is None for k, v in e.items() if k.endswith(("_mb", "_pct", "_ms"))
    ):
        return "memory figure that is not a number"
    if kind == events.PLACEMENT and not _placement_ok(e):
        return "placement nodes or eager counts malformed"
    return None


def _placement_ok(e: Event) -> bool:
    nodes, eager = e.get("nodes"), e.get("eager") or {}
    return all(
        isinstance(n, LIST) and len(n) >= 3 and all(isinstance(x, str) for x in n[:3]) for n in nodes
    ) and all(isinstance(k, str) and isinstance(v, int) for k, v in eager.items())
