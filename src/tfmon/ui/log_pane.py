"""The script's output and TensorFlow's log lines, marked by where they came from."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import RichLog

from tfmon.state import LogState

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


def log_line(stream: str, text: str, level: str | None) -> Text:
    marker, style = STREAM_STYLE.get(stream, ("  ", ""))
    if stream == "tf":
        text = _short_tf(text)
    if level in LEVEL_STYLE:
        style = LEVEL_STYLE[level]
    line = Text(marker, style=f"bold {style}" if style else "dim")
    line.append(text, style=style)
    return line


class LogPane(RichLog):
    def __init__(self, **kwargs) -> None:
        super().__init__(max_lines=5000, wrap=False, markup=False, highlight=False, **kwargs)
        self._seen = 0

    def update_from(self, log: LogState) -> None:
        new = log.total - self._seen
        if new <= 0:
            return
        lines = list(log.lines)[-min(new, len(log.lines)) :]
        self._seen = log.total
        for stream, text, level in lines:
            self.write(log_line(stream, text, level))
