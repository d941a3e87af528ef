"""The script's output and TensorFlow's log lines, marked by where they came from."""

from __future__ import annotations

import collections

from rich.text import Text
from textual.cache import LRUCache
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tfmon.state import LogLine, LogState

# (marker, style) by stream; stderr and warnings must stand out.
STREAM_STYLE = {
    "stdout": ("  ", ""),
    "stderr": ("! ", "red"),
    "warning": ("⚠ ", "yellow"),
    "tf": ("tf ", "dim"),
    "tfmon": ("» ", "cyan"),
}
LEVEL_STYLE = {"warning": "yellow", "error": "red", "fatal": "bold red"}


def _short_tf(text: str) -> str:
    """Drop the timestamp/thread part of a TF C++ log prefix: keep ``file.cc] message``."""
    head, sep, message = text.partition("] ")
    if not sep:
        return text
    source = head.rsplit(" ", 1)[-1].rsplit("/", 1)[-1]
    return f"{source.split(':', 1)[0]}] {message}"


def log_line(stream: str, text: str, level: str | None, ansi: str | None = None) -> Text:
    marker, style = STREAM_STYLE.get(stream, ("  ", ""))
    if stream == "tf":
        text = _short_tf(text)
    if level in LEVEL_STYLE:
        style = LEVEL_STYLE[level]
    line = Text(marker, style=f"bold {style}" if style else "dim")
    if ansi is not None:
        # The script's own colours (SGR only: the capture dropped every other sequence).
        line.append_text(Text.from_ansi(ansi, style=style, end=""))
    else:
        line.append(text, style=style)
    return line


class LogPane(ScrollView, can_focus=True):
    """The LogState's lines, drawn straight from it: only the rows on screen are
    rendered, when they are painted. A week-long run keeps thousands of lines;
    a RichLog would hold a rendered Strip (with its caches, 10-20 KB) for each and
    render every one of them up front (a long run's replay: 1176 lines, 0.9 s). A
    line still being written (a progress bar) is redrawn in place; a line wider
    than the pane is cut at its edge, as before (output.log has it whole)."""

    DEFAULT_CSS = """
    LogPane {
        background: $surface;
        color: $foreground;
        overflow-y: scroll;
        overflow-x: hidden;
        &:focus { background-tint: $foreground 5%; }
    }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.drawn_version = -1  # the LogState.version last drawn (ui.protocols.Pane)
        self._log: LogState | None = None
        self._seen = 0  # LogState.total already indexed
        self._rows: collections.deque[tuple[int, int]] = collections.deque()  # (line index, row in it)
        self._open: dict[int, LogLine] = {}  # unfinished lines indexed, by index: they may change
        self._rendered: LRUCache[tuple[int, int], list[Strip]] = LRUCache(256)  # (index, width) -> rows

    def update_from(self, log: LogState) -> None:
        if log.version == self.drawn_version:
            return
        self._log = log
        first = log.total - len(log.lines)
        redo = self._seen  # the first line to index again
        for index, line in self._open.items():
            if index >= first and log.lines[index - first] is not line:
                redo = min(redo, index)  # a progress bar moved on, or its line ended
        following = self.scroll_y >= self.max_scroll_y
        rows = self._rows
        while rows and rows[-1][0] >= redo:
            rows.pop()
        dropped = 0
        while rows and rows[0][0] < first:  # lines the history no longer holds
            rows.popleft()
            dropped += 1
        for index in range(max(redo, first), log.total):
            text = log.lines[index - first].text
            rows.extend((index, row) for row in range(1 + text.count("\n")))
        self._open = {i: log.lines[i - first] for i in log.open_indices() if i >= first}
        self._seen = log.total
        self.drawn_version = log.version
        self.virtual_size = Size(0, len(rows))
        if following:
            self.scroll_end(animate=False, immediate=False, x_axis=False)
        elif dropped:
            self.scroll_to(y=max(0, self.scroll_y - dropped), animate=False)
        self.refresh()

    def row_strips(self) -> list[Strip]:
        """Every row, rendered at the pane's width (what scrolling would show)."""
        width = self.scrollable_content_region.width
        return [self._row(i, width) for i in range(len(self._rows))]

    def _row(self, y: int, width: int) -> Strip:
        log = self._log
        if log is None or y >= len(self._rows):
            return Strip.blank(width, self.rich_style)
        index, row = self._rows[y]
        key = (index, width)
        strips = self._rendered.get(key)
        if strips is None:
            line = log.lines[index - (log.total - len(log.lines))]
            text = log_line(line.stream, line.text, line.level, line.ansi)
            options = self.app.console.options.update(width=max(width, 1), no_wrap=True, overflow="ignore")
            strips = [Strip(segments) for segments in self.app.console.render_lines(text, options, pad=False)]
            if index not in self._open:  # a line still being written changes: not kept
                self._rendered.set(key, strips)
        return strips[row] if row < len(strips) else Strip.blank(width, self.rich_style)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        strip = self._row(scroll_y + y, width)
        return strip.crop_extend(scroll_x, scroll_x + width, self.rich_style).apply_style(self.rich_style)
