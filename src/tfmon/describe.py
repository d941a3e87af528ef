"""Runs in words: the one place that says what an event means to a person (the Log
pane's tfmon lines, headless output, ``tfmon ctl``'s replies, the terminal after the
UI), and how figures read (metrics, durations, rates). Pure: no Textual, no TF.
"""

from __future__ import annotations

from tfmon import events
from tfmon.events import Event
from tfmon.verdict.view import verdict_lines


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(max(seconds, 0))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def number(value) -> str:
    """A metric value: 4 significant digits, scientific for tiny/huge values."""
    if not isinstance(value, (int, float)):
        return str(value)
    if value == 0:
        return "0"
    if abs(value) < 1e-3 or abs(value) >= 1e5:
        return f"{value:.3e}"
    return f"{value:.4g}"


def rate(value: float | None, unit: str) -> str:
    if value is None:
        return f"-- {unit}"
    if value >= 1000:
        return f"{value / 1000:.1f}k {unit}"
    return f"{value:.1f} {unit}"


def checkpoint(e: Event, note: bool = False) -> str:
    """A ``checkpoint`` event; ``note``: with why it is weights only, where it is."""
    if e.get("ok"):
        text = f"checkpoint saved: {e.get('path')} ({(e.get('size') or 0) / 1e6:.1f} MB)"
        return text + (f" ({e['note']})" if note and e.get("note") else "")
    return f"checkpoint failed: {e.get('error')}"


def predict(e: Event) -> str:
    return f"predict: {e.get('batches')} batches in {e.get('seconds', 0):.2f}s"


def paused(e: Event) -> str:
    return f"paused at epoch {e.get('epoch')}, step {e.get('step')}"


def resumed(e: Event) -> str:
    return f"resumed after {e.get('seconds', 0):.1f}s"


def headless_line(e: Event) -> str | None:
    """The line headless mode prints for an event, or None for most events."""
    kind = e["type"]
    if kind == events.RUN_START:
        return f"tfmon: running {e.get('script')} · run dir {e.get('run_dir')}"
    if kind == events.FIT_START and e.get("loop") == "custom":
        return "tfmon: custom training loop started (tfmon.step)"
    if kind == events.FIT_START:
        return f"tfmon: fit {e.get('fit')}: {e.get('epochs')} epochs, {e.get('steps') or '?'} steps per epoch"
    if kind == events.EPOCH_END:
        metrics = "  ".join(f"{k} {number(v)}" for k, v in e.get("metrics", {}).items())
        cut = f"  {e['ended_at']}" if e.get("ended_at") else ""
        return f"epoch {e['epoch']}  {metrics}  ({e.get('seconds', 0):.1f}s){cut}"
    if kind == events.FIT_END:
        error = f" ({e['error']})" if e.get("error") else ""
        return f"tfmon: fit {e.get('fit')} ended after {e.get('epochs_done')} epochs: {e.get('reason')}{error}"
    if kind == events.EVALUATE_END:
        metrics = "  ".join(f"{k} {number(v)}" for k, v in e.get("metrics", {}).items())
        return f"evaluate  {metrics}"
    if kind == events.PREDICT_END:
        return f"tfmon: {predict(e)}"
    if kind == events.CHECKPOINT:
        return f"tfmon: {checkpoint(e, note=True)}"
    if kind == events.PAUSED:
        return f"tfmon: {paused(e)}"
    if kind == events.RESUMED:
        return f"tfmon: {resumed(e)}"
    if kind in (events.TF_WARNING, events.MEMORY_WARNING):
        # Fallbacks are summarised by the Printer (placement.digest), not one line per node.
        text = e.get("message") or e.get("reason") or ""
        advice = e.get("advice")
        return f"tfmon: warning: {text}" + (f" → {advice}" if advice else "")
    if kind == events.VERDICT:
        return "\n".join(verdict_lines(e))
    if kind == events.HANGUP:
        return "tfmon: terminal hung up; training goes on headless"
    if kind == events.RUN_END:
        return f"tfmon: {e.get('state')} (exit {e.get('exit_code')})"
    return None


def ctl_message(action: str, e: Event | None) -> str:
    """What ``tfmon ctl`` says once ``action`` took effect (``e``), or that it is asked."""
    if e is None:
        return f"{action} requested: served at the next batch boundary"
    kind = e["type"]
    if kind == events.PAUSED:
        return paused(e)
    if kind == events.RESUMED:
        return f"{resumed(e)} paused"
    if kind == events.CHECKPOINT:
        return checkpoint(e)
    if kind == events.FIT_END:
        return f"fit stopped after {e.get('epochs_done')} epoch(s): the script goes on"
    if kind == events.RUN_END:
        return f"the run ended ({e.get('state')}, exit {e.get('exit_code')})"
    return action
