"""The memory pane: one line per figure (bar against the total, value, sparkline of
the last minutes), the growth per epoch, and the memory warnings.

It only renders ``tfmon.memory.state.MemoryState``; ``update_from`` returns at
once when the state's version has not moved. Below ``NARROW`` columns the
sparklines and percentages give way so that the values stay readable at 80x24.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widget import Widget
from textual.widgets import Label, Sparkline, Static

from tfmon.memory.state import MemoryState, Row

NARROW = 60  # columns


class FractionBar(Widget):
    """A bar and its percentage, drawn as text when its value changes.

    Not Textual's ProgressBar: that one keeps a 1 s ETA timer per bar and
    animates at 15 Hz while it has no value, and every wake-up of the UI thread
    takes the GIL from the training thread."""

    COMPONENT_CLASSES = {"bar--filled", "bar--empty"}
    DEFAULT_CSS = """
    FractionBar { height: 1; }
    FractionBar > .bar--filled { color: $primary; }
    FractionBar > .bar--empty { color: $foreground 15%; }
    FractionBar.-high > .bar--filled { color: $error; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.fraction: float | None = None

    def set_fraction(self, fraction: float | None) -> None:
        fraction = None if fraction is None else min(max(fraction, 0.0), 1.0)
        if fraction != self.fraction:
            self.fraction = fraction
            self.refresh()

    def render(self) -> Text:
        if self.fraction is None:
            return Text()
        width = self.size.width
        label = f"{self.fraction * 100:3.0f}%" if width >= 12 else ""
        cells = max(width - len(label) - (1 if label else 0), 1)
        filled = round(self.fraction * cells)
        text = Text("━" * filled, self.get_component_rich_style("bar--filled"))
        text.append("━" * (cells - filled), self.get_component_rich_style("bar--empty"))
        if label:
            text.append(" " + label)
        return text


class MemoryRow(Horizontal):
    """Label | bar | value | sparkline, for one ``Row`` of the state's view."""

    DEFAULT_CSS = """
    MemoryRow { height: 1; width: 1fr; }
    MemoryRow > .mem-label { width: 10; color: $text-muted; }
    MemoryRow > FractionBar { width: 18; }
    MemoryRow > .mem-value { width: 30; padding-left: 1; }
    MemoryRow > Sparkline { width: 1fr; min-width: 8; }
    MemoryRow.-no-spark > Sparkline { visibility: hidden; }
    MemoryRow.-text > FractionBar, MemoryRow.-text > Sparkline { display: none; }
    MemoryRow.-text { height: auto; }
    MemoryRow.-text > .mem-value { width: 1fr; height: auto; padding-left: 0; }
    """

    def __init__(self, row: Row) -> None:
        super().__init__(id=f"mem-{row.key}")
        self._label = Label(row.label, classes="mem-label")
        self._shown_label = row.label
        self._shown_text = ""
        self._bar = FractionBar()
        self._value = Label("", classes="mem-value")
        self._spark = Sparkline([])
        self._row = row
        self._ready = False  # children exist (is_mounted only turns True after on_mount)

    def compose(self) -> ComposeResult:
        yield self._label
        yield self._bar
        yield self._value
        yield self._spark

    def on_mount(self) -> None:
        self._ready = True
        self.show(self._row)

    def show(self, row: Row) -> None:
        self._row = row
        if not self._ready:
            return  # on_mount shows it
        text_only = row.fraction is None and row.history is None
        self.set_class(text_only, "-text")
        self.set_class(row.history is None, "-no-spark")
        self._bar.set_class(row.fraction is not None and row.fraction >= 0.9, "-high")
        # Fixed-size cells: repaint without a layout pass of the whole screen, and
        # only when the text changed (a text-only row wraps: it keeps its layout).
        if row.label != self._shown_label:
            self._shown_label = row.label
            self._label.update(row.label, layout=False)
        if row.text != self._shown_text:
            self._shown_text = row.text
            self._value.update(row.text, layout=text_only)
        self._bar.set_fraction(row.fraction)
        self._spark.data = list(row.history) if row.history else []

    @property
    def value_text(self) -> str:
        return self._row.text


class MemoryPane(VerticalScroll, can_focus=False):
    DEFAULT_CSS = """
    MemoryPane { height: auto; max-height: 100%; }
    MemoryPane > #mem-empty { color: $text-muted; }
    MemoryPane > #mem-leak { height: auto; }
    MemoryPane > #mem-warnings { height: auto; color: $warning; }
    MemoryPane.-narrow MemoryRow > Sparkline { display: none; }
    MemoryPane.-narrow MemoryRow > FractionBar { width: 10; }
    MemoryPane.-narrow MemoryRow > .mem-label { width: 9; }
    MemoryPane.-narrow MemoryRow > .mem-value { width: 1fr; }
    """

    def __init__(self, *, id: str | None = "memory", classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.border_title = "Memory"
        self.drawn_version = -1
        self._rows: dict[str, MemoryRow] = {}
        self._order: list[str] = []  # keys of the mounted rows, in display order

    def compose(self) -> ComposeResult:
        yield Static("memory: waiting for the first sample", id="mem-empty")
        yield Static("", id="mem-leak")
        yield Static("", id="mem-warnings")

    def on_resize(self) -> None:
        self.set_class(self.size.width < NARROW, "-narrow")

    def update_from(self, state: MemoryState) -> None:
        if state.version == self.drawn_version:
            return
        self.drawn_version = state.version
        rows = state.rows()
        present = {r.key for r in rows}
        for row in rows:
            widget = self._rows.get(row.key)
            if widget is None:
                self._mount_row(row, [r.key for r in rows])
            else:
                widget.display = True
                widget.show(row)
        for key, widget in self._rows.items():
            if key not in present:
                widget.display = False  # the source is absent now: hide, keep its place
        self.query_one("#mem-empty", Static).display = not rows
        leak = state.leak_line()
        leak_widget = self.query_one("#mem-leak", Static)
        leak_widget.display = leak is not None
        shown = str(leak_widget.content)
        if leak_widget.display and shown != leak:
            # A new figure on as many lines: repaint only (a layout pass re-renders the screen).
            leak_widget.update(leak, layout=leak.count("\n") != shown.count("\n") or not shown)
        warnings = state.warning_lines()
        warn_widget = self.query_one("#mem-warnings", Static)
        warn_widget.display = bool(warnings)
        warn_text = "\n".join(f"! {w}" for w in warnings)
        if warn_widget.display and str(warn_widget.content) != warn_text:
            warn_widget.update(warn_text)

    def _mount_row(self, row: Row, view_order: list[str]) -> None:
        # Keep rows in the state's order even when a source appears late (TF at fit()).
        rank = {k: i for i, k in enumerate(view_order)}
        mine = rank[row.key]
        after = [k for k in self._order if rank.get(k, -1) > mine]
        widget = MemoryRow(row)
        self._rows[row.key] = widget
        if after:
            self.mount(widget, before=self._rows[after[0]])
            self._order.insert(self._order.index(after[0]), row.key)
        else:
            self.mount(widget, before=self.query_one("#mem-leak"))
            self._order.append(row.key)

    def row_texts(self) -> dict[str, str]:
        """Visible rows' key -> value text (for tests and the headless summary)."""
        return {k: w.value_text for k, w in self._rows.items() if w.display}
