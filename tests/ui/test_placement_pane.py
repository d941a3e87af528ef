"""Placement and fallbacks panes in a tiny test app, driven with Pilot.

Events come from the real captures in tests/fixtures/tf-logs through the real
PlacementProbe; the GPU/CPU mix for the fallbacks pane is CONSTRUCTED in the
real line formats (no real Metal log with fallbacks exists). One test runs a
real Keras conv fit on this machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.widgets import DataTable, Static

from tfmon.doctor import runtime_findings
from tfmon.placement import PlacementProbe, PlacementState
from tfmon.placement.rules import is_host_side, static_registry
from tfmon.ui.fallback_pane import FallbackPane
from tfmon.ui.placement_pane import COUNTS_INTERVAL, PlacementPane

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tf-logs"
FIT = "tf2.21.0-keras3.15.1-cpu-linux-fit"
GPU = "/job:localhost/replica:0/task:0/device:GPU:0"
CPU = "/job:localhost/replica:0/task:0/device:CPU:0"


class PanesApp(App):
    def __init__(self, state: PlacementState) -> None:
        super().__init__()
        self.state = state

    def compose(self) -> ComposeResult:
        yield PlacementPane(id="placement")
        yield FallbackPane(id="fallbacks", notify_first=True)

    def on_mount(self) -> None:
        self.tick()
        self.query_one("#placement-table", DataTable).focus()

    def tick(self) -> None:
        self.query_one(PlacementPane).update_from(self.state)
        self.query_one(FallbackPane).update_from(self.state)


def feed(state: PlacementState, streams: dict[str, str], registry=None, **kwargs) -> PlacementProbe:
    probe = PlacementProbe(lambda type_, **f: state.apply({"type": type_, **f}),
                           registry=registry or static_registry({}), **kwargs)
    for stream, text in streams.items():
        for line in text.splitlines():
            probe.feed(stream, line)
        probe.flush()
    return probe


def fit_state(with_environment: bool = False) -> PlacementState:
    state = PlacementState()
    if with_environment:
        state.apply({"type": "environment", "t": 0.0, "findings": runtime_findings()})
    feed(state, {s: (FIXTURES / f"{FIT}.{s}.log").read_text() for s in ("stdout", "stderr")})
    return state


def table_rows(table: DataTable) -> list[list]:
    return [table.get_row_at(i) for i in range(table.row_count)]


def rows_by_op(table: DataTable) -> dict[tuple, list]:
    return {(r[0], r[1]): r for r in table_rows(table)}


def status(app: App) -> str:
    return str(app.query_one("#placement-status", Static).render())


class Counting:
    """Counts calls of a DataTable method (to prove updates are incremental)."""

    def __init__(self, table: DataTable, name: str) -> None:
        self.calls = 0
        original = getattr(table, name)

        def wrapper(*args, **kwargs):
            self.calls += 1
            return original(*args, **kwargs)

        setattr(table, name, wrapper)


@pytest.mark.asyncio
async def test_op_table_from_the_keras_fit_fixture():
    app = PanesApp(fit_state())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        table = app.query_one("#placement-table", DataTable)
        # 66 op types with graph nodes + 2 eager-only function calls, all on CPU:0
        assert table.row_count == 68
        rows = rows_by_op(table)
        assert rows[("MatMul", "CPU:0")][2:4] == [5, 0]
        assert rows[("MatMul", "CPU:0")][4] == "dense_1, dense_1_2"  # no Fallbacks column: no GPU
        assert rows[("__inference_multi_step_on_iterator_1074", "CPU:0")][3] == 8
        # default sort: heaviest first (weight x count; host-side plumbing last)
        assert table.get_row_at(0)[0] == "MatMul"
        assert is_host_side(table.get_row_at(table.row_count - 1)[0])
        await pilot.press("o")  # count
        assert table.get_row_at(0)[0] in ("_Arg", "Const")  # 88 nodes each
        assert "sort: count" in status(app)
        assert "CPU only · ops: 348 CPU" in status(app)


@pytest.mark.asyncio
async def test_keys_filter_search_layer_view_and_sort():
    app = PanesApp(fit_state())
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.query_one("#placement-table", DataTable)
        await pilot.press("o", "o")  # heaviest -> count -> op name
        assert [r[0] for r in table_rows(table)][:3] == ["__inference_initialize_variables_670",
                                                        "__inference_multi_step_on_iterator_1074", "_Arg"]
        assert "sort: op" in status(app)

        await pilot.press("slash")
        await pilot.press(*"dense")
        await pilot.press("enter")
        ops = {r[0] for r in table_rows(table)}
        assert {"MatMul", "Sigmoid", "Relu", "BiasAddGrad"} <= ops
        assert "Pow" not in ops and "TensorSliceDataset" not in ops  # optimizer / dataset only
        assert "search: 'dense'" in status(app)

        await pilot.press("b")  # by layer, the search still applies
        assert {r[0] for r in table_rows(table)} == {"dense_1", "dense_1_2"}
        await pilot.press("escape")
        rows = {r[0]: r for r in table_rows(table)}
        assert set(rows) == {"dense_1", "dense_1_2", "loss", "adam_w"}
        assert rows["dense_1"][1:5] == ["CPU:0", "CPU:0", "-", 8]
        assert rows["adam_w"][3] == "CPU:0"

        await pilot.press("f")  # fallbacks only: none on a CPU-only machine
        assert table.row_count == 0 and "fallbacks only" in status(app)
        await pilot.press("f", "b")
        assert table.row_count == 68


@pytest.mark.asyncio
async def test_live_updates_touch_only_changed_rows():
    state = fit_state()
    app = PanesApp(state)
    async with app.run_test(size=(100, 30)) as pilot:
        pane = app.query_one(PlacementPane)
        table = app.query_one("#placement-table", DataTable)
        adds, updates, clears = (Counting(table, n) for n in ("add_row", "update_cell", "clear"))
        removes = Counting(table, "remove_row")
        pane.update_from(state)  # version did not move: nothing at all
        assert (adds.calls, updates.calls, clears.calls, removes.calls) == (0, 0, 0, 0)

        # a validation function traced mid-run: one new op type, one more MatMul
        state.apply({"type": "placement", "t": 0.0, "eager": {"__inference_one_step_on_data_2000@CPU:0": 1},
                     "nodes": [["StatefulPartitionedCall/sequential_1/dense_2/MatMul", "MatMul", "CPU:0"],
                               ["StatefulPartitionedCall/sequential_1/dropout/Mul", "Einsum", "CPU:0"]]})
        pane.update_from(state)
        await pilot.pause()
        assert adds.calls == 2  # Einsum and the new function
        assert updates.calls == 2  # the MatMul row's two changed cells: nodes and layers
        assert clears.calls == 0 and removes.calls == 0
        rows = rows_by_op(table)
        assert rows[("MatMul", "CPU:0")][2] == 6
        assert rows[("MatMul", "CPU:0")][4] == "dense_1, dense_1_2, dense_2"
        assert table.row_count == 70


@pytest.mark.asyncio
async def test_counts_alone_wait_a_new_op_shows_at_once():
    # Each step of a Keras fit runs its function eagerly, and the dataset's functions
    # are placed again every epoch: counts alone repaint the table every few seconds,
    # a new op type (what the pane is for) at the next redraw.
    state = fit_state()
    app = PanesApp(state)
    async with app.run_test(size=(160, 50)) as pilot:
        pane = app.query_one(PlacementPane)
        table = app.query_one("#placement-table", DataTable)
        rows_before = table.row_count
        key = next(k for k in state.op_rows if k[0] == "MatMul")
        nodes_before = state.op_rows[key].nodes
        t0 = time.monotonic()
        pane.update_from(state, now=t0)  # drawn: the counting window starts now
        state.apply({"type": "placement", "t": 0.0, "eager": {"__inference_one_step_on_data_2000@CPU:0": 5},
                     "nodes": [["StatefulPartitionedCall/sequential_1/dense_1/MatMul", "MatMul", "CPU:0"]]})
        state.apply({"type": "placement", "t": 0.0, "eager": {"__inference_one_step_on_data_2000@CPU:0": 5}})
        pane.update_from(state, now=t0 + 0.5)
        await pilot.pause()
        # the new function's row was new: shown at once, with the counts as they stand
        assert table.row_count == rows_before + 1
        shown = rows_by_op(table)
        assert shown[("__inference_one_step_on_data_2000", "CPU:0")][3] == 10
        assert shown[(key[0], "CPU:0")][2] == nodes_before + 1

        state.apply({"type": "placement", "t": 0.0, "eager": {"__inference_one_step_on_data_2000@CPU:0": 7}})
        pane.update_from(state, now=t0 + 1.0)
        await pilot.pause()
        shown = rows_by_op(table)
        assert shown[("__inference_one_step_on_data_2000", "CPU:0")][3] == 10  # held back
        pane.update_from(state, now=t0 + 0.5 + COUNTS_INTERVAL)
        await pilot.pause()
        shown = rows_by_op(table)
        assert shown[("__inference_one_step_on_data_2000", "CPU:0")][3] == 17  # caught up


@pytest.mark.asyncio
async def test_thousands_of_nodes_stay_fast():
    state = PlacementState()
    app = PanesApp(state)
    async with app.run_test(size=(200, 60)) as pilot:
        pane = app.query_one(PlacementPane)
        nodes = [[f"StatefulPartitionedCall/model/layer_{i % 400}/Op{i % 300}_{i}", f"Op{i % 300}",
                  "GPU:0" if i % 7 else "CPU:0"] for i in range(20000)]
        state.apply({"type": "placement", "t": 0.0, "nodes": nodes, "eager": {}})
        start = time.perf_counter()
        pane.update_from(state)
        first = time.perf_counter() - start
        table = app.query_one("#placement-table", DataTable)
        assert table.row_count == 600  # 300 op types x 2 devices
        updates = Counting(table, "update_cell")
        state.apply({"type": "placement", "t": 0.0, "eager": {},
                     "nodes": [["StatefulPartitionedCall/model/layer_1/Op1_x", "Op1", "GPU:0"]]})
        pane.update_from(state)
        assert updates.calls == 0  # a count of a row already shown waits COUNTS_INTERVAL
        start = time.perf_counter()
        pane.update_from(state, now=time.monotonic() + COUNTS_INTERVAL)
        tick = time.perf_counter() - start
        await pilot.pause()
        assert updates.calls == 1  # only the Op1@GPU:0 node count
        # generous bounds for a shared 2-core machine; typical: ~0.1 s and ~1 ms
        assert first < 2.0 and tick < 0.1, (first, tick)
        await pilot.press("b")
        assert table.row_count == 400


# --- fallbacks pane ---------------------------------------------------------------


def mixed_gpu_cpu_state() -> PlacementState:
    # CONSTRUCTED: Metal-style glog lines, GPU:0 next to CPU:0 compute ops.
    def glog(body):
        return f"2023-06-25 14:50:07.740590: I tensorflow/core/common_runtime/placer.cc:114] {body}"

    body = [
        f"StatefulPartitionedCall/sequential_1/conv2d_1/convolution: (Conv2D): {GPU}",
        f"StatefulPartitionedCall/gradient_tape/sequential_1/conv2d_1/convolution/Conv2DBackpropFilter: (Conv2DBackpropFilter): {CPU}",
        f"StatefulPartitionedCall/sequential_1/string_lookup/UniqueV2: (UniqueV2): {CPU}",
        f"StatefulPartitionedCall/sequential_1/string_lookup/UniqueV2_1: (UniqueV2): {CPU}",
        f"IteratorGetNext: (IteratorGetNext): {CPU}",
    ]
    text = "\n".join(body + [glog(b) for b in body])
    text = ("2023-06-25 14:50:07.730614: I metal_plugin/src/device/metal_device.cc:1154] Metal device set to: Apple M1 Max\n"
            + text + "\nWARNING:tensorflow:Your input ran out of data; interrupting training.")
    state = PlacementState()
    registry = static_registry({"Conv2DBackpropFilter": {"CPU": ["float32", "float64"], "GPU": ["float32", "float16"]},
                                "UniqueV2": ["CPU"]})
    feed(state, {"stdout": text}, registry=registry)
    return state


@pytest.mark.asyncio
async def test_fallbacks_grouped_heaviest_first_with_reason_and_advice():
    state = mixed_gpu_cpu_state()
    app = PanesApp(state)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        text = str(app.query_one("#fallback-list", Static).render())
        conv = text.index("conv2d_1 · Conv2DBackpropFilter ×1 on CPU:0 (backward)")
        lookup = text.index("string_lookup · UniqueV2 ×2 on CPU:0")
        assert conv < lookup  # heavy gradient of a conv before a medium op
        assert "a GPU kernel for Conv2DBackpropFilter exists for float16 and float32 only, not for float64" in text
        assert "no GPU kernel is registered for UniqueV2 (registered: CPU)" in text
        assert "Change layer 'string_lookup'" in text
        assert "IteratorGetNext" not in text  # host-side, not a fallback
        assert "input_ran_out" not in text and "Your input ran out of data" in text
        summary = str(app.query_one("#fallback-summary", Static).render())
        assert summary == "Metal · Apple M1 Max · 3 CPU fallbacks · 1 TF warning"
        banner = app.query_one("#fallback-banner", Static)
        assert not banner.display  # a GPU is visible
        notes = list(app._notifications)
        assert len(notes) == 1 and "Conv2DBackpropFilter" in notes[0].message
        # header line, and the op table's fallback filter
        assert "ops: 1 GPU · 3 CPU fallbacks" in status(app)
        await pilot.press("f")
        table = app.query_one("#placement-table", DataTable)
        assert {(r[0], r[4]) for r in table_rows(table)} == {("Conv2DBackpropFilter", 1), ("UniqueV2", 2)}


@pytest.mark.asyncio
@pytest.mark.parametrize("size", [(80, 24), (200, 60)])
async def test_no_gpu_banner_with_the_linux_reason(size):
    app = PanesApp(fit_state(with_environment=True))
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        banner = app.query_one("#fallback-banner", Static)
        assert banner.display and banner.region.height > 0
        text = str(banner.render())
        assert text.startswith("No GPU visible: TensorFlow runs on the CPU.")
        assert "no GPU is present" in text and "fix:" in text
        listing = str(app.query_one("#fallback-list", Static).render())
        assert "nothing can fall back" in listing
        assert app.query_one("#placement-table", DataTable).region.height > 0


# --- a real run on this machine ------------------------------------------------------

REAL_FIT = r"""
import numpy as np, tensorflow as tf, keras
tf.debugging.set_log_device_placement(True)
x = np.random.rand(64, 8, 8, 1).astype("float32"); y = (np.random.rand(64) > 0.5).astype("float32")
model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, activation="relu"),
                          keras.layers.MaxPooling2D(), keras.layers.Flatten(),
                          keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer="adam", loss="binary_crossentropy")
