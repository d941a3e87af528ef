"""Known TensorFlow / tensorflow-metal messages worth raising, with advice.

Each pattern comes from a real capture (tests/fixtures/tf-logs/
warnings-seen-on-macs.log and metal-errors.log). ``match_warning`` works on a
whole log line, prefixed or not, from C++ logs or from Python warnings/logging,
so the lead's Python capture can use it too.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from tfmon.tflog import body


class KnownWarning(NamedTuple):
    code: str
    severity: str  # "info" | "warning" | "error"
    pattern: re.Pattern[str]
    advice: str


# Cheap substring pre-filter: a line reaches the regexes only if it has one.
_TRIGGERS = (
    "M1/M2", "ran out of data", "registered platform", "already registered",
    "OpKernel for 'GPU'", "Supported device types [CPU]", "explicit device specification",
    "libmetal_plugin", "Symbol not found", "Could not find cuda drivers",
    "Could not find compiler for platform",
)

KNOWN_WARNINGS: tuple[KnownWarning, ...] = (
    KnownWarning(
        "slow_optimizer_m1",
        "warning",
        re.compile(r"v2\.11\+ (?:Keras )?optimizers?.*M1/M2 Macs"),
        "The v2.11+ tf.keras optimizers run slowly on M1/M2 with tensorflow-metal: use "
        "tf.keras.optimizers.legacy.Adam (tf.keras 2), or move to Keras 3 where this "
        "warning does not apply.",
    ),
    KnownWarning(
        "input_ran_out",
        "warning",
        re.compile(r"[Yy]our input ran out of data"),
        "The dataset ended before steps_per_epoch * epochs batches: add .repeat() to "
        "the tf.data pipeline or lower steps_per_epoch; the epoch stopped early.",
    ),
    KnownWarning(
        "xla_platform_not_found",
        "error",
        re.compile(r"could not find registered platform with id"),
        "XLA is not supported by tensorflow-metal: pass jit_compile=False to "
        "model.compile() and drop tf.function(jit_compile=True).",
    ),
    KnownWarning(
        "xla_no_compiler",
        "error",
        # Seen on a PluggableDevice with no XLA backend (tests/simgpu's SIMGPU platform).
        re.compile(r"Could not find compiler for platform (\w+)"),
        "XLA has no compiler for this GPU platform, and Keras 3 turns jit_compile on when it "
        "sees a GPU (it knows only Metal on macOS arm64 has none): pass jit_compile=False to "
        "model.compile() and drop tf.function(jit_compile=True).",
    ),
    KnownWarning(
        "plugin_registered_twice",
        "error",
        re.compile(r'platform is already registered with name: "(\w+)"'),
        "The GPU plugin is loaded twice: two copies of tensorflow-metal are installed "
        "(user site-packages and the venv?). `pip uninstall tensorflow-metal` until none "
        "is left, then install it once in the venv.",
    ),
    KnownWarning(
        "no_gpu_kernel_error",
        "error",
        re.compile(
            r"No registered '(\w+)' OpKernel for 'GPU' devices"
            r"|Could not satisfy device specification .*Supported device types \[CPU\]"
            r"|Cannot assign a device for operation \S+: Could not satisfy explicit device"
        ),
        "This op has no GPU kernel (a tensorflow-metal gap) and was pinned to the GPU: "
        "enable soft placement (tf.config.set_soft_device_placement(True)), wrap it in "
        "tf.device('/CPU:0'), or replace the layer that uses it.",
    ),
    KnownWarning(
        "metal_plugin_load_failed",
        "error",
        re.compile(
            r"libmetal_plugin\.dylib.*Library not loaded"
            r"|Symbol not found: __ZN10tensorflow"
        ),
        "tensorflow-metal does not match this TensorFlow: use tensorflow 2.18.x or "
        "2.19.x with tensorflow-metal 1.2.0 on Python <= 3.12 (TF 2.20+ breaks it), or "
        "`pip uninstall tensorflow-metal` to run on the CPU. `tfmon doctor` checks the pair.",
    ),
    KnownWarning(
        "cuda_driver_missing",
        "info",
        re.compile(r"Could not find cuda drivers on your machine, GPU will not be used"),
        "No NVIDIA driver on this machine: TensorFlow runs on the CPU. "
        "On a GPU machine install the driver and `pip install 'tensorflow[and-cuda]'`.",
    ),
)


def match_warning(line: str) -> dict | None:
    """``{"code", "severity", "message", "advice"}`` for a known message, else None."""
    for trigger in _TRIGGERS:
        if trigger in line:
            break
    else:
        return None
    for known in KNOWN_WARNINGS:
        if known.pattern.search(line):
            return {
                "code": known.code,
                "severity": known.severity,
                "message": body(line).strip(),
                "advice": known.advice,
            }
    return None
