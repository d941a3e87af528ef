"""Small formatting helpers shared by the panes (pure)."""

from __future__ import annotations


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(max(seconds, 0))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def number(value) -> str:
    """A metric value: 4 significant digits, scientific for tiny/huge values."""
    if not isinstance(value, (int, float)):
        return str(value)
    if value == 0:
        return "0"
    if abs(value) < 1e-3 or abs(value) >= 1e5:
        return f"{value:.3e}"
    return f"{value:.4g}"


def rate(value: float | None, unit: str) -> str:
    if value is None:
        return f"-- {unit}"
    if value >= 1000:
        return f"{value / 1000:.1f}k {unit}"
    return f"{value:.1f} {unit}"