model.fit(x, y, batch_size=16, epochs=2, verbose=2, validation_split=0.25)
"""


@pytest.mark.asyncio
async def test_real_keras_conv_fit_on_this_machine():
    proc = subprocess.run([sys.executable, "-c", REAL_FIT], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="0"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    state = PlacementState()
    state.apply({"type": "environment", "t": 0.0, "findings": runtime_findings()})
    feed(state, {"stdout": proc.stdout, "stderr": proc.stderr}, registry=None)  # the real registry
    app = PanesApp(state)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.press("b")
        table = app.query_one("#placement-table", DataTable)
        layers = {r[0]: r for r in table_rows(table)}
        assert layers["conv2d_1"][1:3] == ["CPU:0", "CPU:0"]  # forward, backward
        assert layers["dense_1"][1:3] == ["CPU:0", "CPU:0"]
        assert layers["max_pooling2d_1"][1:3] == ["CPU:0", "CPU:0"]
        assert layers["adam"][3] == "CPU:0"
        await pilot.press("b")
        ops = {(r[0], r[1]) for r in table_rows(table)}
        for op in ("Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter", "MatMul", "MaxPool", "MaxPoolGrad"):
            assert (op, "CPU:0") in ops
        assert {dev for _, dev in ops} == {"CPU:0"}
        assert state.fallback_count == 0
        banner = str(app.query_one("#fallback-banner", Static).render())
        assert "No GPU visible" in banner and "no GPU is present" in banner


def test_gpu_visible_but_unused_gets_its_banner_only_once_it_is_clear():
    from tfmon.ui.fallback_pane import UNUSED_MIN_NODES, banner_text

    state = PlacementState()
    state.apply({"type": "devices", "t": 0.0, "backend": "SIMGPU", "gpus": [{"device": "GPU:0", "name": "SIMGPU"}]})
    cpu_node = lambda i: [f"StatefulPartitionedCall/sequential/dense/MatMul_{i}", "MatMul", "CPU:0"]  # noqa: E731
    state.apply({"type": "placement", "t": 0.0, "nodes": [cpu_node(i) for i in range(UNUSED_MIN_NODES - 1)], "eager": {}})
    assert banner_text(state) is None  # the first eager ops of any run: no claim yet
    state.apply({"type": "placement", "t": 0.0, "nodes": [cpu_node(99)], "eager": {}})
    text = str(banner_text(state))
    assert text.startswith(f"GPU visible but unused: all {UNUSED_MIN_NODES} compute ops placed so far ran on the CPU.")
    assert "tf.device('/CPU:0')" in text
    assert str(banner_text(state, compact=True)) == "GPU visible but unused: every op on the CPU."
    state.apply({"type": "placement", "t": 0.0, "nodes": [["s/sequential/dense/Relu", "Relu", "GPU:0"]], "eager": {}})
    assert banner_text(state) is None  # the GPU is used


def shown_lines(table: DataTable) -> list[str]:
    """What the table paints now, line by line (as the compositor asks for it)."""
    return ["".join(seg.text for seg in table.render_line(y)) for y in range(table.size.height)]


@pytest.mark.asyncio
async def test_a_repaint_before_the_table_measures_its_rows_never_sticks():
    """The live defect behind the simulated-GPU test's failures (about 1 run in 3):
    DataTable measures new rows only when its own queue is idle, and caches the lines
    it painted by its update count, which the measuring does not move (Textual issue
    4470). A repaint in between -- the live app's compositor, with three keys read at
    once -- left every column at its label's width for good: ``dense_1`` read ``dense``."""
    app = PanesApp(fit_state())
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(PlacementPane)
        table = app.query_one("#placement-table", DataTable)
        await pilot.pause()
        pane.by_layer = True
        pane._refresh_view()  # what `b` does: new columns, every row added
        before = shown_lines(table)  # painted before the table's idle: labels' widths
        assert any(line.lstrip().startswith("dense ") for line in before)
        await pilot.pause()
        await pilot.pause()
        after = shown_lines(table)
        assert any(line.lstrip().startswith("dense_1 ") for line in after), "\n".join(after[:6])
        assert not any(line.lstrip().startswith("dense ") for line in after)
