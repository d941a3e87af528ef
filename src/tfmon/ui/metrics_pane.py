"""Epoch metrics: a table with a column per metric Keras reports, and the loss curve."""

from __future__ import annotations

import math
import time

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable
from textual_plotext import PlotextPlot

from tfmon.state import MetricsState
from tfmon.describe import duration, number
from tfmon.ui.tables import MeasuredTable


def thin(points: list, limit: int) -> list:
    """At most ``limit`` points, evenly spread, the last one kept: a terminal plot
    has no more columns than that, and plotext's cost grows with the points."""
    if len(points) <= limit:
        return points
    step = len(points) / limit
    return [points[int(i * step)] for i in range(limit - 1)] + [points[-1]]


class LossCurve(PlotextPlot):
    """Per-batch loss, and per-epoch loss and val_loss, drawn by plotext.

    Drawing costs about 20 ms of the UI thread (plotext builds the figure, then
    its ANSI text becomes styled segments), on a machine whose cores train the
    model: the curve is redrawn at most every ``MIN_INTERVAL`` seconds, epoch
    ends included (short epochs would otherwise redraw it every second); what
    changed meanwhile shows at the next redraw."""

    MIN_INTERVAL = 2.0

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.drawn_version = -1
        self._drawn_at = -self.MIN_INTERVAL
        self._draws = 0  # bumped by each _draw: what render's cache is keyed on
        self._rendered: tuple[tuple, object] | None = None

    def update_from(self, metrics: MetricsState, now: float | None = None) -> None:
        if metrics.version == self.drawn_version:
            return
        now = time.monotonic() if now is None else now
        if now - self._drawn_at < self.MIN_INTERVAL:
            return  # the pane asks again twice a second: drawn once the interval is over
        self.drawn_version, self._drawn_at = metrics.version, now
        self._draw(metrics)

    def _draw(self, metrics: MetricsState) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        unit, batch_points = metrics.curve_series()
        batch_points = thin(batch_points, max(2 * self.size.width, 100))
        plt.xlabel(unit)
        series = [
            (batch_points, "batch", "gray", "dot", plt.scatter),
            (metrics.epoch_loss, "loss", "cyan", "hd", plt.plot),
            (metrics.epoch_val_loss, "val_loss", "orange", "hd", plt.plot),
        ]
        values = [v for points, *_ in series for _, v in points]
        # Losses fall by orders of magnitude: a log scale keeps late epochs readable.
        # The log is taken here (plotext's own log scale fails on some sizes).
        log_scale = bool(values) and min(values) > 0 and max(values) / min(values) > 20
        plt.title("loss (log scale)" if log_scale else "loss")
        for points, label, color, marker, draw in series:
            if points:
                xs, ys = zip(*points)
                ys = [math.log10(y) for y in ys] if log_scale else list(ys)
                draw(list(xs), ys, label=label, color=color, marker=marker)
        if log_scale:
            low, high = math.floor(math.log10(min(values))), math.ceil(math.log10(max(values)))
            ticks = list(range(low, high + 1))
            plt.yticks(ticks, [f"{10.0 ** t:g}" for t in ticks])
        self._draws += 1
        self.refresh()

    def render(self):
        # Textual renders a widget again whenever the screen is laid out (a table
        # grows a row, a log gets a line): plotext would rebuild the same plot for
        # 15 ms each time. Same figure, same size, same theme: the same text.
        key = (self._draws, self.size, self.app.theme)
        if self._rendered is None or self._rendered[0] != key:
            self._rendered = (key, super().render())
        return self._rendered[1]


class MetricsPane(Vertical):
    TABLE_ROWS = 200  # epochs in the table: the newest
    DEFAULT_CSS = """
    MetricsPane { height: 1fr; }
    MetricsPane DataTable { height: 1fr; min-height: 4; }
    MetricsPane LossCurve { height: 2fr; min-height: 6; }
    MetricsPane #scalars { height: auto; max-height: 8; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._rows_shown = 0
        self._first: int | None = None  # the table's first row, counted as metrics.rows_total counts
        self._columns: list[str] = []
        self.drawn_version = -1

    def compose(self) -> ComposeResult:
        table = MeasuredTable(zebra_stripes=True, cursor_type="row", id="epochs")
        table.add_columns("fit", "epoch", "time")
        yield table
        scalars = MeasuredTable(zebra_stripes=True, cursor_type="row", id="scalars")
        for label, key in (("tf.summary", "name"), ("run", "run"), ("step", "step"), ("latest", "latest")):
            scalars.add_column(label, key=key)
        scalars.display = False  # shown once a script writes tf.summary scalars
        yield scalars
        yield LossCurve(id="loss-curve")

    def update_from(self, metrics: MetricsState) -> None:
        # The curve decides itself when to redraw (it may skip a change and draw it later).
        self.query_one(LossCurve).update_from(metrics)
        if metrics.version == self.drawn_version:
            return
        self.drawn_version = metrics.version
        table = self.query_one(DataTable)
        if metrics.columns != self._columns:
            # A new metric appeared (val_* after the first validation): rebuild once.
            table.clear(columns=True)
            table.add_columns("fit", "epoch", "time", *metrics.columns)
            self._columns = list(metrics.columns)
            self._rows_shown = 0
            self._first = None
        total = metrics.rows_total
        # A week of short epochs is thousands of rows; the table keeps the newest
        # TABLE_ROWS (a DataTable's cost grows with its rows; the curve shows them all).
        start = max(self._rows_shown, total - min(self.TABLE_ROWS, len(metrics.rows)))
        if self._first is None:
            self._first = start
        kept_from = total - len(metrics.rows)  # the state keeps its newest rows only
        for i in range(start, total):
            row = metrics.rows[i - kept_from]
            epoch = f"{row.epoch}, {row.ended_at}" if row.ended_at else str(row.epoch)
            cells = [str(row.fit), epoch, duration(row.seconds)]
            cells += [number(row.metrics[c]) if c in row.metrics else "" for c in self._columns]
            table.add_row(*cells, key=str(i))
        first = max(total - self.TABLE_ROWS, self._first)
        for i in range(self._first, min(first, self._rows_shown)):  # rows never added were skipped
            table.remove_row(str(i))
        self._first = first
        if total > self._rows_shown:
            table.move_cursor(row=table.row_count - 1)
        self._rows_shown = total
        if metrics.scalars:
            self._update_scalars(metrics)

    def _update_scalars(self, metrics: MetricsState) -> None:
        table = self.query_one("#scalars", DataTable)
        table.display = True
        for (run, name), points in metrics.scalars.items():
            step, value = points[-1]
            key = f"{run}/{name}"
            if key in table.rows:
                table.update_cell(key, "step", str(step))
                table.update_cell(key, "latest", number(value))
            else:
                table.add_row(name, run, str(step), number(value), key=key)
