"""Fallback rules: host-side ops, weights, and reasons from the real and a fake kernel registry.

The mixed GPU:0 / CPU:0 streams below are CONSTRUCTED (no real Metal or CUDA
log with fallbacks exists): they use the exact line formats of the real
captures in tests/fixtures/tf-logs, with Keras 3 node names.
"""

from __future__ import annotations

import sys

import pytest

from tfmon.placement import PlacementProbe, PlacementState
from tfmon.placement import rules
from tfmon.placement.rules import (
    GPU_KERNEL_EXISTS, HOST_SIDE_OPS, NO_GPU_KERNEL, UNKNOWN, TFKernelRegistry, is_host_side,
    op_weight, static_registry,
)

GPU = "/job:localhost/replica:0/task:0/device:GPU:0"
CPU = "/job:localhost/replica:0/task:0/device:CPU:0"


def absl(body: str) -> str:
    return f"I0000 00:00:1795634829.692307    8459 placer.cc:162] {body}"


def glog(body: str) -> str:
    return f"2023-06-25 14:50:07.740590: I tensorflow/core/common_runtime/placer.cc:114] {body}"


# A constructed train step: conv and dense on the GPU, with CPU placements of a
# MatMul (has a GPU kernel), a DecodeJpeg and a UniqueV2 (no GPU kernel in
# TensorFlow 2.21, checked below), and host-side ops that are not fallbacks.
MIXED = [
    ("stdout", f"StatefulPartitionedCall/sequential_1/conv2d_1/convolution: (Conv2D): {GPU}"),
    ("stdout", f"StatefulPartitionedCall/sequential_1/dense_1/MatMul: (MatMul): {CPU}"),
    ("stdout", f"StatefulPartitionedCall/gradient_tape/sequential_1/conv2d_1/convolution/Conv2DBackpropFilter: (Conv2DBackpropFilter): {GPU}"),
    ("stdout", f"StatefulPartitionedCall/sequential_1/decode/DecodeJpeg: (DecodeJpeg): {CPU}"),
    ("stdout", f"StatefulPartitionedCall/sequential_1/lookup/UniqueV2: (UniqueV2): {CPU}"),
    ("stdout", f"iterator: (_Arg): {CPU}"),
    ("stdout", f"IteratorGetNext: (IteratorGetNext): {CPU}"),
    ("stdout", f"StatefulPartitionedCall/adam/ResourceApplyAdam: (ResourceApplyAdam): {GPU}"),
]
# the placer's second copy of every node, prefixed, on stderr
MIXED += [("stderr", absl(line)) for _, line in MIXED]


def run(lines, **kwargs):
    events = []
    state = PlacementState()

    def emit(type_, **fields):
        events.append({"type": type_, **fields})
        state.apply(events[-1])

    probe = PlacementProbe(emit, **kwargs)
    for stream, line in lines:
        probe.feed(stream, line)
    probe.flush()
    return events, state, probe


def fallbacks(events):
    return {e["op"]: e for e in events if e["type"] == "fallback"}


# --- host-side list and weights -----------------------------------------------


def test_host_side_list_is_small_and_explicit():
    assert HOST_SIDE_OPS == {
        "_Arg", "_Retval", "_DeviceArg", "_DeviceRetval", "_Send", "_Recv", "_HostSend",
        "_HostRecv", "NoOp", "Const", "HostConst", "Placeholder", "_EagerConst",
        "PyFunc", "PyFuncStateless", "EagerPyFunc",
    }


@pytest.mark.parametrize("op", [
    # every tf.data / iterator op of the Keras fit fixture
    "TensorSliceDataset", "BatchDatasetV2", "DatasetCardinality", "AnonymousIteratorV3",
    "MakeIterator", "IteratorGetNext", "OptionalFromValue", "OptionalHasValue", "OptionalGetValue",
    "_Arg", "_DeviceRetval", "NoOp", "__inference_multi_step_on_iterator_1074", "StatefulPartitionedCall",
])
def test_host_side_ops(op):
    assert is_host_side(op)


@pytest.mark.parametrize("op", ["MatMul", "Conv2D", "Relu", "ReadVariableOp", "Cast", "UniqueV2", "AssignVariableOp"])
def test_compute_ops_are_not_host_side(op):
    assert not is_host_side(op)


def test_weights_rank_heavy_above_light():
    heavy = ["MatMul", "BatchMatMulV2", "Conv2D", "Conv2DBackpropFilter", "DepthwiseConv2dNative",
             "MaxPool", "MaxPoolGrad", "AvgPool", "Softmax", "LogSoftmax",
             "SparseSoftmaxCrossEntropyWithLogits", "Einsum", "ResourceApplyAdam", "FusedBatchNormV3",
             "BiasAddGrad"]
    assert {op_weight(op) for op in heavy} == {rules.HEAVY}
    assert op_weight("Relu") == op_weight("AddV2") == rules.MEDIUM
    assert op_weight("Shape") == op_weight("ReadVariableOp") == rules.LIGHT
    assert op_weight("ConcatV2") == rules.MEDIUM  # "Conc" is not "Conv"


