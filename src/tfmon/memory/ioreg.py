"""Parse the Apple GPU's statistics out of ``ioreg -r -d 1 -w 0 -c IOAccelerator``.

On Apple Silicon the accelerator's registry entry carries a one-line
``"PerformanceStatistics" = {"key"=value,...}`` dictionary, readable without
sudo. Pure: text in, numbers out; the subprocess lives in ``sources.py``.
"""

from __future__ import annotations

import re

IOREG_COMMAND = ("ioreg", "-r", "-d", "1", "-w", "0", "-c", "IOAccelerator")

# ioreg key -> our field name. "In use system memory (driver)" reads 0 on the
# machines we have output from, so only the plain key counts; the exact-key
# regex below never confuses the two.
KEYS = {
    "Device Utilization %": "device_pct",
    "Renderer Utilization %": "renderer_pct",
    "Tiler Utilization %": "tiler_pct",
    "In use system memory": "in_use_bytes",
    "Alloc system memory": "alloc_bytes",
}

_STATS_LINE = re.compile(r'"PerformanceStatistics"\s*=\s*\{(.*)\}')
_PAIR = re.compile(r'"([^"]+)"\s*=\s*(-?\d+)(?=[,}]|$)')


def parse_ioreg(text: str) -> dict[str, int] | None:
    """The statistics of the first accelerator that has any of ``KEYS``.

    Returns a dict with the fields found (a partial dict when some keys are
    missing), or None when no accelerator reports any of them (garbage, an
    Intel Mac without the dictionary, a macOS that renamed the keys).
    """
    if not isinstance(text, str):
        return None
    for line in text.splitlines():
        m = _STATS_LINE.search(line)
        if m is None:
            continue
        pairs = dict(_PAIR.findall(m.group(1) + "}"))
        stats = {KEYS[k]: int(v) for k, v in pairs.items() if k in KEYS}
        if stats:
            return stats
    return None


def missing_keys(stats: dict[str, int] | None) -> list[str]:
    """The ioreg keys absent from a parse, for the one log line that says why rows hide."""
    have = stats or {}
    return [k for k, field in KEYS.items() if field not in have]
