"""Fallbacks pane: why the run is slow, and ops that run on the CPU while a GPU is visible.

At the top, the verdict ("why is it slow?", ``tfmon.verdict``): each finding
with its numbers and the change to try, best first.

Groups by layer and op type, heaviest first, each with its reason (from
TensorFlow's kernel registry) and what to try; then the known TF warnings.
Above them, a banner says when no GPU is visible and why (the ``environment``
findings that ``tfmon doctor`` also reports).

``update_from(state, verdict)`` redraws only when ``state.fallback_version`` or the
verdict's version moved:
fallbacks change rarely, placement ticks do not touch this pane.
``notify_first=True`` makes the pane raise the first-fallback notification
itself (off by default: tfmon's app raises it from the header count).
"""

from __future__ import annotations

import re

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

from tfmon.placement.state import PlacementState
from tfmon.verdict.view import VerdictState

MAX_GROUPS = 200  # a pane, not a report: beyond this, "N more groups"
_STATUS_MARK = {"fail": ("✗", "bold red"), "warn": ("!", "bold yellow")}
_HEADLINE_END = re.compile(r": |; | \(")
NARROW = 30  # below this many columns the banner drops its frame: every cell is for words


def banner_text(state: PlacementState, compact: bool = False) -> Text | None:
    """The "no GPU visible, and why" banner; with a GPU visible, the "visible but unused"
    one when every compute op so far ran on the CPU; else None.

    Each finding is a paragraph behind a one-cell mark, its fix on the next line:
    no column of fixed width, so a narrow pane wraps words, not a word per line.
    ``compact`` (a pane a fifth of the screen wide): each finding's headline only,
    the part before its first colon, semicolon or parenthesis; the whole text shows when the pane is maximised (3, then m)."""
    if state.gpu_visible:
        return _unused_gpu_text(state, compact)
    problems = state.problem_findings()
    if not problems and not state.findings and not state.total_nodes:
        return None  # nothing known yet: no claim either way
    headline = "No GPU visible: CPU only." if compact else "No GPU visible: TensorFlow runs on the CPU."
    text = Text(headline, style="bold")
    if not problems:
        text.append("\nNo check explains it; run `tfmon doctor`.")
    for f in problems:
        mark, style = _STATUS_MARK.get(f["status"], ("·", ""))
        text.append(f"\n{mark} ", style=style)
        text.append(_HEADLINE_END.split(f["message"], 1)[0] if compact else f["message"])
        if f.get("fix") and not compact:
            text.append(f"\n  fix: {f['fix']}", style="italic")
    if compact and problems:
        text.append("\n(3, m: the details)", style="dim")
    return text


#: CPU compute nodes, with none on the GPU, before the "visible but unused" banner: the
#: first eager ops of a normal run (initialisers) must not raise it for a moment.
UNUSED_MIN_NODES = 20


def _unused_gpu_text(state: PlacementState, compact: bool) -> Text | None:
    """The "GPU visible but unused" banner (the whole model under tf.device('/CPU:0'))."""
    cpu = state.compute_nodes.get("CPU", 0)
    if state.compute_nodes.get("GPU", 0) or cpu < UNUSED_MIN_NODES:
        return None
    if compact:
        return Text("GPU visible but unused: every op on the CPU.", style="bold")
    text = Text(f"GPU visible but unused: all {cpu} compute ops placed so far ran on the CPU.", style="bold")
    text.append("\n  look for a tf.device('/CPU:0') scope around the model, or a dtype the GPU has no "
                "kernels for (float64); each op's reason is below", style="italic")
    return text


def verdict_view(verdict: VerdictState | None, compact: bool = False) -> Group | None:
    """"Why is it slow?": a heading, then each finding numbered, its title, evidence and
    the change to try under it (``compact``: titles only); a wrapped line keeps the
    finding's indent. None while there is nothing to say."""
    if verdict is None or not verdict.findings:
        return None
    heading = Text("Why is it slow?", style="bold underline")
    if verdict.epoch:
        heading.append(f"  after epoch {verdict.epoch}", style="dim")
    table = Table.grid()
    table.add_column(width=3, no_wrap=True)
    table.add_column(ratio=1)
    for i, f in enumerate(verdict.findings, 1):
        parts = [Text(str(f.get("title", "")), style="bold yellow" if i == 1 else "bold")]
        if not compact:
            parts.append(Text(str(f.get("evidence", ""))))
            change = Text("try: ", style="dim")
            change.append(str(f.get("change", "")), style="green")
            parts.append(change)
        table.add_row(Text(f"{i}.", style="bold"), Group(*parts))
    return Group(heading, table)


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
    FallbackPane #fallback-verdict { display: none; margin-bottom: 1; }
    FallbackPane #fallback-verdict.-shown { display: block; }
    FallbackPane #fallback-banner { display: none; border: heavy $error; padding: 0 1; height: auto; }
    FallbackPane #fallback-banner.-shown { display: block; }
    FallbackPane #fallback-banner.-narrow { border: none; border-left: thick $error; padding: 0; }
    FallbackPane > #fallback-summary { height: 1; color: $text-muted; }
    FallbackPane > VerticalScroll { height: 1fr; scrollbar-size-vertical: 1; }
    """

    def __init__(self, *, notify_first: bool = False, name: str | None = None,
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.notify_first = notify_first
        self.drawn_version: tuple[int, int] | None = None
        self._notified = False

    def compose(self) -> ComposeResult:
        yield Static("fallbacks: none yet", id="fallback-summary")
        # The banner scrolls with the list: in a short pane it must not take every row.
        with VerticalScroll():
            yield Static(id="fallback-verdict")
            yield Static(id="fallback-banner")
            yield Static(id="fallback-list")

    @property
    def narrow(self) -> bool:
        return 0 < self.size.width < NARROW

    def on_resize(self) -> None:
        self.query_one("#fallback-banner").set_class(self.narrow, "-narrow")
        self.drawn_version = None  # the banner's text depends on the width

    def update_from(self, state: PlacementState, verdict: VerdictState | None = None) -> None:
        seen = (state.fallback_version, verdict.version if verdict is not None else -1)
        if seen == self.drawn_version:
            return
        self.drawn_version = seen
        found = verdict_view(verdict, compact=self.narrow)
        shown = self.query_one("#fallback-verdict", Static)
        shown.set_class(found is not None, "-shown")
        shown.update(found or "")
        banner = self.query_one("#fallback-banner", Static)
        text = banner_text(state, compact=self.narrow)
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
