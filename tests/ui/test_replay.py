"""The app on a recorded real run (tests/fixtures/runs): what replay and attach show."""

from __future__ import annotations

import json
import subprocess
import sys

from textual.widgets import DataTable

from conftest import FIXTURES, tfmon_env
from tfmon.recorder import read_events
from tfmon.ui.app import TfmonApp
from tfmon.ui.sources import ReplaySource

RUN = FIXTURES / "runs" / "demo-3-epochs"


def recorded(kind):
    return [e for e in read_events(RUN) if e["type"] == kind]


async def test_replay_fills_every_pane_like_the_live_run_did():
    app = TfmonApp(ReplaySource(RUN))
    async with app.run_test(size=(200, 60)) as pilot:
        await pilot.pause(0.5)
        table = app.query_one("#epochs", DataTable)
        assert table.row_count == 3
        columns = [str(c.label) for c in table.columns.values()]
        for name in ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"):
            assert name in columns
        last = recorded("epoch_end")[-1]["metrics"]["val_accuracy"]
        assert float(table.get_row_at(2)[columns.index("val_accuracy")]) == round(last, 4) or abs(
            float(table.get_row_at(2)[columns.index("val_accuracy")]) - last
        ) < 1e-3
        header = str(app.query_one("#header").render())
        assert "finished (exit 0)" in header and "epoch 3/3" in header
        assert "CPU" in header  # the placement summary: CPU only here
        svg = app.export_screenshot()
        for text in ("Conv2D", "MatMul", "Process", "val_loss"):
            assert text in svg, text
        # Keys that act on a live run only say that a recording cannot be controlled.
        await pilot.press("p")
        await pilot.pause(0.1)
        assert any("recording" in n.message for n in app._notifications)


async def test_80x24_one_pane_at_a_time_and_every_pane_reachable():
    app = TfmonApp(ReplaySource(RUN))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.3)
        visible = lambda: [b.id for b in app.query(".pane") if b.display and b.styles.display != "none"]
        assert app.query_one("#panes").has_class("single")
        assert visible() == ["pane-metrics"]
        for key, pane in (("2", "placement"), ("3", "fallbacks"), ("4", "memory"), ("5", "log"), ("f1", "metrics")):
            await pilot.press(key)
            await pilot.pause(0.1)
            assert visible() == [f"pane-{pane}"], key
        await pilot.press("tab")
        await pilot.pause(0.1)
        assert visible() == ["pane-placement"]
        await pilot.press("l")  # hide the log: Tab skips it
        for _ in range(4):
            await pilot.press("tab")
        await pilot.pause(0.1)
        assert visible() == ["pane-placement"]
        header = str(app.query_one("#header").render())
        assert all(len(line) <= 80 for line in header.splitlines())


async def test_maximise_shows_one_pane_on_a_big_screen_and_back():
    app = TfmonApp(ReplaySource(RUN))
    async with app.run_test(size=(200, 60)) as pilot:
        await pilot.pause(0.2)
        assert not app.query_one("#panes").has_class("single")
        await pilot.press("4", "m")
        await pilot.pause(0.1)
        assert app.query_one("#panes").has_class("single") and app.current == "memory"
        await pilot.press("m")
        await pilot.pause(0.1)
        assert not app.query_one("#panes").has_class("single")
        await pilot.press("question_mark")
        await pilot.pause(0.1)
        assert app.screen.__class__.__name__ == "HelpScreen"
        await pilot.press("q")  # closes the help, not the app
        await pilot.pause(0.1)
        assert app.is_running and app.screen is app.screen_stack[0]


def test_replay_at_recorded_speed_paces_the_events():
    events = [{"type": "log", "t": 100.0 + i * 0.2, "stream": "stdout", "text": str(i)} for i in range(6)]
    source = ReplaySource(None, speed=2.0, events=events)  # 1 s of events in 0.5 s
    first = source.drain()
    assert len(first) == 1
    source._start_wall -= 0.25  # as if 0.25 s had passed (a sleep overshoots on a loaded machine)
    assert len(first) + len(source.drain()) in (3, 4)  # t0 + 0.5 s (+ what this took)
    source._start_wall -= 0.4
    source.drain()
    assert source.drain() == [] and source._index == 6


