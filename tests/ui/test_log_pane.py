"""The Log pane in a small app, fed events step by step: every line shows, in order,
a progress bar redraws one row, the script's colours measure as the text they colour."""

from __future__ import annotations

from textual.app import App, ComposeResult

from tfmon.state import LogState
from tfmon.ui.log_pane import LogPane

KERAS_BAR = "\x1b[1m4/4\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m0s\x1b[0m 10ms/step - loss: 1.5306"


class PaneApp(App):
    def compose(self) -> ComposeResult:
        yield LogPane(id="log")


def log(text: str, stream: str = "stdout", **fields) -> dict:
    return {"type": "log", "t": 0.0, "stream": stream, "text": text, **fields}


CHECKPOINT = {"type": "checkpoint", "t": 0.0, "ok": True, "path": "/r/ckpt.keras", "size": 1000}


def rows(pane: LogPane) -> list[str]:
    return [strip.text.rstrip() for strip in pane.row_strips()]


async def feed(pilot, pane: LogPane, state: LogState, *events: dict) -> None:
    for e in events:
        state.apply(e)
    pane.update_from(state)
    await pilot.pause()


async def test_every_line_shows_whatever_kind_it_is_and_in_order():
    app = PaneApp()
    async with app.run_test(size=(100, 20)) as pilot:
        pane, state = app.query_one(LogPane), LogState()
        await feed(pilot, pane, state, log("first"), CHECKPOINT)
        await feed(pilot, pane, state, CHECKPOINT, log("second"))
        await feed(
            pilot, pane, state,
            {"type": "tf_warning", "t": 0.0, "message": "tf says", "severity": "warning"},
            {"type": "memory_warning", "t": 0.0, "message": "memory grows", "severity": "warning"},
            {"type": "predict_end", "t": 0.0, "batches": 4, "seconds": 0.25},
            log("third"),
        )
        assert rows(pane) == [
            "  first",
            "» checkpoint saved: /r/ckpt.keras (0.0 MB)",
            "» checkpoint saved: /r/ckpt.keras (0.0 MB)",
            "  second",
            "» warning: tf says",
            "» warning: memory grows",
            "» predict: 4 batches in 0.25s",
            "  third",
        ]
        assert state.total == 8


async def test_a_progress_bar_is_one_row_redrawn_in_place_even_with_lines_between():
    app = PaneApp()
    async with app.run_test(size=(100, 20)) as pilot:
        pane, state = app.query_one(LogPane), LogState()
        await feed(pilot, pane, state, log("before"), log(" 10%|#", "stderr", partial=True))
        await feed(pilot, pane, state, log(" 50%|#####", "stderr", partial=True))
        assert rows(pane) == ["  before", "!  50%|#####"]
        await feed(pilot, pane, state, log("tf line meanwhile", "tf", level="info"), log(" 90%|#########", "stderr", partial=True))
        await feed(pilot, pane, state, log("100%|##########", "stderr", partial=False), log("after"))
        assert rows(pane) == ["  before", "! 100%|##########", "tf tf line meanwhile", "  after"]


async def test_keras_colours_are_drawn_and_measured_as_their_visible_text():
    app = PaneApp()
    async with app.run_test(size=(100, 20)) as pilot:
        pane, state = app.query_one(LogPane), LogState()
        plain = "4/4 ━━━━━━━━━━━━━━━━━━━━ 0s 10ms/step - loss: 1.5306"
        await feed(pilot, pane, state, log(plain, ansi=KERAS_BAR), log("multi\nline warning", "warning"))
        assert rows(pane) == ["  " + plain, "⚠ multi", "line warning"]
        assert pane.row_strips()[0].cell_length == len("  " + plain)
        assert "\x1b" not in "".join(segment.text for segment in pane.row_strips()[0])
        assert any(segment.style and segment.style.color and segment.style.color.number == 2 for segment in pane.row_strips()[0])


def shown(pane: LogPane) -> list[str]:
    """The rows on screen now."""
    return [pane.render_line(y).text.rstrip() for y in range(pane.scrollable_content_region.height)]


async def test_a_long_history_is_drawn_from_the_state_follows_the_end_and_stays_where_the_user_scrolled():
    """Issue 15: a week's log is thousands of lines. The pane renders the rows on screen
    only (a RichLog held a rendered Strip with its caches for every line); it follows new
    lines while at the end, and stays put while the user reads further up."""
    app = PaneApp()
    async with app.run_test(size=(100, 20)) as pilot:
        pane, state = app.query_one(LogPane), LogState()
        await feed(pilot, pane, state, *(log(f"line {i}") for i in range(3000)))
        await pilot.pause()
        assert shown(pane)[-1] == "  line 2999"
        assert len(pane._rendered.keys()) <= 2 * pane.size.height  # not one per line
        pane.scroll_to(y=0, animate=False)
        await pilot.pause()
        await feed(pilot, pane, state, log("line 3000"), log("line 3001"))
        await pilot.pause()
        assert shown(pane)[0] == "  line 0"  # the user's place is kept
        pane.focus()
        await pilot.press("end")
        await feed(pilot, pane, state, log("line 3002"))
        await pilot.pause()
        assert shown(pane)[-1] == "  line 3002"  # at the end again: it follows


async def test_lines_the_history_drops_leave_the_rows_in_step():
    app = PaneApp()
    async with app.run_test(size=(60, 12)) as pilot:
        pane, state = app.query_one(LogPane), LogState(maxlen=50)
        await feed(pilot, pane, state, *(log(f"a{i}") for i in range(40)))
        await feed(pilot, pane, state, log("two\nrows", "warning"), *(log(f"b{i}") for i in range(30)))
        got = rows(pane)
        assert len(got) == 51 and got[0] == "  a21" and got[19:21] == ["⚠ two", "rows"] and got[-1] == "  b29"
        await pilot.pause()
        assert shown(pane)[-1] == "  b29"
