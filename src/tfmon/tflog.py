"""TensorFlow's C++ log lines: the one place that knows their prefix.

Both prefix styles are in tests/fixtures/tf-logs:

* glog (TF <= 2.15, and the Metal plugin today):
  ``2023-06-25 14:50:07.735873: I tensorflow/core/common_runtime/placer.cc:114] ``
* absl (TF >= 2.16): ``I0000 00:00:1795634819.880965    8434 placer.cc:162] ``

The prefix's source file and line number are matched as "anything up to ``]``"
because they drift between TensorFlow versions. ``read`` answers what a line
is; the log path (``probes/capture``) asks for its severity, the placement path
(``placement/``) for its body and its placement lines:

* a graph node, bare on C stdout or prefixed on stderr:
  ``name: (OpType): /job:localhost/replica:0/task:0/device:GPU:0``
* eager execution, stderr only: ``[prefix]Executing op MatMul in device /job:.../device:CPU:0``
"""

from __future__ import annotations

import re
from typing import NamedTuple, Union

# Only the prefix's shape matters, never its content (seconds can be epoch seconds).
PREFIX = (
    r"(?:\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: (?P<glog>[IWEF]) \S+\]"  # glog
    r"|(?P<absl>[IWEF])\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+\])"  # absl
)
#: A prefix ends within this many characters (a cheap ``find("] ", 0, PREFIX_MAX)``).
PREFIX_MAX = 120
SEVERITIES = {"I": 0, "W": 1, "E": 2, "F": 3}
LEVEL_NAMES = ("info", "warning", "error", "fatal")

_PREFIX = re.compile(PREFIX + " ?")
# A single regex for both placement line kinds keeps the hot path at one match
# call. Device names always start with /job: or /device: in these lines, which
# keeps a user's print("x: (y): z") from being taken for a placement.
_LINE = re.compile(
    r"(" + PREFIX + r" )?"
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


class TFLine(NamedTuple):
    severity: int  # 0-3: INFO, WARNING, ERROR, FATAL
    body: str  # the message after the prefix
    kind: str  # "node" (a graph node's placement), "eager" (an eagerly executed op) or ""


def read(line: str) -> TFLine | None:
    """What a TensorFlow C++ log line is; None for a line without the prefix."""
    m = _PREFIX.match(line)
    if m is None:
        return None
    parsed = parse_line(line)
    kind = "" if parsed is None else parsed[0]
    return TFLine(SEVERITIES[m.group("glog") or m.group("absl")], line[m.end():], kind)


def severity(line: str) -> int | None:
    """0-3 for a TensorFlow C++ log line (INFO..FATAL), None for anything else."""
    m = _PREFIX.match(line)
    return None if m is None else SEVERITIES[m.group("glog") or m.group("absl")]


def body(line: str) -> str:
    """The message part of a TensorFlow log line (the line itself if unprefixed)."""
    m = _PREFIX.match(line)
    return line[m.end():] if m else line


def parse_line(line: str) -> Parsed | None:
    """A placement or eager-execution line, or None for anything else."""
    m = _LINE.match(line)
    if m is None:
        return None
    prefixed, _glog, _absl, eager_op, eager_dev, name, op, dev = m.groups()
    if eager_op is not None:
        return ("eager", eager_op, normalize_device(eager_dev), prefixed is not None)
    return ("node", name, op, normalize_device(dev), prefixed is not None)


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


def device_type(device: str) -> str:
    """``GPU:0`` -> ``GPU``."""
    return device.partition(":")[0]
