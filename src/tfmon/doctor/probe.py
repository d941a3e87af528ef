"""The doctor's real probe: a small matmul and conv2d with placement logging.

It runs in a subprocess so that ``TF_CPP_MIN_LOG_LEVEL=0`` is in place before
TensorFlow is imported (the C++ log level is read once, at import) and so that
a broken install (a Metal plugin that kills ``import tensorflow``) cannot take
the doctor down with it. Its stdout and stderr are read back through the same
``PlacementProbe`` the live monitor uses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tfmon.events import DEVICES, FALLBACK, PLACEMENT, TF_WARNING
from tfmon.placement import rules
from tfmon.placement.probe import PlacementProbe

MARKER = "TFMON_PROBE "
PROBE_OPS = ("MatMul", "Conv2D")

# Eager ops give "Executing op" lines, the tf.function gives graph placements.
SCRIPT = r"""
import json, sys
import tensorflow as tf
tf.debugging.set_log_device_placement(True)
info = {
    "tf_version": tf.__version__,
    "physical": [[d.name, d.device_type] for d in tf.config.list_physical_devices()],
}
a = tf.random.uniform((64, 64))
x = tf.random.uniform((1, 16, 16, 3))
k = tf.random.uniform((3, 3, 3, 8))
tf.matmul(a, a)
tf.nn.conv2d(x, k, 1, "SAME")

@tf.function
def step(a, x, k):
    return tf.reduce_sum(tf.matmul(a, a)) + tf.reduce_sum(tf.nn.conv2d(x, k, 1, "SAME"))

info["result"] = float(step(a, x, k))

# The GPU plugin libraries loaded into this process (Linux: its memory map).
try:
    from tfmon.doctor.facts import find_gpu_plugins
    plugins = find_gpu_plugins()
    with open("/proc/self/maps") as maps:
        mapped = maps.read()
    plugins = [p for p in plugins if p in mapped]
except OSError:
    pass  # no /proc (macOS): every plugin found is loaded at import
except ImportError:
    plugins = []
info["plugins"] = list(plugins)

# The kernel registry, for the fallback reasons (the doctor itself never imports TF).
from tensorflow.core.framework import types_pb2
from tensorflow.python.framework import kernels
registry = {}
for kernel in kernels.get_all_registered_kernels().kernel:
    if kernel.device_type.startswith("XLA_"):
        continue
    dtypes = registry.setdefault(kernel.op, {}).setdefault(kernel.device_type, set())
    for c in kernel.constraint:
        if c.name in ("T", "dtype"):
            dtypes.update(types_pb2.DataType.Name(v) for v in c.allowed_values.list.type)
info["registry"] = {op: {dev: sorted(d) for dev, d in devs.items()} for op, devs in registry.items()}
print("TFMON_PROBE " + json.dumps(info), flush=True)
"""


def run_probe(python: str = sys.executable, timeout: float = 300.0) -> dict:
    """Run the probe; returns ``{"ok", "error", "tf_version", "physical", "placed",
    "fallbacks", "warnings", "devices"}`` where ``placed`` maps each probe op to
    the devices it ran on."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="0", PYTHONUNBUFFERED="1")
    try:
        proc = subprocess.run(
            [python, "-c", SCRIPT], capture_output=True, env=env, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"the probe did not finish in {timeout:.0f} s", "placed": {}}
    return read_probe_output(
        proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"), proc.returncode
    )


def read_probe_output(stdout: str, stderr: str, returncode: int) -> dict:
    """Parse a probe's captured output (pure: tests feed it captured text)."""
    info: dict = {}
    for line in stdout.splitlines():
        if line.startswith(MARKER):
            try:
                info = json.loads(line[len(MARKER):])
            except ValueError:
                pass
    table = {
        op: {dev: [rules.dtype_name(d) for d in dtypes] for dev, dtypes in devs.items()}
        for op, devs in (info.get("registry") or {}).items()
    }
    events: list[dict] = []
    probe = PlacementProbe(
        lambda type_, **f: events.append({"type": type_, **f}),
        registry=rules.static_registry(table) if table else None,
    )
    for stream, text in (("stderr", stderr), ("stdout", stdout)):
        for line in text.splitlines():
            if not line.startswith(MARKER):
                probe.feed(stream, line)
    if any(kind == "GPU" for _, kind in info.get("physical", [])):
        probe.set_gpu_visible(True)
    probe.flush()
    placed: dict[str, list[str]] = {}
    for ev in events:
        if ev["type"] != PLACEMENT:
            continue
        pairs = [(op, dev) for _, op, dev in ev["nodes"]]
        pairs += [tuple(key.rsplit("@", 1)) for key in ev["eager"]]
        for op, dev in pairs:
            if op in PROBE_OPS and dev not in placed.setdefault(op, []):
                placed[op].append(dev)
    result = {
        "ok": returncode == 0 and bool(info),
        "tf_version": info.get("tf_version"),
        "physical": info.get("physical", []),
        "plugins": info.get("plugins", []),
        "placed": placed,
        "fallbacks": [e for e in events if e["type"] == FALLBACK],
        "warnings": [e for e in events if e["type"] == TF_WARNING],
        "devices": next((e for e in reversed(events) if e["type"] == DEVICES), None),
    }
    if not result["ok"]:
        tail = [l for l in stderr.strip().splitlines() if l.strip()][-3:]
        result["error"] = f"exit code {returncode}: " + (" | ".join(tail) or "no output")
    return result
