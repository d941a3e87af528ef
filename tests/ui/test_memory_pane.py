"""The memory pane in a small test app, fed with events: a run recorded from a real
sampler next to a real Keras training on this machine (tests/fixtures/memory/), and
a macOS sample made by the real sampler with ioreg/memory_pressure output replayed
from the captured fixtures. Checked through the widgets and an SVG screenshot."""

from __future__ import annotations

import html
import json
import pathlib
import re
import types

import pytest
from textual.app import App, ComposeResult
from textual.containers import Horizontal
from textual.widgets import Sparkline, Static

from tfmon.memory.sampler import MemorySampler
from tfmon.memory.state import MemoryState
from tfmon.ui.memory_pane import MemoryPane

FIX = pathlib.Path(__file__).resolve().parents[1] / "fixtures"
RUN = FIX / "memory" / "linux-cpu-keras-leak-run.jsonl"


def recorded_events() -> list[dict]:
    return [json.loads(line) for line in RUN.read_text().splitlines()]


def mac_events() -> list[dict]:
    outputs = {
        "ioreg": (FIX / "ioreg" / "m4-agxacceleratorg16g-performance-statistics.txt").read_text(),
        "memory_pressure": (FIX / "macos" / "m1pro-16gb-vm_stat-memory_pressure-swapusage.txt").read_text(),
    }
    events: list[dict] = []

    def runner(cmd, **kw):
        return types.SimpleNamespace(returncode=0, stdout=outputs[cmd[0]], stderr="")

    sampler = MemorySampler(lambda t, **f: events.append({"type": t, "t": 0.0, **f}), platform="darwin", runner=runner)
    for _ in range(3):
        sampler.sample_once()
    return events


def screen_lines(svg: str) -> list[str]:
    """The screen's text, line by line, from Textual's SVG export (one <text> per run of cells)."""
    rows: dict[float, list[tuple[float, str]]] = {}
    for m in re.finditer(r'<text class="[^"]*" x="([\d.]+)" y="([\d.]+)"[^>]*>(.*?)</text>', svg):
        rows.setdefault(float(m.group(2)), []).append((float(m.group(1)), html.unescape(m.group(3))))
    return ["".join(t for _, t in sorted(parts)).replace("\xa0", " ") for _, parts in sorted(rows.items())]


class PaneApp(App):
    """The pane alone, or at ``pane_width`` columns beside a stand-in for the other panes."""

    def __init__(self, pane_width: int | None = None) -> None:
        super().__init__()
        self.pane_width = pane_width

    def compose(self) -> ComposeResult:
        if self.pane_width is None:
            yield MemoryPane()
        else:
            with Horizontal():
                other = Static("other panes", id="other")
                other.styles.width = "1fr"
                yield other
                pane = MemoryPane()
                pane.styles.width = self.pane_width
                yield pane


async def _show(app: App, pilot, events: list[dict]) -> MemoryState:
    state = MemoryState()
    pane = app.query_one(MemoryPane)
    for e in events:  # as the app does: apply, then redraw on its timer
        state.apply(e)
        pane.update_from(state)
    await pilot.pause()
    return state


@pytest.mark.parametrize("size", [(80, 24), (200, 60)])
async def test_recorded_run_shows_rows_leak_and_warning(size):
    app = PaneApp()
    async with app.run_test(size=size) as pilot:
        state = await _show(app, pilot, recorded_events())
        pane = app.query_one(MemoryPane)
        texts = pane.row_texts()
        assert texts["proc"] == "1.05 GB RSS"
        assert texts["system"] == "1.64 GB / 23.5 GB"
        assert texts["tf"].startswith("not reported by this backend")
        assert "swap" not in texts  # no swap on the recording machine: no row
        lines = screen_lines(app.export_screenshot())
        screen = "\n".join(lines)
        for key_text in ("Process", "1.05 GB RSS", "System", "1.64 GB / 23.5 GB", "not reported by this backend",
                         "Growth/epoch: process +81 MB over 6 epochs  LEAK?", "process memory +82 MB/epoch over 3 epochs"):
            assert key_text in screen, (key_text, screen)
        proc_line = next(line for line in lines if line.startswith("Process"))
        assert "4%" in proc_line  # the bar's percentage of total memory
        assert any(ch in proc_line for ch in "▁▂▃▄▅▆▇█")  # the sparkline
        assert max(len(line.rstrip()) for line in lines) <= size[0]
        assert state.version == len(recorded_events())


