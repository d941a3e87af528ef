"""PlacementState folding and views, from events as the probe emits them."""

from __future__ import annotations

from tfmon.placement.state import PlacementState, format_devices
from collections import Counter


def placement(nodes=(), eager=None):
    return {"type": "placement", "t": 0.0, "nodes": [list(n) for n in nodes], "eager": eager or {}}


def fallback(node, op, layer, weight, code="no_gpu_kernel", phase="forward"):
    return {"type": "fallback", "t": 0.0, "node": node, "op": op, "device": "CPU:0", "layer": layer,
            "phase": phase, "eager": False, "weight": weight, "reason_code": code,
            "reason": f"why {op}", "advice": f"try {op}", "gpu_dtypes": []}


def test_version_moves_only_on_change_and_rows_record_it():
    state = PlacementState()
    v0 = state.version
    state.apply(placement())  # empty flush: nothing shown changes
    assert state.version == v0
    state.apply(placement([("s/seq/dense/MatMul", "MatMul", "GPU:0")]))
    v1 = state.version
    assert v1 > v0 and state.op_rows[("MatMul", "GPU:0")].version == v1
    state.apply(placement([("s/seq/conv/Conv2D", "Conv2D", "GPU:0")]))
    assert state.op_rows[("MatMul", "GPU:0")].version == v1  # untouched row keeps its stamp
    assert state.op_rows[("Conv2D", "GPU:0")].version == state.version
    state.apply({"type": "metrics", "t": 0})  # not ours
    assert state.version == v1 + 1


def test_fallback_version_ignores_placement_ticks():
    state = PlacementState()
    fv = state.fallback_version
    state.apply(placement([("a", "Relu", "GPU:0")], {"Relu@GPU:0": 3}))
    assert state.fallback_version == fv
    state.apply(fallback("s/seq/d/MatMul", "MatMul", "d", 10.0))
    assert state.fallback_version == fv + 1


def test_header_and_device_summaries():
    state = PlacementState()
    assert state.header_summary() == "CPU only" and state.device_summary() == "CPU only"
    state.apply({"type": "devices", "t": 0, "source": "log", "backend": "Metal", "accelerator": "Apple M4",
                 "gpus": [{"device": "GPU:0", "name": "METAL", "memory_mb": 0}]})
    state.apply(placement([("n%d" % i, "MatMul", "GPU:0") for i in range(212)]))
    assert state.header_summary() == "ops: 212 GPU · no CPU fallbacks"
    for i, op in enumerate(["A", "B", "C"]):
        state.apply(fallback(f"x{i}", op, None, 1.0))
    assert state.header_summary() == "ops: 212 GPU · 3 CPU fallbacks"
    assert state.device_summary() == "Metal · Apple M4"
    # TF's own listing merges in without wiping the banner's facts
    state.apply({"type": "devices", "t": 1, "source": "tf", "backend": "Metal", "gpus": [{"device": "GPU:0"}],
                 "logical": [{"name": "CPU:0"}, {"name": "GPU:0"}]})
    assert state.devices["accelerator"] == "Apple M4"


def test_fallback_groups_heaviest_first():
    state = PlacementState()
    state.apply(fallback("s/seq/emb/UniqueV2", "UniqueV2", "emb", 1.0))
    state.apply(fallback("s/gradient_tape/seq/conv/Conv2DBackpropFilter", "Conv2DBackpropFilter", "conv", 10.0,
                         code="gpu_kernel_exists", phase="backward"))
    state.apply(fallback("s/seq/emb/UniqueV2_1", "UniqueV2", "emb", 1.0))
    state.apply(fallback("Shape", "Shape", None, 0.1))
    groups = state.fallback_groups()
    assert [(g["layer"], g["op"], g["count"]) for g in groups] == [
        ("conv", "Conv2DBackpropFilter", 1), ("emb", "UniqueV2", 2), ("", "Shape", 1)]
    assert groups[1]["nodes"] == ["s/seq/emb/UniqueV2", "s/seq/emb/UniqueV2_1"]
    assert groups[0]["phases"] == ["backward"] and groups[0]["reason_code"] == "gpu_kernel_exists"
    assert state.fallback_groups() is groups  # cached until fallback_version moves
    assert state.layer_rows["emb"].fallbacks == 2
    assert state.op_rows[("UniqueV2", "CPU:0")].fallbacks == 2


def test_environment_findings_and_problems():
    state = PlacementState()
    findings = [{"check": "platform", "status": "ok", "message": "Linux", "fix": ""},
                {"check": "nvidia_driver", "status": "fail", "message": "no GPU is present", "fix": "x"}]
    state.apply({"type": "environment", "t": 0, "findings": findings})
    assert [f["check"] for f in state.problem_findings()] == ["nvidia_driver"]


def test_layer_rows_split_by_phase_and_skip_host_ops():
    state = PlacementState()
    state.apply(placement([
        ("StatefulPartitionedCall/seq/dense/MatMul", "MatMul", "GPU:0"),
        ("StatefulPartitionedCall/gradient_tape/seq/dense/MatMul/MatMul", "MatMul", "GPU:0"),
        ("StatefulPartitionedCall/gradient_tape/seq/dense/MatMul/MatMul_1", "MatMul", "CPU:0"),
        ("StatefulPartitionedCall/seq/dense/Shape_1", "Const", "CPU:0"),  # host-side: not in the layer view
        ("StatefulPartitionedCall/adam/Mul", "Mul", "GPU:0"),
    ]))
    dense = state.layer_rows["dense"]
    assert format_devices(dense.phases["forward"]) == "GPU:0"
    assert format_devices(dense.phases["backward"]) == "GPU:0 1 · CPU:0 1"
    assert format_devices(Counter()) == "-"
    assert dense.nodes == 3
    assert state.layer_rows["adam"].phases["optimizer"] == Counter({"GPU:0": 1})


def test_advice_names_the_layer_by_its_own_name_not_tfs_scope():
    # Keras 3 layers dense, dense_1 run under the scopes dense_1, dense_1_2 (issue 17: the
    # advice said "Change layer 'dense_1_2'" under the heading "dense_1").
    from tfmon.placement.layers import keras3_scopes
    from tfmon.placement.rules import classify, static_registry

    registry = static_registry({"Softmax": ["CPU"]})
    event = dict(fallback("s/sequential/dense_1_2/Softmax", "Softmax", "dense_1_2", 1.0),
                 **classify("Softmax", registry, "s/sequential/dense_1_2/Softmax", "dense_1_2"))
    before, after = PlacementState(), PlacementState()
    before.apply(event)
    for state in (before, after):
        state.apply({"type": "fit_start", "fit": 1, "layer_scopes": keras3_scopes(["dense", "dense_1"])})
    after.apply(event)
    for state in (before, after):
        (group,) = state.fallback_groups()
        assert group["layer"] == "dense_1"
        assert "Change layer 'dense_1' to" in group["advice"] and "dense_1_2" not in group["advice"]
    assert event["layer"] == "dense_1_2"  # what TF logged stays in the recorded event
