"""What a terminal would show of a line the script wrote, without letting it reach a terminal.

Scripts write control sequences: Keras' progress bar colours (SGR), ``\\r`` and
``\\b`` redraws (Keras, tqdm), erase-line, and now and then a title change, the
alternate screen or a mouse mode. Under tfmon none of it may reach the real
terminal (Textual owns it), nor a Rich ``Text`` raw (it would measure escape
bytes as cells and draw garbage). ``LineScreen`` plays one line the way a
terminal would: ``\\r``, ``\\b``, ``\\t``, erase-line and horizontal cursor
moves act on the line's cells, colours (SGR) are kept, everything else is
dropped. The result is the plain text and, when it had colours, the same text
with SGR only (for ``rich.text.Text.from_ansi``).
"""

from __future__ import annotations

import re

# One token: an escape sequence, a control character, or a run of printable text.
_TOKEN = re.compile(
    r"(?P<osc>\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?)"  # title, hyperlink... (BEL or ST ends it)
    r"|(?P<str>\x1b[PX^_][^\x1b]*(?:\x1b\\)?)"  # DCS, SOS, PM, APC strings
    r"|(?P<csi>\x1b\[(?P<params>[0-?]*)[ -/]*(?P<final>[@-~]))"
    r"|(?P<esc>\x1b[ -/]*[0-~]?)"  # two-byte escapes (charset, keypad, save cursor), a lone ESC
    r"|(?P<ctl>[\x00-\x08\x0a-\x1f\x7f-\x9f])"
    r"|(?P<text>[^\x00-\x08\x0a-\x1f\x7f-\x9f]+)"
)
_NEEDS_PLAY = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")
_RESET = "\x1b[0m"


def _first_param(params: str, default: int) -> int:
    head = params.split(";", 1)[0]
    return int(head) if head.isdigit() else default


class LineScreen:
    """One terminal line, fed in pieces; ``plain()`` and ``styled()`` read it back."""

    def __init__(self) -> None:
        self.chars: list[str] = []  # one per cell; read-only outside (its length says if the line is empty)
        self._pens: list[int] = []  # index into _pen_codes, per cell
        self._pen_codes: list[str] = [""]  # the SGR sequences in effect ("" = default)
        self._pen_ids: dict[str, int] = {"": 0}
        self._pen = 0
        self._col = 0
        self.styled_cells = False

    def feed(self, text: str) -> None:
        if self._col == len(self.chars) and not _NEEDS_PLAY.search(text):
            # The common case: more text at the end of the line.
            self.chars.extend(text)
            self._pens.extend([self._pen] * len(text))
            self._col = len(self.chars)
            return
        for m in _TOKEN.finditer(text):
            kind = m.lastgroup
            if kind == "text":
                self._put(m.group())
            elif kind == "csi":
                self._csi(m.group(), m.group("params"), m.group("final"))
            elif kind == "ctl":
                self._control(m.group())
            # osc, str, esc: dropped (titles, modes, charsets: nothing a log line shows)

    def _put_tail(self, text: str) -> None:
        self.chars.extend(text)
        self._pens.extend([self._pen] * len(text))
        self._col = len(self.chars)

    def _put(self, text: str) -> None:
        if self._col >= len(self.chars):
            self._pad_to(self._col)
            self._put_tail(text)
            return
        end = self._col + len(text)
        self.chars[self._col : end] = text
        self._pens[self._col : end] = [self._pen] * len(text)
        self._col = end

    def _pad_to(self, col: int) -> None:
        missing = col - len(self.chars)
        if missing > 0:
            self.chars.extend(" " * missing)
            self._pens.extend([0] * missing)

    def _control(self, char: str) -> None:
        if char == "\r":
            self._col = 0
        elif char == "\b":
            self._col = max(0, self._col - 1)
        # BEL, NUL, C1 controls, a stray \n: nothing to show

    def _csi(self, seq: str, params: str, final: str) -> None:
        if final == "m" and not params.startswith(("?", ">", "<", "=")):
            self._sgr(seq, params)
        elif final == "K":  # erase in line
            mode = _first_param(params, 0)
            if mode == 0:
                del self.chars[self._col :], self._pens[self._col :]
            elif mode == 1:
                self._pad_to(self._col)
                for i in range(min(self._col + 1, len(self.chars))):
                    self.chars[i], self._pens[i] = " ", 0
            else:
                self.chars.clear()
                self._pens.clear()
        elif final == "G":  # column (1-based)
            self._col = max(0, _first_param(params, 1) - 1)
        elif final == "C":
            self._col += max(1, _first_param(params, 1))
        elif final == "D":
            self._col = max(0, self._col - max(1, _first_param(params, 1)))
        # other CSI (cursor up/down, screen erase, modes such as the alternate
        # screen or mouse reporting): not for a log line, dropped

    def _sgr(self, seq: str, params: str) -> None:
        if params in ("", "0"):
            code = ""
        else:
            self.styled_cells = True
            code = self._pen_codes[self._pen] + seq
        pen = self._pen_ids.get(code)
        if pen is None:
            pen = self._pen_ids[code] = len(self._pen_codes)
            self._pen_codes.append(code)
        self._pen = pen

    def plain(self) -> str:
        return "".join(self.chars)

    def styled(self) -> str | None:
        """The line with its colours as SGR sequences, or None when it has none."""
        if not self.styled_cells or not any(self._pens):
            return None
        out: list[str] = []
        pen = 0
        start = 0
        for i, p in enumerate(self._pens):
            if p != pen:
                out.append("".join(self.chars[start:i]))
                out.append(_RESET + self._pen_codes[p])
                pen, start = p, i
        out.append("".join(self.chars[start:]))
        if pen:
            out.append(_RESET)
        return "".join(out)


def render(text: str) -> tuple[str, str | None]:
    """(plain text, text with SGR colours or None) of one line as a terminal shows it."""
    if not _NEEDS_PLAY.search(text):
        return text, None  # nothing to play: most lines
    screen = LineScreen()
    screen.feed(text)
    return screen.plain().rstrip(), screen.styled()
