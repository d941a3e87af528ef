"""Placement pane: where every op runs, by op type x device or by layer.

Keys (chosen not to clash with the app's p/space/c/s/q/?/tab/m/l/1-6):
``f`` fallbacks only, ``/`` search by op or layer name, ``b`` by-layer view,
``o`` next sort order, ``escape`` clears the search.

``update_from(state)`` is called up to twice a second. It does nothing while
``state.version`` stands still; otherwise it touches only the rows whose
version moved (each ``OpRow``/``LayerRow`` records the version that last
changed it) and updates only the cells that differ, so the table never
flickers and stays cheap with thousands of nodes. Only a view switch or a new
filter rebuilds the rows. When nothing but the counts of rows already shown
moved (every step of a Keras fit runs its function eagerly; the dataset's
functions are placed again each epoch), the table waits ``COUNTS_INTERVAL``:
a repaint of the table (20 ms at 120x40) costs the training more than a
counter is worth. A new op, device or fallback shows at the next redraw.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import DataTable, Input, Static

from tfmon.placement.rules import is_compute, op_weight
from tfmon.placement.state import LayerRow, OpRow, PlacementState, format_devices
from tfmon.ui.tables import MeasuredTable

OP_COLUMNS = (("op", "Op"), ("device", "Device"), ("nodes", "Nodes"), ("eager", "Eager"),
              ("fallbacks", "Fallbacks"), ("layers", "Layers"))
MIN_OP_WIDTH = 14  # "Conv2DBackprop…" and its like stay told apart
LAYER_COLUMNS = (("layer", "Layer"), ("forward", "Forward"), ("backward", "Backward"),
                 ("optimizer", "Optimizer"), ("nodes", "Nodes"), ("fallbacks", "Fallbacks"))

COUNTS_INTERVAL = 3.0  # seconds between two redraws for counts alone

# name, columns given to DataTable.sort, key over those values
_SortSpec = tuple[str, tuple[str, ...], Callable[[Any], Any]]


def _cost(op: str, count: int) -> float:
    # What the ops of a row cost together; host-side plumbing (_Arg, Const) counts nothing.
    return op_weight(op) * count if is_compute(op) else 0.0


OP_SORTS: tuple[_SortSpec, ...] = (
    ("heaviest", ("op", "nodes", "eager", "device"),
     lambda v: (-_cost(v[0], v[1] + v[2]), -(v[1] + v[2]), v[0], v[3])),
    ("count", ("nodes", "eager", "op", "device"), lambda v: (-(v[0] + v[1]), v[2], v[3])),
    ("op", ("op", "device"), lambda v: (v[0].lower(), v[1])),
    ("device", ("device", "op"), lambda v: (v[0], v[1].lower())),
)
LAYER_SORTS: tuple[_SortSpec, ...] = (
    ("count", ("nodes", "layer"), lambda v: (-v[0], v[1])),
    ("fallbacks", ("fallbacks", "nodes", "layer"), lambda v: (-(v[0] or 0), -v[1], v[2])),
    ("layer", ("layer",), lambda v: v.lower()),
)


def _layers_cell(names: set[str]) -> str:
    shown = sorted(names)[:3]
    more = len(names) - len(shown)
    return ", ".join(shown) + (f" +{more}" if more > 0 else "")


def op_cells(row: OpRow, fallbacks: bool = True) -> tuple:
    """The row's cells; without the Fallbacks column when no GPU is visible
    (nothing can fall back then: the column would be empty, taking room)."""
    if not fallbacks:
        return (row.op, row.device, row.nodes, row.eager, _layers_cell(row.layers))
    return (row.op, row.device, row.nodes, row.eager, row.fallbacks or "", _layers_cell(row.layers))


def op_width(names, available: int, fallbacks: bool) -> int | None:
    """The Op column's width: its longest name when the columns after it up to
    Layers still fit in ``available`` cells, else what leaves them room (at least
    MIN_OP_WIDTH). None: as wide as its content. Device, Nodes, Eager runs and
    Fallbacks are short; an op name can be 40 cells and would push them out."""
    longest = max((len(n) for n in names), default=0)
    others = sum(max(len(label), 6) + 2 for key, label in OP_COLUMNS[1:4])  # counts up to 6 digits
    if fallbacks:
        others += len("Fallbacks") + 2
    room = available - others - 2 - 2  # the Op column's own padding, the vertical scrollbar
    if available <= 0 or longest <= room:
        return None
    return max(room, MIN_OP_WIDTH)


def layer_cells(row: LayerRow) -> tuple:
    return (
        row.layer,
        format_devices(row.phases["forward"]),
        format_devices(row.phases["backward"]),
        format_devices(row.phases["optimizer"]),
        row.nodes,
        row.fallbacks or "",
    )


class PlacementPane(Widget):
    DEFAULT_CSS = """
    PlacementPane { layout: vertical; height: 1fr; }
    PlacementPane > #placement-status { height: 1; color: $text-muted; }
    PlacementPane > #placement-search { display: none; height: 3; }
    PlacementPane > #placement-search.-active { display: block; }
    PlacementPane > DataTable { height: 1fr; }
    """

    BINDINGS = [
        Binding("f", "toggle_fallbacks", "Fallbacks only"),
        Binding("slash", "search", "Search"),
        Binding("b", "toggle_layers", "By layer"),
        Binding("o", "cycle_sort", "Sort"),
        Binding("escape", "clear_search", "Clear search", show=False),
    ]

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.by_layer = False
        self.fallbacks_only = False
        self.query_text = ""
        self.sort_index = 0
        self._state: PlacementState | None = None
        self.drawn_version = -1
        self._rebuild = True  # columns or filter changed: recompute every row
        self._rows: dict[str, tuple] = {}  # row key -> cells currently in the table
        self._drawn_shape = -1
        self._drawn_at = 0.0
        self._status = ""
        self._fallbacks_column = True
        self._op_width: int | None = None

    def compose(self) -> ComposeResult:
        yield Static("placement: waiting for TensorFlow", id="placement-status")
        yield Input(placeholder="search op or layer (enter: back to table, esc: clear)",
                    id="placement-search")
        table: DataTable = MeasuredTable(id="placement-table", cursor_type="row", zebra_stripes=True)
        yield table

    @property
    def table(self) -> DataTable:
        return self.query_one("#placement-table", DataTable)

    # -- live update -----------------------------------------------------------

    def update_from(self, state: PlacementState, now: float | None = None) -> None:
        """Bring the table up to ``state``; cheap when nothing moved."""
        self._state = state
        if state.version == self.drawn_version and not self._rebuild:
            return
        now = time.monotonic() if now is None else now
        if (state.shape_version == self._drawn_shape and not self._rebuild
                and now - self._drawn_at < COUNTS_INTERVAL):
            return  # only counters moved: they catch up in a while
        self._drawn_shape, self._drawn_at = state.shape_version, now
        table = self.table
        self._fallbacks_column = state.gpu_visible or state.fallback_count > 0
        self._op_width = op_width([r.op for r in state.op_rows.values()], self.size.width, self._fallbacks_column)
        if self._columns_stale(table):
            self._reset_columns(table)
        full = self._rebuild
        self._rebuild = False
        since = -1 if full else self.drawn_version
        self.drawn_version = state.version
        rows = state.layer_rows if self.by_layer else state.op_rows
        if self.by_layer:
            cells_of = layer_cells
        else:
            def cells_of(row, fallbacks=self._fallbacks_column):
                return op_cells(row, fallbacks)
        columns = self._columns()
        reorder = False
        for row in list(rows.values()):
            if row.version <= since:
                continue
            key = row.layer if self.by_layer else row.key
            visible = self._visible(row)
            current = self._rows.get(key)
            if not visible:
                if current is not None:
                    table.remove_row(key)
                    del self._rows[key]
                continue
            cells = cells_of(row)
            if current is None:
                table.add_row(*cells, key=key)
                reorder = True
            elif cells != current:
                for (col, _), old, new in zip(columns, current, cells):
                    if old != new:
                        table.update_cell(key, col, new)
                reorder = True
            self._rows[key] = cells
        if full:
            # A filter got stricter: drop rows that no longer pass.
            keep = {(r.layer if self.by_layer else r.key) for r in rows.values() if self._visible(r)}
            for key in [k for k in self._rows if k not in keep]:
                table.remove_row(key)
                del self._rows[key]
            reorder = True
        if reorder:
            self._sort(table)
        self._update_status(state)

    def _visible(self, row: OpRow | LayerRow) -> bool:
        if self.fallbacks_only and not row.fallbacks:
            return False
        q = self.query_text
        if not q:
            return True
        if isinstance(row, LayerRow):
            return q in row.layer.lower() or any(q in op.lower() for op in row.ops)
        return q in row.op.lower() or any(q in layer.lower() for layer in row.layers)

    def _columns(self) -> tuple[tuple[str, str], ...]:
        if self.by_layer:
            return LAYER_COLUMNS
        return tuple(c for c in OP_COLUMNS if c[0] != "fallbacks" or self._fallbacks_column)

    def _columns_stale(self, table: DataTable) -> bool:
        shown = [(c.key.value, None if c.auto_width else c.width) for c in table.ordered_columns]
        wanted = [(k, self._op_width if k == "op" else None) for k, _ in self._columns()]
        return shown != wanted

    def _reset_columns(self, table: DataTable) -> None:
        table.clear(columns=True)
        for key, label in self._columns():
            table.add_column(label, key=key, width=self._op_width if key == "op" else None)
        self._rows.clear()
        self._rebuild = True

    def _sorts(self) -> tuple[_SortSpec, ...]:
        return LAYER_SORTS if self.by_layer else OP_SORTS

    def _sort(self, table: DataTable) -> None:
        sorts = self._sorts()
        _, columns, key = sorts[self.sort_index % len(sorts)]
        if table.row_count:
            table.sort(*columns, key=key)

    def _update_status(self, state: PlacementState) -> None:
        sorts = self._sorts()
        parts = [state.header_summary()]
        if state.gpu_visible:
            parts.insert(0, state.device_summary())
        parts += ["by layer" if self.by_layer else "by op",
                 f"sort: {sorts[self.sort_index % len(sorts)][0]}"]
        if self.fallbacks_only:
            parts.append("fallbacks only")
        if self.query_text:
            parts.append(f"search: {self.query_text!r}")
        parts.append(f"{len(self._rows)} rows")
        text = " · ".join(parts)
        if text != self._status:
            self._status = text
            # One line, fixed height: a repaint, not a layout pass of the whole screen.
            self.query_one("#placement-status", Static).update(text, layout=False)

    def on_resize(self) -> None:
        # The Op column's width follows the pane's: look again at the next update.
        self.drawn_version = self._drawn_shape = -1
        if self._state is not None:
            self.update_from(self._state)

    def _refresh_view(self, rebuild: bool = True) -> None:
        self._rebuild = self._rebuild or rebuild
        if self._state is not None:
            self.update_from(self._state)

    # -- keys ------------------------------------------------------------------

    def action_toggle_fallbacks(self) -> None:
        self.fallbacks_only = not self.fallbacks_only
        self._refresh_view()

    def action_toggle_layers(self) -> None:
        self.by_layer = not self.by_layer
        self.sort_index = 0
        self._refresh_view()

    def action_cycle_sort(self) -> None:
        self.sort_index = (self.sort_index + 1) % len(self._sorts())
        self._sort(self.table)
        if self._state is not None:
            self._update_status(self._state)

    def action_search(self) -> None:
        search = self.query_one("#placement-search", Input)
        search.add_class("-active")
        search.focus()

    def action_clear_search(self) -> None:
        search = self.query_one("#placement-search", Input)
        search.value = ""
        search.remove_class("-active")
        self.query_text = ""
        self.table.focus()
        self._refresh_view()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id != "placement-search":
            return
        event.stop()
        self.query_text = event.value.strip().lower()
        self._refresh_view()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "placement-search":
            return
        event.stop()
        if not self.query_text:
            event.input.remove_class("-active")
        self.table.focus()
