"""The event model shared by the probes, the recorder, replay and the UI.

An event is a plain dict ``{"type": str, "t": float, ...fields}`` holding only
JSON values. Plain dicts keep the per-batch hot path cheap (no class to build,
no conversion before writing) and make ``events.jsonl`` the same thing the UI
folds. Every type and field is documented in ``docs/events.md``.

No TensorFlow or Textual import here: this module is imported everywhere.
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable

Event = dict[str, Any]
Emit = Callable[..., None]

#: Bumped when a field changes meaning; replay accepts any older version.
SCHEMA_VERSION = 1

# Run lifecycle
RUN_START = "run_start"
STATUS = "status"
TF_IMPORTED = "tf_imported"
ENVIRONMENT = "environment"
HEARTBEAT = "heartbeat"
HANGUP = "hangup"
RUN_END = "run_end"
# Keras / training
FIT_START = "fit_start"
EPOCH_START = "epoch_start"
BATCH = "batch"
EPOCH_END = "epoch_end"
FIT_END = "fit_end"
EVALUATE_END = "evaluate_end"
PREDICT_END = "predict_end"
SCALAR = "scalar"
# "Why is it slow?" (tfmon/verdict)
VERDICT = "verdict"
# Output
LOG = "log"
# Control
CONTROL = "control"
PAUSED = "paused"
RESUMED = "resumed"
CHECKPOINT = "checkpoint"
NOTICE = "notice"
# Placement (tfmon/placement: read from TensorFlow's log)
PLACEMENT = "placement"
FALLBACK = "fallback"
DEVICES = "devices"
TF_WARNING = "tf_warning"
# Memory (tfmon/memory)
MEMORY = "memory"
MEMORY_EPOCH = "memory_epoch"
MEMORY_WARNING = "memory_warning"

#: Run states, in the order a run normally goes through them ("pausing": asked,
#: not yet served at a batch boundary).
STATES = ("starting", "running", "pausing", "paused", "stopping", "finished", "failed")


def make(type_: str, **fields: Any) -> Event:
    """Build an event stamped with the current wall-clock time."""
    fields["type"] = type_
    if "t" not in fields:  # not setdefault: it would read the clock every time
        fields["t"] = time.time()
    return fields


def dumps(event: Event) -> str:
    """One JSON line; values that are not JSON (a stray numpy scalar) become strings."""
    return json.dumps(event, separators=(",", ":"), default=_jsonable)


def loads(line: str) -> Event | None:
    """Parse one line; None for a torn last line (the writer died mid-write)."""
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) and "type" in event else None


def _jsonable(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)
