"""The verdict in the app, from a recorded real run (tests/fixtures/runs/verdict-input-4-epochs):
the top finding in the header, all of them at the top of the Fallbacks pane."""

from __future__ import annotations

from conftest import FIXTURES
from tfmon.recorder import read_events
from tfmon.ui.app import TfmonApp
from tfmon.ui.fallback_pane import verdict_text
from tfmon.ui.sources import ReplaySource
from tfmon.verdict.view import VerdictState

RUN = FIXTURES / "runs" / "verdict-input-4-epochs"


def last_verdict() -> dict:
    return [e for e in read_events(RUN) if e["type"] == "verdict"][-1]


async def test_header_shows_the_top_finding_and_the_fallbacks_pane_all_of_them():
    verdict = last_verdict()
    top = verdict["findings"][0]
    assert top["rule"] == "input_bound"  # what the recording says; the rest follows from it
    app = TfmonApp(ReplaySource(RUN))
    async with app.run_test(size=(200, 60)) as pilot:
        await pilot.pause(0.5)
        header = str(app.query_one("#header").render())
        assert f"why slow: {top['title']}" in header
        shown = str(app.query_one("#fallback-verdict").render())
        assert shown.startswith("Why is it slow?")
        for finding in verdict["findings"]:
            assert finding["title"] in shown
        assert "lacks cache()" in shown and "waits" in shown


async def test_at_80x24_the_pane_shows_the_verdict_first():
    app = TfmonApp(ReplaySource(RUN))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.3)
        await pilot.press("3")
        await pilot.pause(0.3)
        svg = app.export_screenshot()
        assert "Why" in svg and "input-bound" in svg


def test_compact_verdict_is_titles_only_and_nothing_without_findings():
    state = VerdictState()
    assert verdict_text(state) is None
    state.apply(last_verdict())
    compact = verdict_text(state, compact=True).plain
    assert "try:" not in compact and state.findings[0]["title"] in compact
    assert "try:" in verdict_text(state).plain
