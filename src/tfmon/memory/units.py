"""Units of the memory events: ``*_mb`` fields are MiB (2**20 bytes), rounded to 0.1."""

from __future__ import annotations

MB = 1 << 20


def mb(n_bytes: float) -> float:
    return round(n_bytes / MB, 1)


def fmt_mb(value_mb: float) -> str:
    """Readable at a glance: '12 KB', '4.2 MB', '512 MB', '1.25 GB', '15.9 GB'."""
    if 0 < value_mb < 0.1:  # only the TF allocator's fields are that precise
        return f"{value_mb * 1024:.0f} KB"
    if value_mb < 10:
        return f"{value_mb:.1f} MB"
    if value_mb < 1000:
        return f"{value_mb:.0f} MB"
    gb = value_mb / 1024
    return f"{gb:.2f} GB" if gb < 10 else f"{gb:.1f} GB"
