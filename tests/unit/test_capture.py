"""Capture: TF log prefixes, Python streams, the sink, and fd redirection for real."""

import os
import sys
import time

from tfmon.probes.capture import FdCapture, OutputSink, StreamToSink
from tfmon.tflog import severity as tf_severity


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


def _fold(events):
    from tfmon.state import LogState

    log = LogState()
    for e in events:
        log.apply(e)
    return log


def test_a_progress_bar_redrawn_with_cr_is_one_line_that_updates(tmp_path):
    emit = Collect()
    sink = OutputSink(emit, tmp_path / "output.log")
    stream = StreamToSink(sink, "stderr", 2)
    for i in range(51):
        stream.write(f"\r{i * 2:3d}%|{'#' * (i // 5):10s}| {i}/50")
        stream.flush()
    stream.write("\n")
    assert emit.events[0]["partial"] is True  # the bar shows at once, then at most every 0.2 s
    assert emit.events[-1] == {"type": "log", "stream": "stderr", "text": "100%|##########| 50/50", "partial": False}
    log = _fold(emit.events)
    assert [line.text for line in log.lines] == ["100%|##########| 50/50"] and log.total == 1
    sink.close()
    assert (tmp_path / "output.log").read_text() == "100%|##########| 50/50\n"  # the final line, once


def test_many_flushed_dots_are_one_line_not_one_per_dot():
    emit = Collect()
    stream = StreamToSink(OutputSink(emit, None), "stdout", 1)
    for _ in range(20_000):
        stream.write(".")
        stream.flush()
    stream.write(" done\n")
    assert len(emit.events) < 100  # was 20 000 lines
    log = _fold(emit.events)
    assert [line.text for line in log.lines] == ["." * 20_000 + " done"]


def test_a_line_written_between_redraws_of_a_bar_stays_a_line_of_its_own():
    emit = Collect()
    sink = OutputSink(emit, None)
    bar = StreamToSink(sink, "stderr", 2)
    bar.write("\r 50%")
    bar.flush()
    sink.lines("stderr", ["C-level line"])  # TF writing on fd 2 meanwhile
    bar.write("\r100%\n")
    log = _fold(emit.events)
    assert [line.text for line in log.lines] == ["100%", "C-level line"]


def test_colours_are_kept_beside_the_plain_text_and_other_sequences_dropped():
    emit = Collect()
    sink = OutputSink(emit, None)
    StreamToSink(sink, "stdout", 1).write("\x1b]0;title\x07\x1b[31mred\x1b[0m text\n")
    sink.lines("stdout", ["\x1b[?1049lC level"])
    assert [(e["text"], e.get("ansi")) for e in emit.events] == [
        ("red text", "\x1b[0m\x1b[31mred\x1b[0m text"),
        ("C level", None),
    ]


def test_stdout_buffer_writes_reach_the_same_place_as_print():
    emit = Collect()
    stream = StreamToSink(OutputSink(emit, None), "stdout", 1)
    stream.write("text, ")
    stream.buffer.write("then bytes: \u00e9\n".encode())
    stream.buffer.flush()
    assert [e["text"] for e in emit.events] == ["text, then bytes: \u00e9"]
    assert stream.buffer.fileno() == 1


def test_a_python_warning_of_several_lines_is_one_entry(tmp_path):
    import warnings

    from tfmon.probes.capture import PythonCapture

    emit = Collect()
    capture = PythonCapture(OutputSink(emit, None), emit)
    capture.start()
    try:
        warnings.warn_explicit("first line\nsecond line", UserWarning, "x.py", 3)
    finally:
        capture.restore()
    [entry] = [e for e in emit.events if e["stream"] == "warning"]
    assert entry["text"] == "x.py:3: UserWarning: first line\nsecond line"


def test_headless_pass_through_gets_the_scripts_bytes_and_not_placement_lines():
    from tfmon.probes.capture import Passthrough

    class Placement:
        def classify(self, stream, lines):
            return ["eager" if line.startswith("Executing op") else None for line in lines]

        def flush(self):
            pass

    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    passthrough = Passthrough(out_w, err_w)
    os.close(out_w), os.close(err_w)
    sink = OutputSink(Collect(), None, Placement(), tf_min_level=1, passthrough=passthrough)
    stream = StreamToSink(sink, "stdout", 1, passthrough)
    stream.write("\r 10%\r100%\n")
    stream.write("prompt? ")
    stream.flush()
    sink.lines("stderr", ["Executing op MatMul", "I0000 00:00:1.0 1 a.cc:1] info", "W0000 00:00:1.0 1 a.cc:1] careful", "plain"])
    passthrough.close()
    assert os.read(out_r, 1000) == b"\r 10%\r100%\nprompt? "
    assert os.read(err_r, 1000) == b"W0000 00:00:1.0 1 a.cc:1] careful\nplain\n"


def test_a_sealed_sink_emits_nothing_but_still_writes_output_log(tmp_path):
    emit = Collect()
    sink = OutputSink(emit, tmp_path / "output.log")
    StreamToSink(sink, "stderr", 2).write("usage: x\nx: error: bad flag\n")
    assert list(sink.stderr_tail) == ["usage: x", "x: error: bad flag"]
    sink.seal()
    sink.lines("stderr", ["I0000 00:00:1.0 1 execute.cc:1] DestroyResourceOp at shutdown"])
    assert len(emit.events) == 2
    sink.close()
    assert "DestroyResourceOp" in (tmp_path / "output.log").read_text()


def test_fd_sync_returns_once_what_was_written_has_reached_the_sink(tmp_path):
    emit = Collect()
    capture = FdCapture(OutputSink(emit, None))
    capture.start()  # it flushes sys.stdout and sys.stderr first
    try:
        os.write(2, b"last words, unfinished")
        synced = capture.sync()
        texts = [e["text"] for e in emit.events]
    finally:
        capture.stop()
    assert synced and texts == ["last words, unfinished"]  # ended by the sync mark, not held back
