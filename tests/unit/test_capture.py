"""Capture: TF log prefixes, Python streams, the sink, and fd redirection for real."""

import os
import sys
import time

from tfmon.probes.capture import FdCapture, OutputSink, StreamToSink, tf_severity


def test_tf_severity_on_both_real_prefix_styles():
    assert tf_severity("I0000 00:00:1795634829.692307    8459 placer.cc:162] input: (_Arg): /job:localhost") == 0
    assert tf_severity("W0000 00:00:1781539079.407545  408594 x.cc:1] warn") == 1
    assert tf_severity("2023-06-25 14:50:07.735873: I tensorflow/core/common_runtime/placer.cc:114] a") == 0
    assert tf_severity("2023-06-25 14:50:07.735873: E tensorflow/core/x.cc:1] b") == 2
    assert tf_severity("input: (_Arg): /job:localhost/replica:0/task:0/device:CPU:0") is None
    assert tf_severity("Epoch 1/3") is None


class Collect:
    def __init__(self):
        self.events = []

    def __call__(self, kind, **fields):
        self.events.append({"type": kind, **fields})


def test_sink_hides_tf_lines_below_the_users_level_but_keeps_them_in_output_log(tmp_path):
    emit = Collect()
    sink = OutputSink(emit, tmp_path / "output.log", tf_min_level=1)
    sink.lines("stderr", ["I0000 00:00:1.0 1 a.cc:1] info", "W0000 00:00:1.0 1 a.cc:1] careful", "plain"])
    sink.close()
    shown = [(e["stream"], e.get("level"), e["text"]) for e in emit.events]
    assert shown == [("tf", "warning", "W0000 00:00:1.0 1 a.cc:1] careful"), ("stderr", None, "plain")]
    assert "a.cc:1] info" in (tmp_path / "output.log").read_text()


def test_python_stream_splits_lines_keeps_partials_and_honours_carriage_returns(tmp_path):
    emit = Collect()
    sink = OutputSink(emit, None)
    stream = StreamToSink(sink, "stdout", 1)
    stream.write("a")
    stream.write("b\nc")
    assert [e["text"] for e in emit.events] == ["ab"]
    stream.write("\r10%\r100%\n")
    stream.write("tail")
    stream.flush()
    assert [e["text"] for e in emit.events] == ["ab", "100%", "tail"]
    assert not stream.isatty() and stream.fileno() == 1


def test_fd_capture_drains_c_level_writes_and_puts_the_fds_back(tmp_path):
    emit = Collect()
    sink = OutputSink(emit, tmp_path / "output.log")
    before = [os.fstat(fd) for fd in (1, 2)]
    capture = FdCapture(sink)
    sys.stdout.flush()
    capture.start()
    try:
        os.write(1, b"to fd one\n")
        os.write(2, b"to fd two, split ")
        os.write(2, b"across writes\n")
        os.write(2, "not utf-8: \xff\n".encode("latin-1"))
        big = b"x" * 200_000 + b"\n"  # larger than a pipe buffer: the reader must keep draining
        os.write(1, big)
    finally:
        capture.stop()
    after = [os.fstat(fd) for fd in (1, 2)]
    assert [(s.st_dev, s.st_ino) for s in before] == [(s.st_dev, s.st_ino) for s in after]
    texts = [(e["stream"], e["text"]) for e in emit.events]
    assert ("stdout", "to fd one") in texts
    assert ("stderr", "to fd two, split across writes") in texts
    assert any(stream == "stderr" and text.startswith("not utf-8: ") for stream, text in texts)
    assert ("stdout", "x" * 200_000) in texts
    sink.close()
    assert "to fd one" in (tmp_path / "output.log").read_text()
