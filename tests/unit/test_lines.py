"""LineBuffer: complete lines out of arbitrary pipe chunks."""

from __future__ import annotations

from pathlib import Path

import pytest

from tfmon.probes.lines import LineBuffer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tf-logs"


def test_line_split_across_reads_is_joined():
    buf = LineBuffer()
    assert buf.feed(b"I0000 00:00:1.0 1 placer.cc:162] MatMul: (Mat") == []
    assert buf.feed(b"Mul): /job:localhost/replica:0/task:0/device:CPU:0\nnext") == [
        "I0000 00:00:1.0 1 placer.cc:162] MatMul: (MatMul): /job:localhost/replica:0/task:0/device:CPU:0"
    ]
    assert buf.flush() == ["next"]
    assert buf.flush() == []


def test_crlf_and_empty_lines():
    buf = LineBuffer()
    assert buf.feed(b"a\r\n\r\nb\n") == ["a", "", "b"]
    assert buf.feed(b"") == []


def test_multibyte_character_split_between_reads():
    data = "Metal device set to: Apple M4 — ok\n".encode()
    cut = data.index("—".encode()) + 1  # inside the 3-byte em dash
    buf = LineBuffer()
    assert buf.feed(data[:cut]) == []
    assert buf.feed(data[cut:]) == ["Metal device set to: Apple M4 — ok"]


def test_bytes_that_are_not_utf8_are_replaced_not_fatal():
    buf = LineBuffer()
    assert buf.feed(b"bad \xff\xfe bytes\nok\n") == ["bad \ufffd\ufffd bytes", "ok"]
    # a truncated sequence at EOF also decodes with a replacement character
    assert buf.feed(b"tail \xe2\x80") == []
    assert buf.flush() == ["tail \ufffd"]


def test_unterminated_line_is_cut_at_the_cap():
    buf = LineBuffer(max_line_chars=10)
    assert buf.feed(b"x" * 25) == ["x" * 25]
    assert buf.feed(b"y\n") == ["y"]


@pytest.mark.parametrize("chunk", [1, 7, 4096, 65536])
def test_real_fixture_in_any_chunk_size_gives_the_same_lines(chunk):
    data = (FIXTURES / "tf2.21.0-keras3.15.1-cpu-linux-fit.stderr.log").read_bytes()
    buf = LineBuffer()
    lines = []
    for i in range(0, len(data), chunk):
        lines += buf.feed(data[i : i + chunk])
    lines += buf.flush()
    assert lines == data.decode().splitlines()
    assert len(lines) == 732  # wc -l