def test_replay_at_recorded_speed_reads_the_recording_a_chunk_at_a_time(tmp_path):
    """Issue 15: `tfmon replay --speed` of a week read every event before the first frame
    (250k events, 7 s, 250 MB). It holds one chunk now, and still hands out every event,
    in order, and counts the lines that were not one."""
    lines = [json.dumps({"type": "log", "t": 100.0 + i, "stream": "stdout", "text": str(i)}) for i in range(12_000)]
    lines.insert(7000, "{torn")
    (tmp_path / "events.jsonl").write_text("\n".join(lines) + "\n")
    source = ReplaySource(tmp_path, speed=1000.0)  # 12,000 s of events in 12 s
    first = source.drain()
    assert [e["text"] for e in first] == ["0"] and len(source._events) <= 5000
    source._start_wall -= 1e6  # as if the whole time had passed
    rest = source.drain()
    assert [e["text"] for e in first + rest if not e.get("synthetic")] == [str(i) for i in range(12_000)]
    said = [e.get("text", e.get("detail")) for e in rest if e.get("synthetic")]
    assert "tfmon replay: 1 malformed or unknown event skipped" in said
    assert source.drain() == []


def test_replay_command_refuses_a_folder_that_is_not_a_run(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "tfmon", "replay", str(tmp_path)], capture_output=True, text=True, env=tfmon_env(), timeout=60
    )
    assert proc.returncode == 2 and "not a tfmon run directory" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


async def test_real_cpu_run_placement_by_layer_no_fallbacks_and_the_no_gpu_banner():
    app = TfmonApp(ReplaySource(RUN))
    async with app.run_test(size=(200, 60)) as pilot:
        await pilot.pause(0.4)
        placement = app.state.placement
        ops = {(row.op, row.device) for row in placement.op_rows.values() if row.nodes}
        for op in ("Conv2D", "MatMul", "Conv2DBackpropInput", "Conv2DBackpropFilter", "MaxPoolGrad"):
            assert (op, "CPU:0") in ops, op
        # Graph scopes carry TF's uniquified names: the first Conv2D layer is `conv2d_1`.
        conv = placement.layer_rows["conv2d_1"]
        assert set(conv.phases["forward"]) == {"CPU:0"} and set(conv.phases["backward"]) == {"CPU:0"}
        assert "Conv2D" in conv.ops
        assert placement.fallback_count == 0 and recorded("fallback") == []
        banner = [f for f in placement.problem_findings() if f["status"] == "fail"]
        assert banner and "NVIDIA" in banner[0]["message"]  # the Linux reason
        await pilot.press("3")
        await pilot.pause(0.2)
        svg = app.export_screenshot().replace("&#160;", " ")
        assert "No GPU visible" in svg
        await pilot.press("2", "b")  # the by-layer view of the placement pane
        await pilot.pause(0.2)
        assert "conv2d_1" in app.export_screenshot()


async def test_custom_loop_events_show_steps_and_a_table_of_tf_summary_series():
    events = [
        {"type": "run_start", "t": 0.0, "script": "/x/loop.py", "run_dir": "r", "pid": 1},
        {"type": "status", "t": 0.1, "state": "running", "detail": "running the script"},
        {"type": "fit_start", "t": 0.2, "fit": 1, "epochs": None, "steps": None, "loop": "custom"},
    ]
    for i in range(1, 30):
        events.append({"type": "scalar", "t": 0.2 + i * 0.1, "name": "loss", "step": i, "value": 2.0 / i, "run": "train"})
        events.append({"type": "batch", "t": 0.2 + i * 0.1, "step": i, "global_step": i, "logs": {}})
    app = TfmonApp(ReplaySource(None, events=events))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause(0.4)
        scalars = app.query_one("#scalars", DataTable)
        assert scalars.display and scalars.row_count == 1
        assert scalars.get_row_at(0)[:3] == ["loss", "train", "29"]
        header = str(app.query_one("#header").render())
        assert "step 29" in header
