"""Parsers for macOS memory tools: ``sysctl vm.swapusage`` and ``memory_pressure``.

Pure: text in, numbers out. ``sources.py`` runs the commands (rarely: psutil
already reads swap on macOS; these are the fallback and the pressure figure).
"""

from __future__ import annotations

import re

SWAPUSAGE_COMMAND = ("sysctl", "vm.swapusage")
MEMORY_PRESSURE_COMMAND = ("memory_pressure",)

_UNITS = {"B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_SWAP_FIELD = re.compile(r"\b(total|used|free)\s*=\s*([\d.]+)\s*([BKMGT])?", re.IGNORECASE)
_FREE_PCT = re.compile(r"System-wide memory free percentage:\s*(\d+(?:\.\d+)?)\s*%")


def parse_swapusage(text: str) -> dict[str, int] | None:
    """``vm.swapusage: total = 2048.00M  used = 1470.06M  free = 577.94M  (encrypted)``
    -> ``{"total_bytes": ..., "used_bytes": ..., "free_bytes": ...}``; None without a usable line."""
    if not isinstance(text, str):
        return None
    for line in text.splitlines():
        if "vm.swapusage" not in line and "total" not in line:
            continue
        found = {}
        for name, number, unit in _SWAP_FIELD.findall(line):
            found[f"{name.lower()}_bytes"] = round(float(number) * _UNITS[(unit or "B").upper()])
        if "total_bytes" in found and "used_bytes" in found:
            return found
    return None


def parse_memory_pressure(text: str) -> float | None:
    """The ``System-wide memory free percentage`` that ``memory_pressure`` prints, or None."""
    if not isinstance(text, str):
        return None
    m = _FREE_PCT.search(text)
    return float(m.group(1)) if m else None
