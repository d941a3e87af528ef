"""Turn raw chunks read from a pipe into complete text lines.

The fd reader threads read ``os.read(fd, 65536)`` chunks: a line, and even one
UTF-8 character, can be split across two reads. ``LineBuffer`` keeps the
partial tail (bytes of an unfinished character live in the incremental
decoder, characters of an unfinished line in ``_tail``) until the rest arrives.
"""

from __future__ import annotations

import codecs

#: A "line" that never ends (a progress bar redrawn with "\r" only, binary
#: garbage) is cut here so the buffer cannot grow without bound.
MAX_LINE_CHARS = 1 << 20


class LineBuffer:
    """Incremental bytes -> lines splitter. Not thread-safe: one per reader thread."""

    def __init__(self, max_line_chars: int = MAX_LINE_CHARS) -> None:
        # errors="replace": TF and user code can print bytes that are not UTF-8;
        # they become U+FFFD instead of killing the reader thread.
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._tail = ""
        self._max = max_line_chars

    def feed(self, data: bytes) -> list[str]:
        """The lines completed by ``data``, without their "\\n" / "\\r\\n"."""
        text = self._decoder.decode(data)
        if not text:
            return []
        if self._tail:
            text = self._tail + text
        parts = text.split("\n")
        self._tail = parts.pop()
        if len(self._tail) > self._max:
            parts.append(self._tail)
            self._tail = ""
        return [p[:-1] if p.endswith("\r") else p for p in parts]

    def flush(self) -> list[str]:
        """The unfinished last line (if any), e.g. at EOF. Resets the buffer."""
        text = self._tail + self._decoder.decode(b"", final=True)
        self._tail = ""
        if not text:
            return []
        return [text[:-1] if text.endswith("\r") else text]
