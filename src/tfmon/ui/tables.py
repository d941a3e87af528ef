"""A DataTable that repaints once it has measured what it was given.

DataTable measures new rows and changed cells only when its own message queue is
idle, and caches what it paints by an update count that the measuring does not move
(Textual issue 4470, open in Textual 8). A repaint in between -- the live app's
compositor does one when several keys arrive together -- kept every column at the
width it had before, for good: a by-layer table showed ``dense`` for ``dense_1``
until something else changed.
"""

from __future__ import annotations

from textual import events
from textual.widgets import DataTable


class MeasuredTable(DataTable):
    async def _on_idle(self, event: events.Idle) -> None:
        # DataTable's idle handler (internal; textual is pinned <9) measures. Textual then
        # calls it again itself (a handler per class of the MRO): by then it has nothing
        # to do. Widget's handler, last, sends the repaint asked for here.
        if not (self._updated_cells or self._require_update_dimensions):
            return  # nothing to measure (the common idle: a key, a hover, a tick)
        before = self._widths()
        await super()._on_idle(event)
        if self._widths() != before:
            self._clear_caches()  # what was painted at the old widths
            self.refresh()

    def _widths(self) -> list[tuple[object, int]]:
        return [(column.key, column.get_render_width(self)) for column in self.ordered_columns]
