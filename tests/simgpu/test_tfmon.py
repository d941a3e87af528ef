"""tfmon end to end on the simulated GPU: real TensorFlow places ops on GPU:0 and CPU:0.

Each run is ``tfmon --headless`` (or the real app under a pty) on
tests/scripts/simgpu_mlp.py, a 2-layer MLP (layers ``dense``, ``dense_1``) with Adam.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from conftest import SCRIPTS, run_tfmon
from e2e.ptyrun import PtyProcess
from tfmon.placement import rules
from tfmon.placement.state import PlacementState

pytestmark = pytest.mark.slow

MLP = str(SCRIPTS / "simgpu_mlp.py")

# For each op type: does a kernel for the GPU (or DEFAULT, any device) take float32?
# Asked of the same TensorFlow with the plugin loaded, independently of tfmon's rules.
REGISTRY = r"""
import json, sys
from tensorflow.core.framework import types_pb2
from tensorflow.python.framework import kernels
out = {}
for op in json.loads(sys.argv[1]):
    float_kernel = False
    for k in kernels.get_registered_kernels_for_op(op).kernel:
        if k.device_type not in ("GPU", "DEFAULT"):
            continue
        typed = [c for c in k.constraint if c.name in ("T", "dtype")]
        if not typed or any(types_pb2.DT_FLOAT in c.allowed_values.list.type for c in typed):
            float_kernel = True
    out[op] = float_kernel
