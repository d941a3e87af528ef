"""PlacementProbe against every real capture in tests/fixtures/tf-logs, with exact counts.

Expected numbers were counted independently of the parser, with grep, e.g.
  grep -cE '^[^ ]+: \\([A-Za-z0-9_]+\\): /job' X.stdout.log            (bare placements)
  grep -cE '\\] [^ ]+: \\([A-Za-z0-9_]+\\): /job' X.stderr.log           (prefixed placements)
  grep -E '^[^ ]+: \\(' X.stdout.log | grep -c '(MatMul)'                (MatMul nodes)
  grep -c 'Executing op' X.stderr.log                                    (eager executions)
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tfmon.placement import PlacementProbe, PlacementState
from tfmon.placement.rules import static_registry
from tfmon.probes.lines import LineBuffer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tf-logs"
FIT = "tf2.21.0-keras3.15.1-cpu-linux-fit"
EAGER_GRAPH = "tf2.21.0-cpu-linux-eager-and-graph"


class Run:
    """A probe wired to a state, recording every event."""

    def __init__(self, **probe_kwargs):
        self.events: list[dict] = []
        self.state = PlacementState()
        probe_kwargs.setdefault("registry", static_registry({}))
        self.probe = PlacementProbe(self._emit, **probe_kwargs)
        self.consumed = 0
        self.shown: list[str] = []

    def _emit(self, type_, **fields):
        event = {"type": type_, **fields}
        self.events.append(event)
        self.state.apply(event)

    def feed_file(self, name: str, stream: str = "stdout", chunk: int | None = None):
        data = (FIXTURES / name).read_bytes()
        if chunk is None:
            lines = data.decode("utf-8", "replace").splitlines()
        else:
            buf, lines = LineBuffer(), []
            for i in range(0, len(data), chunk):
                lines += buf.feed(data[i : i + chunk])
            lines += buf.flush()
        for line in lines:
            if self.probe.feed(stream, line):
                self.consumed += 1
            else:
                self.shown.append(line)
        self.probe.flush()
        return self

    def of(self, type_):
        return [e for e in self.events if e["type"] == type_]

    def nodes(self, op=None):
        return sum(r.nodes for (o, _), r in self.state.op_rows.items() if op is None or o == op)


# --- Linux, TF 2.21 CPU: eager matmul + a tf.function -------------------------


@pytest.mark.parametrize("order", [("stdout", "stderr"), ("stderr", "stdout")])
def test_eager_and_graph_counts_each_node_once(order):
    run = Run()
    for stream in order:
        run.feed_file(f"{EAGER_GRAPH}.{stream}.log", stream)
    assert run.nodes() == 15  # 15 bare on stdout == 15 prefixed on stderr
    assert run.nodes("MatMul") == 2  # the eager matmul's graph and the tf.function's
    assert run.state.op_rows[("MatMul", "CPU:0")].eager == 1
    assert run.state.op_rows[("_EagerConst", "CPU:0")].eager == 2
    assert run.state.op_rows[("__inference_f_12", "CPU:0")].eager == 1
    assert run.consumed == 15 + 15 + 4
    # what the log pane still shows: everything that is not a placement
    assert "TF 2.21.0" in run.shown and "[[23. 29.]" in run.shown
    assert not any("(MatMul)" in line for line in run.shown)


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_one_stream_alone_gives_the_same_nodes(stream):
    run = Run().feed_file(f"{EAGER_GRAPH}.{stream}.log", stream)
    assert run.nodes() == 15
    assert run.nodes("MatMul") == 2


def test_placement_events_are_batched_per_flush():
    run = Run().feed_file(f"{EAGER_GRAPH}.stdout.log", "stdout")
    run.feed_file(f"{EAGER_GRAPH}.stderr.log", "stderr")
    placement = run.of("placement")
    assert len(placement) == 2  # one per flush, not one per line
    assert len(placement[0]["nodes"]) == 15
    assert placement[1]["nodes"] == []  # stderr repeats stdout's nodes: nothing new
    assert placement[1]["eager"] == {"_EagerConst@CPU:0": 2, "MatMul@CPU:0": 1, "__inference_f_12@CPU:0": 1}


# --- Linux, Keras 3.15 model.fit ---------------------------------------------------


@pytest.fixture(scope="module")
def fit_run():
    run = Run()
    run.feed_file(f"{FIT}.stderr.log", "stderr", chunk=65536)
    run.feed_file(f"{FIT}.stdout.log", "stdout", chunk=4093)
    return run


def test_fit_exact_counts(fit_run):
    state = fit_run.state
    assert fit_run.nodes() == 593
    assert fit_run.nodes("MatMul") == 5
    assert fit_run.nodes("_Arg") == 88 and fit_run.nodes("Const") == 88
    assert len({op for op, _ in state.op_rows if state.op_rows[(op, "CPU:0")].nodes}) == 66
    assert state.eager_executions == 132
    eager_ops = {op for (op, _), r in state.op_rows.items() if r.eager}
    assert len(eager_ops) == 24
    assert state.op_rows[("__inference_multi_step_on_iterator_1074", "CPU:0")].eager == 8
    # grep ... | grep -vE "^(_Arg|_Retval|_DeviceArg|_DeviceRetval|NoOp|Const|_EagerConst)$|Dataset|Iterator|^Optional"
    assert state.compute_nodes == Counter({"CPU": 348})  # 593 minus host-side ops
    assert {dev for _, dev in state.op_rows} == {"CPU:0"}
    assert fit_run.consumed == 593 * 2 + 132


def test_fit_layers_and_phases(fit_run):
    rows = fit_run.state.layer_rows
    assert set(rows) == {"dense_1", "dense_1_2", "loss", "adam_w"}
    assert rows["dense_1"].phases["forward"] == Counter({"CPU:0": 5})
    assert rows["dense_1"].phases["backward"] == Counter({"CPU:0": 3})
    assert rows["dense_1_2"].phases["forward"] == Counter({"CPU:0": 5})
    assert rows["dense_1_2"].phases["backward"] == Counter({"CPU:0": 5})
    assert rows["adam_w"].phases["optimizer"] == Counter({"CPU:0": 137})
    assert fit_run.state.op_rows[("MatMul", "CPU:0")].layers == {"dense_1", "dense_1_2"}


# --- layer names: Keras 3's graph scopes are TF-uniquified ------------------------

NAMED = "tf2.21.0-keras3.15.1-cpu-linux-named-layers"
#: the model of NAMED (benchmarks' capture script in the fixture's header line):
#: Sequential([Input((8,)), Dense(4), Dense(4), Dense(4, name="block_1"), Dense(1, name="head")])
NAMED_LAYERS = ["dense", "dense_1", "block_1", "head"]


def test_keras3_scopes_replay_tfs_renaming_on_two_real_captures():
    from tfmon.placement.layers import attribute, keras3_scopes

    # The fit capture's model had Dense layers named dense and dense_1.
    assert keras3_scopes(["dense", "dense_1"]) == {"dense_1": "dense", "dense_1_2": "dense_1"}
    scopes = keras3_scopes(NAMED_LAYERS)
    seen = set()
    for line in (FIXTURES / f"{NAMED}.stdout.log").read_text().splitlines():
        if ": (" in line and "/" in line:
            layer, phase = attribute(line.split(": (")[0])
            if layer and layer not in ("loss",) and not layer.startswith("sgd"):
                seen.add(layer)
    assert seen == {"dense_1", "dense_1_2", "block_1_1", "head_1"}  # what TF wrote
    assert {scopes[s] for s in seen} == set(NAMED_LAYERS)  # every scope maps to its layer


def test_fit_start_names_the_layers_before_or_after_the_placements(fit_run):
    from tfmon.placement.layers import keras3_scopes

    scopes = keras3_scopes(["dense", "dense_1"])
    for first in ("names", "placements"):
        run = Run()
        if first == "names":
            run.state.apply({"type": "fit_start", "fit": 1, "layer_scopes": scopes})
        run.feed_file(f"{FIT}.stderr.log", "stderr")
        run.feed_file(f"{FIT}.stdout.log", "stdout")
        if first == "placements":
            run.state.apply({"type": "fit_start", "fit": 1, "layer_scopes": scopes})
        rows = run.state.layer_rows
        assert set(rows) == {"dense", "dense_1", "loss", "adam_w"}, first
        # the same counts as under the scope names (test_fit_layers_and_phases)
        assert rows["dense"].phases["backward"] == Counter({"CPU:0": 3})
        assert rows["dense_1"].phases["forward"] == Counter({"CPU:0": 5})
        assert rows["dense_1"].phases["backward"] == Counter({"CPU:0": 5})
        assert run.state.op_rows[("MatMul", "CPU:0")].layers == {"dense", "dense_1"}


def test_a_fallback_is_shown_under_the_layer_name():
    from tfmon.placement.layers import keras3_scopes

    state = PlacementState()
    state.apply({"type": "fit_start", "fit": 1, "layer_scopes": keras3_scopes(["conv2d", "dense"])})
    event = {"type": "fallback", "op": "Conv2DBackpropFilter", "device": "CPU:0", "layer": "conv2d_1",
             "node": "StatefulPartitionedCall/gradient_tape/sequential_1/conv2d_1/x", "phase": "backward"}
    state.apply(event)
    assert [g["layer"] for g in state.fallback_groups()] == ["conv2d"]
    assert state.layer_rows["conv2d"].fallbacks == 1
    assert event["layer"] == "conv2d_1"  # the recorded event keeps what TF logged


def test_fit_on_cpu_only_machine_reports_no_fallbacks(fit_run):
    assert fit_run.of("fallback") == []
    assert fit_run.state.fallback_count == 0
    assert fit_run.state.header_summary() == "CPU only · ops: 348 CPU"
    assert fit_run.state.device_summary() == "CPU only"


def test_fit_warning_and_log_lines(fit_run):
    assert [w["code"] for w in fit_run.of("tf_warning")] == ["input_ran_out"]
    assert "Epoch 1/2" in fit_run.shown
    assert "Epoch 2/2" in fit_run.shown


# --- Apple M1 Max, TF 2.12, glog, stdout+stderr interleaved in one file -------------------


def test_metal_glog_interleaved():
    run = Run().feed_file("metal-tf2.12-glog-placement.log")
    state = run.state
    assert run.nodes() == 7  # 7 bare + the same 7 glog-prefixed
    assert {dev for _, dev in state.op_rows} == {"GPU:0"}
    assert state.op_rows[("MatMul", "GPU:0")].nodes == 1
    assert state.op_rows[("MatMul", "GPU:0")].eager == 1
    assert state.op_rows[("_EagerConst", "GPU:0")].eager == 2
    devices = run.of("devices")[-1]
    assert devices["backend"] == "Metal" and devices["accelerator"] == "Apple M1 Max"
    assert devices["system_memory_gb"] == 64.0 and devices["max_cache_gb"] == 24.0
    assert devices["gpus"] == [{"device": "GPU:0", "name": "METAL", "memory_mb": 0, "pci_bus_id": "<undefined>"}]
    assert state.device_summary() == "Metal · Apple M1 Max"
    assert state.header_summary() == "ops: 1 GPU · no CPU fallbacks"
    assert run.of("fallback") == []
    # banners stay visible in the log; placement lines do not
    assert any("Metal device set to" in line for line in run.shown)
    assert run.consumed == 7 + 7 + 3


def test_metal_newer_mixed_glog_and_absl_banner():
    run = Run().feed_file("metal-newer-tf-mixed-glog-absl-banner.log", "stderr")
    devices = run.of("devices")[-1]
    assert devices["accelerator"] == "Apple M4"
    assert devices["system_memory_gb"] == 24.0 and devices["max_cache_gb"] == 8.88
    assert [g["device"] for g in devices["gpus"]] == ["GPU:0"]
    assert run.state.gpu_visible and run.state.device_summary() == "Metal · Apple M4"
    assert run.consumed == 0 and run.of("tf_warning") == []


def test_metal_old_plugin_plain_banner():
    run = Run().feed_file("metal-old-plugin-plain-banner.log")
    devices = run.of("devices")[-1]
    assert (devices["accelerator"], devices["system_memory_gb"], devices["max_cache_gb"]) == ("Apple M1", 16.0, 5.33)
    # the plugin loaded, but no GPU device was created in this excerpt
    assert devices["gpus"] == [] and not run.state.gpu_visible


def test_tf219_single_glog_placement_line():
    run = Run().feed_file("tf2.19-glog-placement-line.log", "stderr")
    assert run.of("placement")[0]["nodes"] == [["random_normal/RandomStandardNormal", "RandomStandardNormal", "CPU:0"]]
    assert run.nodes() == 1


def test_cuda_device_created():
    run = Run().feed_file("cuda-tf2.18-device-created.log", "stderr")
    devices = run.of("devices")[-1]
    assert devices["backend"] == "CUDA" and devices["accelerator"] == "Tesla T4"
    assert devices["gpus"] == [{"device": "GPU:0", "name": "Tesla T4", "memory_mb": 13942,
                                "pci_bus_id": "0000:00:04.0", "compute_capability": "7.5"}]
    assert run.state.device_summary() == "CUDA · Tesla T4"
    assert run.of("tf_warning") == []  # the NUMA note is not worth raising


def test_warnings_seen_on_macs():
    run = Run().feed_file("warnings-seen-on-macs.log", "stderr")
    codes = [w["code"] for w in run.of("tf_warning")]
    assert codes == ["slow_optimizer_m1", "slow_optimizer_m1", "input_ran_out", "input_ran_out",
                     "plugin_registered_twice", "xla_platform_not_found"]
    assert all(w["advice"] for w in run.of("tf_warning"))
    # the harmless "Failed to get CPU frequency" line is not raised
    assert not any("CPU frequency" in w["message"] for w in run.of("tf_warning"))
    assert run.of("tf_warning")[5]["message"].startswith("OP_REQUIRES failed")  # prefix stripped


def test_metal_errors():
    run = Run().feed_file("metal-errors.log", "stderr")
    codes = [w["code"] for w in run.of("tf_warning")]
    assert codes == ["no_gpu_kernel_error", "no_gpu_kernel_error", "no_gpu_kernel_error",
                     "metal_plugin_load_failed", "metal_plugin_load_failed"]
    assert {w["severity"] for w in run.of("tf_warning")} == {"error"}


def test_repeated_warning_is_raised_once():
    run = Run()
    line = "WARNING:tensorflow:Your input ran out of data; interrupting training."
    for _ in range(5):
        run.probe.feed("stderr", line)
    run.probe.flush()
    assert len(run.of("tf_warning")) == 1


def test_mixed_prefix_styles_in_one_stream_dedupe():
    # Constructed: the same node printed bare, glog-prefixed and absl-prefixed
    # (TF core absl + a plugin still on glog); prefixes are one form.
    dev = "/job:localhost/replica:0/task:0/device:GPU:0"
    lines = [
        f"conv: (Conv2D): {dev}",
        f"2026-06-15 18:57:59.407125: I tensorflow/core/common_runtime/placer.cc:114] conv: (Conv2D): {dev}",
        f"relu: (Relu): {dev}",
        f"I0000 00:00:1781539079.407545  408594 placer.cc:162] relu: (Relu): {dev}",
    ]
    run = Run()
    for line in lines:
        assert run.probe.feed("stderr", line)
    run.probe.flush()
    assert run.nodes() == 2


def test_shape_version_moves_for_new_rows_not_for_counts():
    state = Run().feed_file(f"{FIT}.stdout.log").feed_file(f"{FIT}.stderr.log", "stderr").state
    shape = state.shape_version
    # counts of rows already there: an eager run of a known function, one more MatMul node of a known layer
    state.apply({"type": "placement", "t": 0.0, "eager": {"__inference_multi_step_on_iterator_1074@CPU:0": 1},
                 "nodes": [["StatefulPartitionedCall/sequential_1/dense_1/MatMul_9", "MatMul", "CPU:0"]]})
    assert state.shape_version == shape
    # a known (op, device) in a layer never seen: the by-layer view has a new row
    state.apply({"type": "placement", "t": 0.0, "eager": {},
                 "nodes": [["StatefulPartitionedCall/sequential_1/dense_9/MatMul", "MatMul", "CPU:0"]]})
    assert state.shape_version == shape + 1 and "dense_9" in state.layer_rows
    # a new (op, device) from an eager run
    state.apply({"type": "placement", "t": 0.0, "eager": {"Einsum@CPU:0": 1}})
    assert state.shape_version == shape + 2


def test_keras_xla_on_a_gpu_platform_without_an_xla_compiler_is_explained():
    # A real run on the simulated GPU (tests/simgpu) with Keras 3's default jit_compile="auto":
    # Keras turns XLA on when it sees a GPU, and the plugin's platform has no XLA compiler.
    run = Run().feed_file("simgpu-tf2.21.0-keras3.15.1-jit-auto-no-xla-compiler.stderr.log", "stderr")
    warnings = run.of("tf_warning")
    assert warnings and {w["code"] for w in warnings} == {"xla_no_compiler"}
    assert all(w["severity"] == "error" for w in warnings)
    assert "jit_compile=False" in warnings[0]["advice"] and "SIMGPU" in warnings[0]["message"]


def test_a_pluggable_device_that_is_not_metal_is_named_by_its_platform():
    run = Run().feed_file("simgpu-tf2.21.0-keras3.15.1-jit-auto-no-xla-compiler.stderr.log", "stderr")
    (devices,) = run.of("devices")
    assert devices["backend"] == "SIMGPU" and devices["accelerator"] == "SIMGPU"
    assert devices["gpus"] == [{"device": "GPU:0", "name": "SIMGPU", "memory_mb": 257, "pci_bus_id": "<undefined>"}]
