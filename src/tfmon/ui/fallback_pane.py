"""Fallbacks pane: ops that run on the CPU while a GPU is visible, and why.

Groups by layer and op type, heaviest first, each with its reason (from
TensorFlow's kernel registry) and what to try; then the known TF warnings.
Above them, a banner says when no GPU is visible and why (the ``environment``
findings that ``tfmon doctor`` also reports).

``update_from(state)`` redraws only when ``state.fallback_version`` moved:
fallbacks change rarely, placement ticks do not touch this pane.
``notify_first=True`` makes the pane raise the first-fallback notification
itself (off by default: tfmon's app raises it from the header count).
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

from tfmon.placement.state import PlacementState

MAX_GROUPS = 200  # a pane, not a report: beyond this, "N more groups"
_STATUS_STYLE = {"fail": "bold red", "warn": "yellow"}


def banner_text(state: PlacementState) -> Text | None:
    """The "no GPU visible, and why" banner, or None when a GPU is visible."""
    if state.gpu_visible:
        return None
    problems = state.problem_findings()
    if not problems and not state.findings and not state.total_nodes:
        return None  # nothing known yet: no claim either way
    text = Text("No GPU visible: TensorFlow runs on the CPU.", style="bold")
    if not problems:
        text.append("\nNo check explains it; run `tfmon doctor`.")
    for f in problems:
        text.append(f"\n{f['status']:>4} ", style=_STATUS_STYLE.get(f["status"], ""))
        text.append(f["message"])
        if f.get("fix"):
            text.append(f"\n     fix: {f['fix']}", style="italic")
    return text


def fallbacks_text(state: PlacementState) -> Text:
    groups = state.fallback_groups()
    text = Text()
    if not groups:
        if state.gpu_visible:
            text.append("No CPU fallbacks: every compute op seen so far runs on the GPU.")
        else:
            text.append("No CPU fallbacks reported: with no GPU visible, nothing can fall back.")
    for group in groups[:MAX_GROUPS]:
        layer = group["layer"] or "(no layer)"
        text.append(f"{layer} · {group['op']}", style="bold")
        text.append(f" ×{group['count']} on {', '.join(group['devices'])}")
        phases = ", ".join(p for p in group["phases"] if p)
        if phases:
            text.append(f" ({phases})")
        text.append(f"  weight {group['weight']:g}\n", style="dim")
        text.append("  why: ", style="dim")
        text.append(f"{group['reason']}\n")
        text.append("  try: ", style="dim")
        text.append(f"{group['advice']}\n", style="green")
        if group["count"] > 1:
            names = ", ".join(group["nodes"][:3])
            more = group["count"] - 3
            text.append(f"  nodes: {names}{f' +{more}' if more > 0 else ''}\n", style="dim")
    if len(groups) > MAX_GROUPS:
        text.append(f"… {len(groups) - MAX_GROUPS} more groups\n", style="dim")
    if state.warnings:
        text.append("\nTensorFlow warnings\n", style="bold underline")
        for w in state.warnings:
            style = "red" if w.get("severity") == "error" else "yellow" if w.get("severity") == "warning" else ""
            text.append(f"{w.get('severity', 'warning')}: ", style=style)
            text.append(f"{w.get('message', '')}\n")
            text.append("  try: ", style="dim")
            text.append(f"{w.get('advice', '')}\n", style="green")
    return text


class FallbackPane(Widget):
    DEFAULT_CSS = """
    FallbackPane { layout: vertical; height: 1fr; }
    FallbackPane > #fallback-banner { display: none; border: heavy $error; padding: 0 1; height: auto; }
    FallbackPane > #fallback-banner.-shown { display: block; }
    FallbackPane > #fallback-summary { height: 1; color: $text-muted; }
    FallbackPane > VerticalScroll { height: 1fr; }
    """

    def __init__(self, *, notify_first: bool = False, name: str | None = None,
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.notify_first = notify_first
        self._seen_version = -1
        self._notified = False

    def compose(self) -> ComposeResult:
        yield Static(id="fallback-banner")
        yield Static("fallbacks: none yet", id="fallback-summary")
        with VerticalScroll():
            yield Static(id="fallback-list")

    def update_from(self, state: PlacementState) -> None:
        if state.fallback_version == self._seen_version:
            return
        self._seen_version = state.fallback_version
        banner = self.query_one("#fallback-banner", Static)
        text = banner_text(state)
        banner.set_class(text is not None, "-shown")
        banner.update(text or "")
        n = state.fallback_count
        summary = f"{state.device_summary()} · {n} CPU fallback{'s' if n != 1 else ''}"
        if state.warnings:
            summary += f" · {len(state.warnings)} TF warning{'s' if len(state.warnings) != 1 else ''}"
        self.query_one("#fallback-summary", Static).update(summary)
        self.query_one("#fallback-list", Static).update(fallbacks_text(state))
        if n and not self._notified and self.notify_first:
            self._notified = True
            first = state.fallback_groups()[0]
            self.notify(
                f"{first['op']} in {first['layer'] or 'a node without layer'} runs on the CPU: "
                f"{first['reason']}",
                title="CPU fallback",
                severity="warning",
                markup=False,
            )
