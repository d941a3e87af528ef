"""The leak detector on per-epoch memory series (MB). The series are constructed."""

from __future__ import annotations

import random

import pytest

from tfmon.memory.leak import DEFAULT_THRESHOLD_MB, LeakDetector, assess, slope


def test_slope_is_least_squares():
    assert slope([1.0, 3.0, 5.0, 7.0]) == pytest.approx(2.0)
    assert slope([10.0, 12.0, 11.0, 13.0]) == pytest.approx(0.8)
    assert slope([5.0]) == 0.0


def test_nothing_before_the_third_epoch():
    v = assess([100.0, 600.0])
    assert v.slope_mb is None and not v.leak and v.epochs == 2
    assert assess([100.0, 600.0, 1100.0]).leak  # from the 3rd epoch on


def test_flat_is_not_a_leak():
    v = assess([1500.0] * 10)
    assert v.slope_mb == pytest.approx(0.0) and not v.leak


def test_noisy_flat_is_not_a_leak():
    rng = random.Random(4)
    for _ in range(200):
        series = [1500 + rng.uniform(-40, 40) for _ in range(rng.randint(3, 12))]
        assert not assess(series).leak, series


def test_steady_growth_is_a_leak_with_its_rate():
    rng = random.Random(7)
    series = [900 + 412 * i + rng.uniform(-30, 30) for i in range(5)]
    v = assess(series)
    assert v.leak
    assert v.slope_mb == pytest.approx(412, abs=30)
    assert v.message().startswith(f"process memory +{v.slope_mb:.0f} MB/epoch over 5 epochs: something keeps references")
    assert "a Python list of tensors, a growing tf.data cache, a known Metal leak" in v.message()


@pytest.mark.parametrize(
    "series",
    [
        [1000, 1000, 1000, 1500, 1500, 1500],  # one jump mid-run (a cache filled once)
        [1000, 1000, 1500],  # the jump at the 3rd epoch itself
        [600, 1400, 1402, 1401, 1405, 1403],  # first-epoch warm-up, flat after
        [1000, 1001, 999, 1800, 1802, 1799, 1801],  # noise around a jump
    ],
)
def test_one_off_jump_is_not_a_leak(series):
    v = assess([float(x) for x in series])
    assert not v.leak, (series, v)


def test_threshold_is_respected_and_overridable():
    series = [1000.0 + 30 * i for i in range(6)]  # +30 MB/epoch, steady
    assert DEFAULT_THRESHOLD_MB == 50.0
    assert not assess(series).leak
    assert assess(series, threshold_mb=20).leak


def test_detector_accumulates():
    det = LeakDetector(threshold_mb=50)
    verdicts = [det.add(1000 + 80 * i) for i in range(4)]
    assert [v.leak for v in verdicts] == [False, False, True, True]
    assert verdicts[-1].slope_mb == pytest.approx(80)
    assert det.values == [1000, 1080, 1160, 1240]
