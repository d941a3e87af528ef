"""The header: what runs, in which state, how far, how fast, and on what device."""

from __future__ import annotations

import time

from rich.text import Text
from textual.widgets import Static

from tfmon.state import RunState
from tfmon.ui.format import duration, rate

STATE_STYLE = {
    "starting": "bold yellow",
    "running": "bold green",
    "paused": "bold magenta",
    "pausing": "bold magenta",
    "stopping": "bold yellow",
    "finished": "bold cyan",
    "failed": "bold red",
}


def state_label(state: RunState, now: float) -> str:
    info = state.info
    if info.paused_since is not None:
        return f"paused at epoch {info.epoch}, step {info.step} ({duration(now - info.paused_since)})"
    if info.pause_requested:
        return "pausing…"
    if info.state in ("finished", "failed") and info.exit_code is not None:
        return f"{info.state} (exit {info.exit_code})"
    if info.state == "running" and info.stop_reason is None and info.epochs is None:
        return info.detail if info.detail != "running the script" else "running"
    return info.state if info.state != "starting" else info.detail


def header_text(state: RunState, now: float, attached: bool = False) -> Text:
    info = state.info
    label = state_label(state, now)
    style_key = "paused" if info.paused_since or info.pause_requested else info.state
    line = Text()
    line.append(" tfmon ", "bold reverse")
    line.append(" ")
    line.append(info.script.rsplit("/", 1)[-1] or "…", "bold")
    line.append("  ")
    line.append(f"● {label}", STATE_STYLE.get(style_key, "bold"))
    if info.epochs:
        line.append(f"  epoch {info.epoch}/{info.epochs}")
        total = info.steps or info._epoch_steps
        line.append(f"  step {info.step}/{total}" if total else f"  step {info.step}")
    speed = info.samples_per_s
    line.append("  " + (rate(speed, "samples/s") if speed else rate(info.steps_per_s, "steps/s")))
    line.append(f"  ⏱ {duration(info.elapsed(now))}")
    eta = info.eta_seconds()
    if eta is not None:
        line.append(f"  ETA {duration(eta)}")
    second = Text(" ")
    placement = state.placement
    if placement is not None:
        second.append(placement.header_summary())
        if getattr(placement, "fallback_count", 0):
            second.append(f"  ⚠ {placement.fallback_count} CPU fallbacks", "bold yellow")
    memory = state.memory
    if memory is not None and hasattr(memory, "header_summary"):
        second.append("  " + memory.header_summary())
    if info.stop_reason and info.state == "running":
        second.append(f"  fit: {info.stop_reason}", "yellow")
    if info.hung_up:
        second.append("  terminal hung up: running headless", "yellow")
    if attached:
        second.append("  attached: q leaves the run going", "cyan")
    line.append("\n")
    line.append_text(second)
    return line


class Header(Static):
    DEFAULT_CSS = "Header { height: 2; background: $boost; }"

    def __init__(self, attached: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.attached = attached

    def update_from(self, state: RunState) -> None:
        self.update(header_text(state, time.time(), self.attached))
