"""Parse TensorFlow's device-placement log lines.

Formats (all in tests/fixtures/tf-logs):

* bare, on C stdout:        ``name: (OpType): /job:localhost/replica:0/task:0/device:GPU:0``
* the same behind the old glog prefix (TF <= 2.15, and the Metal plugin today):
  ``2023-06-25 14:50:07.735873: I tensorflow/core/common_runtime/placer.cc:114] ``
* or behind the absl prefix (TF >= 2.16): ``I0000 00:00:1795634819.880965    8434 placer.cc:162] ``
* eager execution, stderr only: ``[prefix]Executing op MatMul in device /job:.../device:CPU:0``

The prefix's source file and line number are matched as "anything up to ``] ``"
because they drift between TensorFlow versions.
"""

from __future__ import annotations

import re
from typing import Union

# One optional prefix, either style. Only its shape matters, never its content.
_PREFIX = (
    r"(?:\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] \S+\] "  # glog
    r"|[IWEF]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+\] )"  # absl (seconds can be epoch seconds)
)
# A single regex for both line kinds keeps the hot path at one match call.
# Device names always start with /job: or /device: in these lines, which keeps
# a user's print("x: (y): z") from being taken for a placement.
_LINE = re.compile(
    r"(" + _PREFIX + r")?"
    r"(?:Executing op (\S+) in device (/(?:job|device):\S+)"
    r"|(\S+): \(([\w>.]+)\): (/(?:job|device):\S+))$"
)
_DEVICE = re.compile(r"device:([A-Za-z_]+):(\d+)$")

#: ("node", name, op, device, prefixed)
NodeLine = tuple[str, str, str, str, bool]
#: ("eager", op, device, prefixed)
EagerLine = tuple[str, str, str, bool]
Parsed = Union[NodeLine, EagerLine]

_device_cache: dict[str, str] = {}


def normalize_device(device: str) -> str:
    """``/job:localhost/replica:0/task:0/device:GPU:0`` -> ``GPU:0``.

    Job, replica and task are dropped: tfmon shows one process's devices.
    Unknown shapes are returned unchanged rather than guessed at.
    """
    short = _device_cache.get(device)
    if short is None:
        m = _DEVICE.search(device)
        short = f"{m.group(1).upper()}:{m.group(2)}" if m else device
        if len(_device_cache) < 4096:  # a handful in practice; bound it anyway
            _device_cache[device] = short
    return short


def parse_line(line: str) -> Parsed | None:
    """A placement or eager-execution line, or None for anything else."""
    m = _LINE.match(line)
    if m is None:
        return None
    prefixed, eager_op, eager_dev, name, op, dev = m.groups()
    if eager_op is not None:
        return ("eager", eager_op, normalize_device(eager_dev), prefixed is not None)
    return ("node", name, op, normalize_device(dev), prefixed is not None)


_STRIP_PREFIX = re.compile(_PREFIX)


def strip_prefix(line: str) -> str:
    """The message part of a glog/absl line (the line itself if unprefixed)."""
    m = _STRIP_PREFIX.match(line)
    return line[m.end():] if m else line


def device_type(device: str) -> str:
    """``GPU:0`` -> ``GPU``."""
    return device.partition(":")[0]
