"""DataTable help shared by the panes that keep one.

DataTable measures new rows and changed cells only when its own message queue is
idle, and caches what it paints by an update count that the measuring does not move
(Textual issue 4470, open in Textual 8). A repaint in between -- the live app's
compositor does one when several keys arrive together -- keeps every column at
the width it had before, for good: a by-layer table showed ``dense`` for ``dense_1``
until something else changed. ``repaint_when_measured`` paints again once it has.
"""

from __future__ import annotations

from textual.widgets import DataTable


def repaint_when_measured(table: DataTable) -> None:
    """After the table's next idle (where it measures), drop what it painted before."""
    # call_next runs after the table's own idle handlers, in the same turn of its queue.
    table.call_next(_forget_painted, table)


def _forget_painted(table: DataTable) -> None:
    # Internal to DataTable (textual is pinned <9): the caches keyed by its update count.
    table._clear_caches()
    table.refresh()