print(json.dumps(out))
"""


def folded(run) -> PlacementState:
    state = PlacementState()
    for event in run.events():
        state.apply(event)
    return state


def cpu_compute_ops(run) -> set[str]:
    ops = set()
    for e in run.of_type("placement"):
        ops |= {op for _, op, dev in e["nodes"] if dev.startswith("CPU") and rules.is_compute(op)}
        ops |= {k.rpartition("@")[0] for k in e["eager"] if "@CPU" in k and rules.is_compute(k.rpartition("@")[0])}
    return ops


@pytest.fixture(scope="module")
def float32_run(simgpu_env, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("float32")
    run = run_tfmon([MLP, str(tmp / "history.json")], tmp / "run", env=simgpu_env())
    assert run.code == 0, run.stderr[-3000:]
    return run


def test_ops_run_on_gpu0_and_cpu0_by_op_and_by_layer(float32_run):
    state = folded(float32_run)
    assert state.device_summary() == "SIMGPU"  # a plugin named by its platform, once
    ops = state.op_rows
    for op in ("MatMul", "Relu", "BiasAdd") if ("BiasAdd", "GPU:0") in ops else ("MatMul", "Relu"):
        assert (op, "GPU:0") in ops, sorted(ops)
    assert ("Softmax", "CPU:0") in ops and ("Softmax", "GPU:0") not in ops  # no kernel on the device
    # by layer, under the layers' own names (TensorFlow's scopes are dense_1, dense_1_2)
    assert {"dense", "dense_1"} <= set(state.layer_rows) and "dense_1_2" not in state.layer_rows
    dense = state.layer_rows["dense"]
    assert "GPU:0" in dense.phases["forward"]  # MatMul, AddV2, Relu
    assert "CPU:0" in dense.phases["backward"]  # ReluGrad has no kernel here
    assert "CPU:0" in state.layer_rows["dense_1"].phases["forward"]  # Softmax


def test_fallbacks_are_exactly_the_ops_without_a_float_kernel_on_the_device(float32_run, simgpu_env):
    fallbacks = float32_run.of_type("fallback")
    on_cpu = cpu_compute_ops(float32_run)
    assert {fb["op"] for fb in fallbacks} == on_cpu  # every CPU compute op next to the GPU, nothing else
    done = subprocess.run([sys.executable, "-c", REGISTRY, json.dumps(sorted(on_cpu))],
                          capture_output=True, text=True, env=simgpu_env(), timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    has_float_kernel = json.loads(done.stdout.strip().splitlines()[-1])
    no_kernel = {op for op, has in has_float_kernel.items() if not has}
    by_code = {}
    for fb in fallbacks:
        by_code.setdefault(fb["reason_code"], set()).add(fb["op"])
    assert by_code[rules.NO_GPU_KERNEL] == no_kernel
    assert by_code.get(rules.GPU_KERNEL_EXISTS, set()) == on_cpu - no_kernel
    assert {"Softmax", "ReluGrad", "SparseSoftmaxCrossEntropyWithLogits"} <= no_kernel
    assert "Relu" not in {fb["op"] for fb in fallbacks}  # it has its kernel and ran on GPU:0
    softmax = next(fb for fb in fallbacks if fb["op"] == "Softmax")
    assert softmax["reason"] == "no GPU kernel is registered for Softmax (registered: CPU)"
    assert "Metal" not in softmax["advice"]
    sub = next(fb for fb in fallbacks if fb["op"] == "Sub")  # Adam's float Sub; the only GPU Sub is int32
    assert sub["reason"].startswith("the only GPU kernel for Sub takes int32")


def test_headless_summarises_the_fallbacks_in_a_few_lines(float32_run):
    out = float32_run.stdout
    assert len(float32_run.of_type("fallback")) > 100
    about = [line for line in out.splitlines() if "fallback" in line or line.startswith("tfmon:   ")]
    assert len(about) <= 12, out
    assert "dense_1_2" not in out and "for Metal" not in out
    assert "layers: " in out and "dense (" in out


def test_the_allocator_row_reports_the_devices_bytes(float32_run):
    samples = [e for e in float32_run.of_type("memory") if e.get("tf_status") == "ok"]
    assert samples, [e.get("tf_status") for e in float32_run.of_type("memory")]
    assert max(e["tf_gpu0_peak_mb"] for e in samples) > 0
    assert all(e["tf_gpu0_peak_mb"] >= e["tf_gpu0_mb"] for e in samples)


def test_a_float64_model_falls_back_op_by_op_for_the_dtype(simgpu_env, tmp_path):
    run = run_tfmon(["--memory-growth", MLP, str(tmp_path / "h.json"), "--dtype", "float64"], tmp_path / "run",
                    env=simgpu_env())
    assert run.code == 0, run.stderr[-3000:]
    fallbacks = {fb["op"]: fb for fb in run.of_type("fallback")}
    matmul = fallbacks["MatMul"]
    assert matmul["reason_code"] == rules.GPU_KERNEL_EXISTS
    assert "exists for float32 only, not for float16 or float64" in matmul["reason"]
    assert not any(op == "MatMul" and dev.startswith("GPU")
                   for e in run.of_type("placement") for _, op, dev in e["nodes"])
    # --memory-growth applied to the simulated device, and the allocator still reports
    logs = [e.get("text", "") for e in run.events() if e["type"] == "log"]
    assert any("memory growth enabled on GPU:0" in text for text in logs), logs
    assert any(e.get("tf_status") == "ok" for e in run.of_type("memory"))


def test_a_model_under_tf_device_cpu_gets_the_unused_gpu_banner(simgpu_env, tmp_path):
    from tfmon.ui.fallback_pane import banner_text

    run = run_tfmon([MLP, str(tmp_path / "h.json"), "--cpu-scope"], tmp_path / "run", env=simgpu_env())
    assert run.code == 0, run.stderr[-3000:]
    state = folded(run)
    assert state.gpu_visible and not state.compute_nodes.get("GPU")
    assert str(banner_text(state)).startswith("GPU visible but unused: all ")


def test_mirrored_strategy_places_ops_on_each_replica_device(simgpu_env, tmp_path):
    run = run_tfmon([MLP, str(tmp_path / "h.json"), "--replicas", "2"], tmp_path / "run", env=simgpu_env(devices=2))
    assert run.code == 0, run.stderr[-3000:]
    state = folded(run)
    assert {("MatMul", "GPU:0"), ("MatMul", "GPU:1"), ("Relu", "GPU:0"), ("Relu", "GPU:1")} <= set(state.op_rows)
    assert [g["device"] for g in state.devices["gpus"]] == ["GPU:0", "GPU:1"]
    dense = state.layer_rows["dense"]
    assert {"GPU:0", "GPU:1"} <= set(dense.phases["forward"])


def test_doctor_sees_the_device_and_the_library_that_provided_it(simgpu_env, simgpu_library):
    done = subprocess.run([sys.executable, "-m", "tfmon", "doctor", "--json"], capture_output=True, text=True,
                          env=simgpu_env(), timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    found = {f["check"]: f for f in report["findings"]}
    assert str(simgpu_library) in found["gpu_plugins"]["message"]
    assert found["gpu_devices"]["message"] == (
        f"TensorFlow lists 1 GPU(s): /physical_device:GPU:0 (PluggableDevice SIMGPU, from {simgpu_library})"
    )
    assert found["tf_build"]["status"] == "ok" and found["nvidia_driver"]["status"] == "ok"
    assert report["gpu_used"] is True
    assert report["probe"]["placed"]["MatMul"] == ["GPU:0"] and report["probe"]["placed"]["Conv2D"] == ["CPU:0"]
    conv = next(f for f in report["findings"] if f["check"] == "fallback" and f["message"].startswith("Conv2D"))
    assert "no GPU kernel is registered for Conv2D" in conv["message"]  # the registry, read in the probe


# About one run in three this failed (by-layer columns at their labels' width: `dense_1` read
# `dense`): a repaint before DataTable measured its new rows stuck (tfmon.ui.tables; the
# deterministic test is tests/ui/test_placement_pane.py::test_a_repaint_before_...).
def test_the_real_app_shows_the_gpu_views(simgpu_env, tmp_path):
    argv = [sys.executable, "-m", "tfmon", "--run-dir", str(tmp_path / "run"), MLP, str(tmp_path / "h.json")]
    proc = PtyProcess(argv, env=simgpu_env(TERM="xterm-256color"), cwd=tmp_path, cols=160, rows=50)
    try:
        proc.wait_for("finished (exit 0)", timeout=180)
        for keys, shown in (("2", "2 Placement"), ("m", "1 Metrics   2 Placement"), ("b", "· by layer ·")):
            proc.send(keys)  # one at a time: a key typed while focus moves goes nowhere
            proc.wait_for(shown)
        proc.wait_for_match(r"dense_1 +GPU:0 \d+ · CPU:0")  # forward: MatMul, Relu on GPU:0, Softmax on CPU:0
        screen = proc.text()
        assert re.search(r"dense +GPU:0 +CPU:0 \d+ · GPU:0", screen), screen  # backward: ReluGrad on CPU:0
        assert "dense_1_2" not in screen
        for keys, shown in (("m", "╭─ 3 Fallbacks"), ("3", "╭─ 3 Fallbacks"), ("m", "dense_1 · Softmax")):
            proc.send(keys)
            proc.wait_for(shown)
        assert "no GPU kernel is registered for Softmax" in proc.text()
        proc.send("m")
        proc.wait_for_match(r"TF GPU:0 .*KB \(peak .*KB\)|TF GPU:0 .*MB \(peak")
        proc.send("q")
        assert proc.wait_exit() == 0
    finally:
        proc.close()
