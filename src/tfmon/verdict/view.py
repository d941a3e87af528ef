"""What the UI and headless output make of ``verdict`` events. Pure."""

from __future__ import annotations

from tfmon.events import VERDICT, Event


class VerdictState:
    """The latest verdict: its findings (dicts as in the event), best first."""

    def __init__(self) -> None:
        self.version = 0
        self.findings: list[dict] = []
        self.epoch: int | None = None

    def apply(self, e: Event) -> None:
        if e["type"] != VERDICT:
            return
        self.findings = [f for f in e.get("findings") or [] if isinstance(f, dict)]
        self.epoch = e.get("epoch")
        self.version += 1

    @property
    def top(self) -> dict | None:
        return self.findings[0] if self.findings else None


def verdict_lines(e: Event) -> list[str]:
    """Headless output for a ``verdict`` event: a heading, then one line per finding
    and its change to try."""
    findings = e.get("findings") or []
    when = f" (after epoch {e['epoch']})" if e.get("epoch") else ""
    if not findings:
        return [f"tfmon: why slow{when}: nothing found any more"]
    lines = [f"tfmon: why slow{when}:"]
    for i, f in enumerate(findings, 1):
        lines.append(f"  {i}. {f.get('title')}")
        lines.append(f"     {f.get('evidence')}")
        lines.append(f"     try: {f.get('change')}")
    return lines
