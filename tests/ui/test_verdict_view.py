"""The verdict in the app, from a recorded real run (tests/fixtures/runs/verdict-input-4-epochs):
the top finding in the header, all of them at the top of the Fallbacks pane."""

from __future__ import annotations

import io

from conftest import FIXTURES
from tfmon.recorder import read_events
from tfmon.ui.app import TfmonApp
from rich.console import Console

from tfmon.ui.fallback_pane import verdict_view
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
        assert f"slow: {top['title']}" in header
        pane = app.query_one("#fallback-verdict")
        assert pane.has_class("-shown")
        lines = [strip.text for strip in pane.render_lines(pane.region.reset_offset)]
        assert lines[0].startswith("Why is it slow?  after epoch")
        shown = " ".join(line.strip() for line in lines)
        for finding in verdict["findings"]:
            assert finding["title"] in shown
        assert "lacks cache()" in shown and "waits" in shown
        # Evidence and change keep their indent on every wrapped line.
        assert all(line.startswith(("Why", "1. ", "2. ", "3. ", "   ")) for line in lines if line.strip())
        assert len(lines) > 20  # the pane is narrow here: it did wrap


async def test_at_80x24_the_pane_shows_the_verdict_first():
    app = TfmonApp(ReplaySource(RUN))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.3)
        await pilot.press("3")
        await pilot.pause(0.3)
        svg = app.export_screenshot()
        assert "Why" in svg and "input-bound" in svg


def plain(renderable, width: int = 80) -> str:
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def test_compact_verdict_is_titles_only_and_nothing_without_findings():
    state = VerdictState()
    assert verdict_view(state) is None
    state.apply(last_verdict())
    compact = plain(verdict_view(state, compact=True), width=28)
    assert "try:" not in compact and "1. input-bound" in compact
    assert "try:" in plain(verdict_view(state))


def test_header_cuts_a_long_verdict_at_80_columns_rather_than_dropping_it():
    from tfmon.state import RunState
    from tfmon.ui.header import header_text

    state = RunState()
    state.apply({"type": "run_start", "t": 1.0, "script": "train.py"})
    state.apply({"type": "memory", "t": 2.0, "proc_rss_mb": 700.0, "sys_total_mb": 16000.0, "sys_used_mb": 9000.0})
    title = "CPU fallbacks: conv2d_transpose, batch_normalization_7, multi_head_attention"
    state.apply({"type": "verdict", "t": 3.0, "epoch": 2, "findings": [{"rule": "cpu_fallbacks", "title": title}]})
    second = header_text(state, 4.0, width=80).plain.splitlines()[1]
    assert len(second) <= 80 and "slow: CPU fallbacks: conv2d_transpose" in second and second.endswith("…")
    wide = header_text(state, 4.0, width=200).plain.splitlines()[1]
    assert f"slow: {title}" in wide
