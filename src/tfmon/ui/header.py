"""The header: what runs, in which state, how far, how fast, and on what device."""

from __future__ import annotations

import time

from rich.text import Text
from textual.widget import Widget

from tfmon.state import RunState
from tfmon.describe import duration, rate

MIN_VERDICT_CELLS = 24  # below this, a cut verdict says too little: dropped
STATE_STYLE = {
    "starting": "bold yellow",
    "running": "bold green",
    "paused": "bold magenta",
    "pausing": "bold magenta",
    "stopping": "bold yellow",
    "finished": "bold cyan",
    "failed": "bold red",
    "ended": "bold yellow",  # a recording that stops without run_end
}


def state_label(state: RunState, now: float) -> str:
    info = state.info
    if info.paused_since is not None:
        return f"paused at epoch {info.epoch}, step {info.step} ({duration(now - info.paused_since)})"
    if info.pause_requested:
        # Only a fit or a tfmon.step() loop can pause: say so while none runs.
        return "pause waits for a fit or tfmon.step()" if info.between_fits() else "pausing…"
    if info.state in ("finished", "failed") and info.exit_code is not None:
        return f"{info.state} (exit {info.exit_code})"
    if info.state == "ended":
        return info.detail
    if info.state == "running" and info.stop_reason is None and info.epochs is None:
        return info.detail if info.detail != "running the script" else "running"
    return info.state if info.state != "starting" else info.detail


def header_text(state: RunState, now: float, attached: bool = False, width: int = 200) -> Text:
    """Two lines; parts are dropped from the end when the terminal is narrow (80 columns)."""
    info = state.info
    label = state_label(state, now)
    style_key = "paused" if info.paused_since or info.pause_requested else info.state
    first = Text()
    first.append(" tfmon ", "bold reverse")
    first.append(" ")
    first.append(info.script.rsplit("/", 1)[-1] or "…", "bold")
    first.append("  ")
    first.append(label, STATE_STYLE.get(style_key, "bold"))
    parts = []
    if info.epochs:
        parts.append(f"epoch {info.epoch}/{info.epochs}")
        total = info.steps_per_epoch
        if info.ended_at:  # cut short: it must not read as a full epoch
            parts.append(info.ended_at)
        else:
            parts.append(f"step {info.step}/{total}" if total else f"step {info.step}")
    elif info.fit:  # a custom loop: no planned epochs
        if info.epoch:
            parts.append(f"epoch {info.epoch}")
        parts.append(info.ended_at or f"step {info.global_step or info.step}")
    if info.training_now:  # paused, between fits or ended: no speed to claim
        speed = info.samples_per_s
        parts.append(rate(speed, "samples/s") if speed else rate(info.steps_per_s, "steps/s"))
    parts.append(f"elapsed {duration(info.elapsed(now))}")
    eta = info.eta_seconds()
    if eta is not None:
        parts.append(f"ETA {duration(eta)}")
    for part in parts:
        if first.cell_len + 2 + len(part) > width:
            break
        first.append("  " + part)
    second = Text(" ")
    notes: list[tuple[str, str]] = []
    placement = state.placement
    notes.append((placement.header_summary(), ""))
    if state.verdict.top is not None:
        notes.append((f"slow: {state.verdict.top.get('title')}", "bold yellow"))
    if placement.fallback_count:
        notes.append((f"⚠ {placement.fallback_count} CPU fallbacks", "bold yellow"))
    if info.stop_reason and info.state == "running":
        notes.append((f"fit: {info.stop_reason}", "yellow"))
    if info.hung_up:
        notes.append(("terminal hung up: running headless", "yellow"))
    if attached:
        notes.append(("attached: q leaves the run going", "cyan"))
    for i, (note, style) in enumerate(notes):
        if not note:
            continue
        if second.cell_len + 2 + len(note) > width and i:
            room = width - second.cell_len - 3
            if note.startswith("slow: ") and room >= MIN_VERDICT_CELLS:
                second.append("  " + note[:room] + "…", style)  # the verdict is worth a cut, not a drop
            break
        second.append(("  " if second.cell_len > 1 else "") + note, style)
    second.truncate(width)
    first.truncate(width)
    first.append("\n")
    first.append_text(second)
    return first


class Header(Widget):
    """Fixed height, so a new text needs a repaint, never a new layout of the screen
    (Static.update would re-lay out everything ten times a second)."""

    DEFAULT_CSS = "Header { height: 2; background: $boost; }"

    def __init__(self, attached: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.attached = attached
        self._shown = Text()

    def render(self) -> Text:
        return self._shown

    def update_from(self, state: RunState) -> None:
        text = header_text(state, time.time(), self.attached, self.size.width or 200)
        if text != self._shown:
            self._shown = text
            self.refresh()
