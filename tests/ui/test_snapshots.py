"""Pictures of the main screens (pytest-textual-snapshot), from the recorded demo run replayed.

A layout regression shows up as a picture diff: the SVGs under __snapshots__/ are
what the screens looked like when they were accepted. After an intended change,
look at the new pictures and accept them with
``pytest tests/ui/test_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

import pytest

from conftest import FIXTURES
from tfmon.ui.app import PANES, TfmonApp
from tfmon.ui.sources import ReplaySource

RUN = FIXTURES / "runs" / "demo-3-epochs"
SIZES = [(80, 24), (120, 40)]


def pressing(key: str):
    """Press ``key`` once the replay is drawn, then let every pane on screen redraw."""

    async def run_before(pilot) -> None:
        await pilot.pause(0.6)
        await pilot.press(key)
        await pilot.pause(0.6)

    return run_before


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("pane", PANES)
def test_pane(snap_compare, pane, size):
    key = str(PANES.index(pane) + 1)
    assert snap_compare(TfmonApp(ReplaySource(RUN)), terminal_size=size, run_before=pressing(key))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_help(snap_compare, size):
    assert snap_compare(TfmonApp(ReplaySource(RUN)), terminal_size=size, run_before=pressing("question_mark"))
