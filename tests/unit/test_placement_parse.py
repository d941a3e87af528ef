"""Line formats of TensorFlow's placement log (samples copied from tests/fixtures/tf-logs)."""

from __future__ import annotations

from tfmon.tflog import body, normalize_device, parse_line

DEV_CPU = "/job:localhost/replica:0/task:0/device:CPU:0"
DEV_GPU = "/job:localhost/replica:0/task:0/device:GPU:0"


def test_bare_stdout_line():
    line = f"StatefulPartitionedCall/sequential_1/dense_1/MatMul: (MatMul): {DEV_CPU}"
    assert parse_line(line) == ("node", "StatefulPartitionedCall/sequential_1/dense_1/MatMul", "MatMul", "CPU:0", False)


def test_absl_prefixed_line():
    line = f"I0000 00:00:1795634819.880965    8434 placer.cc:162] input: (_Arg): {DEV_CPU}"
    assert parse_line(line) == ("node", "input", "_Arg", "CPU:0", True)


def test_old_glog_prefixed_line_metal():
    line = f"2023-06-25 14:50:07.740590: I tensorflow/core/common_runtime/placer.cc:114] MatMul: (MatMul): {DEV_GPU}"
    assert parse_line(line) == ("node", "MatMul", "MatMul", "GPU:0", True)


def test_source_line_numbers_are_not_relied_on():
    for src in ("placer.cc:114]", "placer.cc:162]", "placer.cc:9999]", "some/other_file.cc:1]"):
        line = f"2025-07-09 23:27:08.912901: I tensorflow/core/common_runtime/{src} x: (Relu): {DEV_CPU}"
        assert parse_line(line) == ("node", "x", "Relu", "CPU:0", True)


def test_eager_lines_in_both_prefix_styles():
    absl = f"I0000 00:00:1795634819.887123    8434 execute.cc:1775] Executing op MatMul in device {DEV_CPU}"
    glog = f"2023-06-25 14:50:07.740942: I tensorflow/core/common_runtime/eager/execute.cc:1525] Executing op MatMul in device {DEV_GPU}"
    assert parse_line(absl) == ("eager", "MatMul", "CPU:0", True)
    assert parse_line(glog) == ("eager", "MatMul", "GPU:0", True)
    assert parse_line(f"Executing op __inference_f_12 in device {DEV_CPU}") == (
        "eager", "__inference_f_12", "CPU:0", False)


def test_other_lines_are_not_placements():
    for line in (
        "Epoch 1/2",
        "5/5 - 1s - 183ms/step - accuracy: 0.4531 - loss: 0.7208",
        "note: (remember): this is not a device",
        "I0000 00:00:1795634816.455433    8434 cpu_feature_guard.cc:227] This TensorFlow binary is optimized",
        f"prefix text StatefulPartitionedCall: (NoOp): {DEV_CPU}",  # not at line start
        "",
    ):
        assert parse_line(line) is None, line


def test_device_normalisation():
    assert normalize_device(DEV_GPU) == "GPU:0"
    assert normalize_device("/job:worker/replica:0/task:3/device:GPU:1") == "GPU:1"
    assert normalize_device("/device:CPU:0") == "CPU:0"
    assert normalize_device("/job:localhost/replica:0/task:0/device:XLA_CPU:0") == "XLA_CPU:0"
    assert normalize_device("weird") == "weird"


def test_body():
    assert body("I0000 00:00:1.5    12 placer.cc:162] hello") == "hello"
    assert body("2023-04-07 22:17:11.624073: W tensorflow/tsl/x.cc:128] Failed") == "Failed"
    assert body("plain") == "plain"
