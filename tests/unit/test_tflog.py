"""tfmon.tflog: the one reader of TensorFlow's log prefix, on real captured lines."""

from __future__ import annotations

from pathlib import Path

from tfmon import tflog

LOGS = Path(__file__).parent.parent / "fixtures" / "tf-logs"
DEV_CPU = "/job:localhost/replica:0/task:0/device:CPU:0"


def test_read_tells_severity_body_and_kind_in_both_prefix_styles():
    absl = tflog.read(f"I0000 00:00:1795634819.880965    8434 placer.cc:162] input: (_Arg): {DEV_CPU}")
    assert absl == (0, f"input: (_Arg): {DEV_CPU}", "node")
    glog = tflog.read(f"2023-06-25 14:50:07.735873: I tensorflow/core/common_runtime/eager/execute.cc:1] "
                      f"Executing op MatMul in device {DEV_CPU}")
    assert glog == (0, f"Executing op MatMul in device {DEV_CPU}", "eager")
    warn = tflog.read("2023-04-07 22:17:11.624073: W tensorflow/tsl/platform/profile_utils/cpu_utils.cc:128] Failed")
    assert warn == (1, "Failed", "")
    assert tflog.read("E0000 00:00:1781539079.407545  408594 x.cc:1] boom").severity == 2


def test_a_line_without_the_prefix_is_not_a_tf_line():
    assert tflog.read("Epoch 1/3") is None
    assert tflog.read(f"input: (_Arg): {DEV_CPU}") is None  # bare placement: C stdout, no severity
    assert tflog.severity("Epoch 1/3") is None
    assert tflog.body("plain") == "plain"


def test_severity_and_placement_agree_with_read_on_every_captured_line():
    lines = [line for path in sorted(LOGS.glob("*.log")) for line in path.read_text(errors="replace").splitlines()]
    prefixed = 0
    for line in lines:
        read = tflog.read(line)
        assert tflog.severity(line) == (None if read is None else read.severity), line
        parsed = tflog.parse_line(line)
        if parsed is not None and read is not None:
            assert parsed[-1] is True and read.kind == parsed[0], line
        prefixed += read is not None
    assert prefixed > 100  # the fixtures hold both styles in quantity