# --- the real registry of the installed TensorFlow --------------------------------


@pytest.fixture(scope="module")
def tf_registry():
    pytest.importorskip("tensorflow")  # imports TF; initialises no device
    return TFKernelRegistry()


def test_installed_tf_registers_gpu_kernels_even_without_a_gpu(tf_registry):
    # The Linux tensorflow 2.21 wheel is a CUDA build: GPU kernels are registered
    # on a machine with no GPU. DecodeJpeg / UniqueV2 have CPU kernels only.
    assert {"CPU", "GPU"} <= set(tf_registry("MatMul"))
    assert "float32" in tf_registry("MatMul")["GPU"]
    assert set(tf_registry("DecodeJpeg")) == {"CPU"}
    assert set(tf_registry("UniqueV2")) == {"CPU"}
    assert tf_registry("NoSuchOpAnywhere") == {}  # an op TF does not know: no kernel at all


def test_mixed_stream_reasons_from_real_registry(tf_registry):
    events, state, _ = run(MIXED, registry=tf_registry)
    fb = fallbacks(events)
    assert set(fb) == {"MatMul", "DecodeJpeg", "UniqueV2"}  # not _Arg/IteratorGetNext, not GPU ops
    assert fb["DecodeJpeg"]["reason_code"] == NO_GPU_KERNEL
    assert "no GPU kernel is registered for DecodeJpeg (registered: CPU)" == fb["DecodeJpeg"]["reason"]
    assert fb["UniqueV2"]["reason_code"] == NO_GPU_KERNEL
    assert fb["MatMul"]["reason_code"] == GPU_KERNEL_EXISTS
    assert "float32" in fb["MatMul"]["gpu_dtypes"]
    assert fb["MatMul"]["layer"] == "dense_1" and fb["MatMul"]["phase"] == "forward"
    assert "layer 'dense_1'" in fb["MatMul"]["advice"]
    assert fb["MatMul"]["weight"] > fb["UniqueV2"]["weight"]
    assert state.fallback_count == 3  # each node printed twice, reported once
    assert state.header_summary() == "ops: 3 GPU · 3 CPU fallbacks"


def test_registry_does_not_answer_before_tensorflow_is_imported(monkeypatch):
    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
    assert TFKernelRegistry()("MatMul") is None


# --- a fake registry -------------------------------------------------------------------


def test_fake_registry_metal_gap_and_dtype():
    fake = static_registry({
        "MatMul": {"CPU": ["float32", "float64"], "GPU": ["float32", "float16"]},  # Metal: no float64
        "DecodeJpeg": ["CPU"],
        "UniqueV2": ["CPU", "GPU"],
    })
    events, _, _ = run(MIXED, registry=fake)
    fb = fallbacks(events)
    assert fb["DecodeJpeg"]["reason_code"] == NO_GPU_KERNEL
    assert fb["UniqueV2"]["reason_code"] == GPU_KERNEL_EXISTS
    assert fb["MatMul"]["gpu_dtypes"] == ["float16", "float32"]
    assert "float64" in fb["MatMul"]["reason"]


def test_unknown_op_in_registry():
    events, _, _ = run(MIXED, registry=static_registry({}))
    assert {e["reason_code"] for e in fallbacks(events).values()} == {UNKNOWN}


def test_registry_that_raises_is_unknown():
    def broken(op):
        raise RuntimeError("half-imported")

    events, _, _ = run(MIXED, registry=broken)
    assert fallbacks(events)["MatMul"]["reason_code"] == UNKNOWN


# --- when is a GPU visible ---------------------------------------------------------------------


def test_no_gpu_means_no_fallbacks():
    cpu_only = [(s, l) for s, l in MIXED if GPU not in l]
    events, state, _ = run(cpu_only, registry=static_registry({}))
    assert fallbacks(events) == {}
    assert state.header_summary() == "CPU only · ops: 3 CPU"


def test_forced_gpu_visible_false_suppresses_fallbacks():
    events, _, _ = run(MIXED, registry=static_registry({}), gpu_visible=False)
    assert fallbacks(events) == {}


def test_cpu_ops_before_the_gpu_is_known_are_judged_later():
    cpu_first = [(s, l) for s, l in MIXED if GPU not in l]
    events, state, probe = run(cpu_first, registry=static_registry({}))
    assert fallbacks(events) == {}
    probe.set_gpu_visible(True)  # what the lead does after read_tf_devices at fit start
    probe.flush()
    assert set(fallbacks(events)) == {"MatMul", "DecodeJpeg", "UniqueV2"}
    probe.flush()
    assert len([e for e in events if e["type"] == "fallback"]) == 3  # not reported twice


