"""The loss curve under Pilot: when it redraws, and that a redraw is not paid twice.

Events are a real recorded run (tests/fixtures/runs/demo-3-epochs: the demo CNN
trained by tfmon on this machine).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.geometry import Region

from tfmon.recorder import read_events
from tfmon.state import RunState
from tfmon.ui.metrics_pane import LossCurve, MetricsPane

RUN = Path(__file__).resolve().parents[1] / "fixtures" / "runs" / "demo-3-epochs"


def split_at_epoch_end(events: list[dict], n: int) -> tuple[list[dict], list[dict]]:
    """Events up to and including the n-th epoch_end, and the rest."""
    seen = 0
    for i, event in enumerate(events):
        if event.get("type") == "epoch_end":
            seen += 1
            if seen == n:
                return events[: i + 1], events[i + 1 :]
    raise AssertionError(f"fewer than {n} epochs in the fixture")


class CurveApp(App):
    def compose(self) -> ComposeResult:
        yield MetricsPane(id="metrics")


@pytest.mark.asyncio
async def test_curve_redraws_at_most_every_interval_epoch_ends_included():
    first, rest = split_at_epoch_end(read_events(RUN), 1)
    second, rest = split_at_epoch_end(rest, 1)
    state = RunState()
    state.apply_all(first)
    app = CurveApp()
    async with app.run_test(size=(100, 40)) as pilot:
        curve = app.query_one(LossCurve)
        curve.update_from(state.metrics, now=100.0)
        assert curve._draws == 1
        state.apply_all(second)  # the next epoch ends 1 s later: waits for the interval
        curve.update_from(state.metrics, now=101.0)
        assert curve._draws == 1
        curve.update_from(state.metrics, now=100.0 + LossCurve.MIN_INTERVAL)
        assert curve._draws == 2
        # nothing new: no redraw however long it has been
        curve.update_from(state.metrics, now=1000.0)
        assert curve._draws == 2


@pytest.mark.asyncio
async def test_a_relayout_reuses_the_drawn_figure():
    state = RunState()
    state.apply_all(read_events(RUN))
    app = CurveApp()
    async with app.run_test(size=(100, 40)) as pilot:
        curve = app.query_one(LossCurve)
        curve.update_from(state.metrics, now=100.0)
        await pilot.pause()
        figure = curve.render()
        text = "\n".join(s.text for s in curve.render_lines(Region(0, 0, curve.size.width, curve.size.height)))
        assert "loss" in text and "epoch" in text
        assert curve.render() is figure  # Textual asks again on every layout pass: no plotext rebuild
        curve._draw(state.metrics)
        redrawn = curve.render()
        assert redrawn is not figure  # a new draw is a new figure
        size = curve.size
        await pilot.resize_terminal(140, 40)
        await pilot.pause()
        assert curve.size != size
        assert curve.render() is not redrawn  # built again at the new size


@pytest.mark.asyncio
async def test_the_table_keeps_the_newest_epochs_of_a_long_run():
    state = RunState()
    state.apply({"type": "fit_start", "t": 0, "fit": 1, "epochs": 450, "steps": 10})

    def epochs(a, b):
        for n in range(a, b):
            state.apply({"type": "epoch_end", "t": n, "epoch": n, "steps": 10, "seconds": 1.0, "metrics": {"loss": 1 / n}})

    app = CurveApp()
    async with app.run_test(size=(100, 40)) as pilot:
        pane = app.query_one(MetricsPane)
        table = pane.query_one("#epochs")
        epochs(1, 301)
        pane.update_from(state.metrics)
        epochs(301, 451)
        pane.update_from(state.metrics)
        await pilot.pause()
        shown = [int(table.get_row_at(i)[1]) for i in range(table.row_count)]
        assert shown == list(range(451 - MetricsPane.TABLE_ROWS, 451))
        assert table.cursor_row == table.row_count - 1
        # Past the epochs the state keeps (tfmon.state.EPOCH_HISTORY): still the newest.
        epochs(451, 1601)
        pane.update_from(state.metrics)
        await pilot.pause()
        shown = [int(table.get_row_at(i)[1]) for i in range(table.row_count)]
        assert shown == list(range(1601 - MetricsPane.TABLE_ROWS, 1601))


@pytest.mark.asyncio
async def test_an_epoch_row_painted_before_the_table_measured_it_is_painted_again():
    """The epochs table has the placement table's trap (tfmon.ui.tables): a repaint
    between a new row and the table's idle kept the columns at their labels' width."""
    from textual.widgets import DataTable

    state = RunState()
    state.apply_all(read_events(RUN))
    app = CurveApp()
    async with app.run_test(size=(100, 40)) as pilot:
        pane = app.query_one(MetricsPane)
        table = app.query_one("#epochs", DataTable)
        pane.update_from(state.metrics)
        painted = "".join(seg.text for seg in table.render_line(1))
        await pilot.pause()
        await pilot.pause()
        again = "".join(seg.text for seg in table.render_line(1))
        cells = [str(c) for c in table.get_row_at(0)]
        assert any(c not in painted for c in cells), painted  # the trap was there (time: "00:0")
        assert all(c in again for c in cells), again
