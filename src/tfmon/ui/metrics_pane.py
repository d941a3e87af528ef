"""Epoch metrics: a table with a column per metric Keras reports, and the loss curve."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable
from textual_plotext import PlotextPlot

from tfmon.state import MetricsState
from tfmon.ui.format import duration, number


class LossCurve(PlotextPlot):
    """Per-batch loss, and per-epoch loss and val_loss, drawn by plotext."""

    def update_from(self, metrics: MetricsState) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.xlabel("epoch")
        values = [v for _, v in metrics.batch_loss] + [v for _, v in metrics.epoch_loss] + [v for _, v in metrics.epoch_val_loss]
        # Losses fall by orders of magnitude: a log scale keeps late epochs readable.
        log_scale = bool(values) and min(values) > 0 and max(values) / min(values) > 20
        plt.yscale("log" if log_scale else "linear")
        plt.title("loss (log scale)" if log_scale else "loss")
        if metrics.batch_loss:
            xs, ys = zip(*metrics.batch_loss)
            plt.scatter(list(xs), list(ys), marker="dot", label="batch", color="gray")
        if metrics.epoch_loss:
            xs, ys = zip(*metrics.epoch_loss)
            plt.plot(list(xs), list(ys), label="loss", marker="hd", color="cyan")
        if metrics.epoch_val_loss:
            xs, ys = zip(*metrics.epoch_val_loss)
            plt.plot(list(xs), list(ys), label="val_loss", marker="hd", color="orange")
        self.refresh()


class MetricsPane(Vertical):
    DEFAULT_CSS = """
    MetricsPane { height: 1fr; }
    MetricsPane DataTable { height: 1fr; min-height: 4; }
    MetricsPane LossCurve { height: 2fr; min-height: 6; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._rows_shown = 0
        self._columns: list[str] = []
        self._version = -1

    def compose(self) -> ComposeResult:
        table = DataTable(zebra_stripes=True, cursor_type="row", id="epochs")
        table.add_columns("fit", "epoch", "time")
        yield table
        yield LossCurve(id="loss-curve")

    def update_from(self, metrics: MetricsState) -> None:
        if metrics.version == self._version:
            return
        self._version = metrics.version
        table = self.query_one(DataTable)
        if metrics.columns != self._columns:
            # A new metric appeared (val_* after the first validation): rebuild once.
            table.clear(columns=True)
            table.add_columns("fit", "epoch", "time", *metrics.columns)
            self._columns = list(metrics.columns)
            self._rows_shown = 0
        for row in metrics.rows[self._rows_shown :]:
            cells = [str(row.fit), str(row.epoch), duration(row.seconds)]
            cells += [number(row.metrics[c]) if c in row.metrics else "" for c in self._columns]
            table.add_row(*cells)
        if len(metrics.rows) > self._rows_shown:
            table.move_cursor(row=len(metrics.rows) - 1)
        self._rows_shown = len(metrics.rows)
        self.query_one(LossCurve).update_from(metrics)
