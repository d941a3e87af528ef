"""Leak detection over per-epoch memory readings. Pure.

A leak here is memory that grows by a similar amount at every epoch end, the
signature of something that keeps references (a Python list of tensors, a
growing ``tf.data`` cache, a known Metal leak). The verdict needs all of:

- at least ``MIN_EPOCHS`` (3) readings;
- the least-squares slope over all readings >= ``threshold_mb`` per epoch
  (default ``DEFAULT_THRESHOLD_MB`` = 50 MB/epoch, ``--leak-threshold MB``);
- steadiness, so that a one-off jump (a cache filled once, the first epoch's
  tracing, a second ``fit`` compiling) is not called a leak: at least two
  thirds of the epoch-to-epoch steps rise, and the median step is at least
  half the threshold. A single jump moves the slope but not the median step.

Flat and noisy-flat series fail the slope test; one-off jumps fail the
steadiness test. Readings are in MB; x is the index of the reading, not the
epoch number, so that a script calling ``fit(epochs=1)`` in a loop (the same
epoch number every time) is still one series.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

DEFAULT_THRESHOLD_MB = 50.0
MIN_EPOCHS = 3
_RISING_SHARE = 2 / 3
_MEDIAN_SHARE = 0.5

ADVICE = "something keeps references (a Python list of tensors, a growing tf.data cache, a known Metal leak)"


@dataclass(frozen=True)
class LeakVerdict:
    epochs: int
    slope_mb: float | None  # growth per epoch; None before MIN_EPOCHS readings
    leak: bool

    def message(self, what: str = "process memory") -> str:
        return f"{what} +{self.slope_mb:.0f} MB/epoch over {self.epochs} epochs: {ADVICE}"


def slope(values: list[float]) -> float:
    """Least-squares slope of ``values`` against 0, 1, 2, ..."""
    n = len(values)
    if n < 2:
        return 0.0
    mean_x = (n - 1) / 2
    mean_y = sum(values) / n
    cov = sum((i - mean_x) * (y - mean_y) for i, y in enumerate(values))
    var = sum((i - mean_x) ** 2 for i in range(n))
    return cov / var


def assess(values: list[float], threshold_mb: float = DEFAULT_THRESHOLD_MB) -> LeakVerdict:
    n = len(values)
    if n < MIN_EPOCHS:
        return LeakVerdict(n, None, False)
    growth = slope(values)
    steps = [b - a for a, b in zip(values, values[1:])]
    rising = sum(1 for s in steps if s > 0) / len(steps)
    steady = rising >= _RISING_SHARE and statistics.median(steps) >= threshold_mb * _MEDIAN_SHARE
    return LeakVerdict(n, growth, growth >= threshold_mb and steady)


class LeakDetector:
    """Accumulates one series (process RSS, or GPU in-use) and says when it leaks."""

    def __init__(self, threshold_mb: float = DEFAULT_THRESHOLD_MB, max_epochs: int = 1000) -> None:
        self.threshold_mb = threshold_mb
        self._values: list[float] = []
        self._max = max_epochs

    def add(self, value_mb: float) -> LeakVerdict:
        self._values.append(float(value_mb))
        if len(self._values) > self._max:
            del self._values[0]
        return assess(self._values, self.threshold_mb)

    @property
    def values(self) -> list[float]:
        return list(self._values)
