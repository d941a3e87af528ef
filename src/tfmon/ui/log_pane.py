"""The script's output and TensorFlow's log lines, marked by where they came from."""

from __future__ import annotations

from rich.text import Text
from textual.geometry import Size
from textual.widgets import RichLog

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


class LogPane(RichLog):
    """A RichLog that also redraws a line in place (a progress bar) instead of adding one."""

    def __init__(self, **kwargs) -> None:
        super().__init__(max_lines=5000, wrap=False, markup=False, highlight=False, **kwargs)
        self.drawn_version = -1  # the LogState.version last drawn (ui.protocols.Pane)
        self._seen = 0  # LogState.total already written
        self._strips: list[int] = []  # rows written per line, for the last lines written
        self._open: dict[int, LogLine] = {}  # unfinished lines written, by index: they may change

    def update_from(self, log: LogState) -> None:
        if log.version == self.drawn_version:
            return
        if not getattr(self, "_size_known", True):
            return  # RichLog defers writes until it knows its width; redraws need them done
        first = log.total - len(log.lines)
        redo = self._seen  # the first line to (re)write
        for index, line in self._open.items():
            if index >= first and log.lines[index - first] is not line:
                redo = min(redo, index)  # a progress bar moved on, or its line ended
        if redo < self._seen:
            self._drop_last(self._seen - redo)
        start = max(redo, first)
        if start > redo:
            self._strips.clear()  # more new lines than the history holds: the rows no longer match
        for index in range(start, log.total):
            line = log.lines[index - first]
            before = len(self.lines)
            self.write(log_line(line.stream, line.text, line.level, line.ansi))
            self._strips.append(len(self.lines) - before)
        del self._strips[: -self.max_lines]
        self._open = {i: log.lines[i - first] for i in log.open_indices() if i >= first}
        self._seen = log.total
        self.drawn_version = log.version

    def _drop_last(self, n: int) -> None:
        """Take the last ``n`` lines written off the screen, to write them again."""
        rows = sum(self._strips[-n:]) if n <= len(self._strips) else len(self.lines)
        del self._strips[-n:]
        del self.lines[max(0, len(self.lines) - rows) :]
        self._line_cache.clear()
        self.virtual_size = Size(self.virtual_size.width, len(self.lines))
        self.refresh()
