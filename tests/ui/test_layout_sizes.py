"""The header and the tables at the two sizes the README promises (80x24, 120x40), on a
recorded real run: what the user reads must fit, not only exist in the state."""

from __future__ import annotations

import contextlib

import pytest
from textual.geometry import Region

from conftest import FIXTURES
from tfmon.ui.app import TfmonApp
from tfmon.ui.sources import ReplaySource

RUN = FIXTURES / "runs" / "demo-3-epochs"


@contextlib.asynccontextmanager
async def pane_shown(size, key):
    """The app on the recorded run at ``size``, showing the pane of ``key``."""
    app = TfmonApp(ReplaySource(RUN))
    async with app.run_test(size=size) as pilot:
        await pilot.press(key)
        await pilot.pause(0.6)
        yield app


def screen_lines(widget) -> list[str]:
    """What the widget draws, border included, one string per row."""
    width, height = widget.outer_size
    return [strip.text for strip in widget.render_lines(Region(0, 0, width, height))]


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_placement_table_shows_every_device_whole_next_to_the_op(size):
    async with pane_shown(size, "2") as app:
        table = app.query_one("#placement-table")
        lines = screen_lines(table)
        header, rows = lines[0], [line for line in lines[1:] if line.strip()]
        assert rows
        for label in ("Op", "Device", "Nodes", "Eager"):
            assert f" {label} " in header, (label, header)
        for line in rows:
            assert "CPU:0" in line, line  # not "C" or "CP"
        # The Op column is no wider than its longest name shown or needed.
        device_at = header.index("Device")
        assert device_at <= max(len(r.op) for r in app.state.placement.op_rows.values()) + 4


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_no_gpu_banner_reads_as_text_and_leaves_the_pane_its_summary(size):
    async with pane_shown(size, "3") as app:
        pane = app.query_one("#pane-fallbacks-body")
        banner = app.query_one("#fallback-banner")
        summary = app.query_one("#fallback-summary")
        assert banner.region.height > 0
        # The one-line summary stays at the top; the banner scrolls with the list under it.
        assert summary.region.y < banner.region.y
        width = banner.content_region.width
        pad = banner.styles.padding.left
        lines = [line.strip("┃┏┓┗┛━█▌").rstrip()[pad:] for line in screen_lines(banner)]
        lines = [line for line in lines if line]
        # Filled as a paragraph at the banner's width: a line breaks only where the
        # next word would not fit (no indented column, no word per line).
        for line, after in zip(lines, lines[1:]):
            if not after.startswith(("✗", "!", "  fix:", "(3, m:")):
                assert len(line) + 1 + len(after.split()[0]) > width, (line, after, width)
        if size == (120, 40):  # a fifth of the screen wide: the frame gives way to words
            assert width >= pane.size.width - 2
            assert banner.region.height <= pane.size.height // 2, "\n".join(lines)