def test_gpu_device_banner_makes_the_gpu_visible():
    banner = ("stderr", "I0000 00:00:1756214195.360697      36 gpu_device.cc:2022] Created device "
              "/job:localhost/replica:0/task:0/device:GPU:0 with 13942 MB memory:  -> device: 0, "
              "name: Tesla T4, pci bus id: 0000:00:04.0, compute capability: 7.5")
    events, state, _ = run([banner, ("stdout", f"x/y/z/Softmax: (Softmax): {CPU}")], registry=static_registry({}))
    assert set(fallbacks(events)) == {"Softmax"}
    assert state.device_summary() == "CUDA · Tesla T4"


def test_eager_cpu_op_next_to_gpu_is_a_fallback_once():
    lines = [("stderr", glog(f"MatMul: (MatMul): {GPU}"))]
    lines += [("stderr", f"I0000 00:00:1.0 1 execute.cc:1775] Executing op RngReadAndSkip in device {CPU}")] * 3
    lines += [("stderr", f"I0000 00:00:1.0 1 execute.cc:1775] Executing op __inference_step_9 in device {CPU}")]
    events, state, _ = run(lines, registry=static_registry({"RngReadAndSkip": ["CPU"]}))
    fb = fallbacks(events)
    assert set(fb) == {"RngReadAndSkip"}  # a function call is not an op
    assert fb["RngReadAndSkip"]["phase"] == "eager" and fb["RngReadAndSkip"]["eager"] is True
    assert fb["RngReadAndSkip"]["reason_code"] == NO_GPU_KERNEL
    assert state.op_rows[("RngReadAndSkip", "CPU:0")].eager == 3


# --- what the reasons say (seen on the simulated GPU, issue 17) ------------------------


def test_an_int32_only_gpu_kernel_is_said_plainly_to_be_no_kernel_for_float_math():
    # tensorflow-cpu plus a GPU plugin: Mul/Sub keep one DEFAULT int32 kernel (shape arithmetic).
    fake = static_registry({"Sub": {"CPU": ["float32", "int32"], "DEFAULT": ["int32"]}})
    got = rules.classify("Sub", fake, "adam/Sub_1", "adam", backend="SIMGPU")
    assert got["reason_code"] == NO_GPU_KERNEL
    assert got["reason"] == (
        "the only GPU kernel for Sub takes int32 (shape and index arithmetic), "
        "not a floating-point type: a float Sub has no GPU kernel"
    )
    assert "pinned" not in got["reason"]


def test_a_float32_only_gpu_kernel_names_the_float_types_it_lacks():
    fake = static_registry({"MatMul": {"CPU": ["float32", "float64"], "GPU": ["float32"]}})
    got = rules.classify("MatMul", fake, "sequential/dense/MatMul", "dense", backend="SIMGPU")
    assert got["reason_code"] == GPU_KERNEL_EXISTS
    assert got["reason"].startswith("a GPU kernel for MatMul exists for float32 only, not for float16 or float64")


def test_the_metal_remark_is_made_only_for_metal():
    fake = static_registry({"Softmax": ["CPU"]})
    other = rules.classify("Softmax", fake, "s", "scores", backend="SIMGPU")
    assert "Metal" not in other["advice"] and "metal" not in other["reason"]
    cuda = rules.classify("Softmax", fake, "s", "scores", backend="CUDA")
    assert "Metal" not in cuda["advice"]
    metal = rules.classify("Softmax", fake, "s", "scores", backend="Metal")
    assert "tensorflow-metal does not implement it" in metal["advice"]


def test_an_optimizer_or_the_loss_is_named_as_such_not_as_a_layer_to_change():
    # Seen on the simulated GPU: "Change layer 'adam' to one whose ops have GPU kernels".
    fake = static_registry({"Sub": {"CPU": ["float32"], "DEFAULT": ["int32"]}, "DivNoNan": ["CPU"]})
    opt = rules.classify("Sub", fake, "StatefulPartitionedCall/adam/Sub_1", "adam", "SIMGPU", phase="optimizer")
    assert "layer 'adam'" not in opt["advice"]
    assert "in this build. The optimizer 'adam' updates the weights with it" in opt["advice"]
    assert "tf.data" not in opt["advice"]
    loss = rules.classify("DivNoNan", fake, "compile_loss/x/DivNoNan", "loss", "SIMGPU", phase="forward")
    assert "Change the loss function to one whose ops have GPU kernels" in loss["advice"]
    layer = rules.classify("DivNoNan", fake, "sequential/dense/DivNoNan", "dense", "SIMGPU", phase="forward")
    assert "Change layer 'dense'" in layer["advice"]