async def test_narrow_pane_drops_sparklines_but_keeps_values():
    app = PaneApp(pane_width=40)
    async with app.run_test(size=(80, 24)) as pilot:
        await _show(app, pilot, recorded_events())
        pane = app.query_one(MemoryPane)
        assert pane.has_class("-narrow")
        assert all(not s.display or s.styles.display == "none" for s in pane.query(Sparkline))
        assert all(s.region.width == 0 for s in pane.query(Sparkline))
        screen = "\n".join(screen_lines(app.export_screenshot()))
        assert "1.64 GB / 23.5 GB" in screen and "1.05 GB RSS" in screen


async def test_macos_rows_and_late_tf_row_keep_their_order():
    app = PaneApp()
    async with app.run_test(size=(100, 30)) as pilot:
        events = mac_events()
        # Constructed: the same samples before fit() started, when TF must not be read yet.
        for e in events:
            e.pop("tf_status", None)
        state = await _show(app, pilot, events)
        pane = app.query_one(MemoryPane)
        texts = pane.row_texts()
        assert texts["agx"] == "21% busy · rend 19%"
        assert texts["agx_mem"] == "335 MB in use · 1.47 GB alloc"
        assert texts["pressure"] == "38% free"
        assert "tf" not in texts
        later = dict(events[-1], tf_status="unreported", tf_note="zeros")
        state.apply(later)
        pane.update_from(state)
        await pilot.pause()
        order = [w.id for w in pane.query("MemoryRow") if w.display]
        assert order.index("mem-tf") < order.index("mem-agx")  # mounted in the state's order
        screen = "\n".join(screen_lines(app.export_screenshot()))
        assert "Apple GPU" in screen and "not reported by this backend" in screen


async def test_update_is_skipped_when_version_has_not_moved_and_rows_hide():
    app = PaneApp()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one(MemoryPane)
        assert "waiting for the first sample" in "\n".join(screen_lines(app.export_screenshot()))
        state = await _show(app, pilot, recorded_events())
        calls = []
        real_rows = state.rows
        state.rows = lambda: calls.append(1) or real_rows()
        pane.update_from(state)
        pane.update_from(state)
        assert calls == []
        # A sample where the process source is gone: its rows hide.
        last = next(e for e in reversed(recorded_events()) if e["type"] == "memory")
        state.apply({k: v for k, v in last.items() if not k.startswith("proc_")})
        pane.update_from(state)
        await pilot.pause()
        assert calls == [1]
        assert "proc" not in pane.row_texts() and "system" in pane.row_texts()


async def test_bars_are_text_with_no_timers_waking_the_ui_thread():
    # Each wake-up of the UI thread takes the GIL from the training thread: a pane
    # that only changes on samples must not keep timers of its own.
    from tfmon.ui.memory_pane import FractionBar

    app = PaneApp()
    async with app.run_test(size=(120, 30)) as pilot:
        await _show(app, pilot, recorded_events())
        pane = app.query_one(MemoryPane)
        assert [w for w in pane.walk_children() if getattr(w, "_timers", None)] == []
        bars = list(pane.query(FractionBar))
        assert bars and all(b.region.width == 18 for b in bars if b.display)
        bar = bars[0]
        bar.set_fraction(0.5)
        await pilot.pause()
        text = bar.render()
        assert text.plain == "━" * 13 + "  50%"  # 13 cells, then the figure
        assert text.spans[0].start == 6 and text.spans[0].end == 13  # 6 filled, 7 in the empty style
        bar.set_fraction(None)
        await pilot.pause()
        assert bar.render().plain == ""
        bar.set_fraction(1.7)  # clamped
        assert bar.fraction == 1.0
