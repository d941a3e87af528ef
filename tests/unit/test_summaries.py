"""The summary probe's pure parts: TFRecord framing of a growing file, thinning per series.

The record bytes here are constructed (length, CRC placeholder, data, CRC placeholder:
the TFRecord layout); the real files TensorFlow writes are read in
tests/e2e/test_custom_loop.py.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from tfmon.probes.summaries import Scalar, SummaryTail, _Dir, _local_path, read_records


def record(data: bytes) -> bytes:
    return struct.pack("<Q", len(data)) + b"\0" * 4 + data + b"\0" * 4


def test_read_records_returns_complete_records_and_leaves_a_partial_one_for_later():
    whole = record(b"first") + record(b"") + record(b"third one")
    records, used = read_records(whole)
    assert records == [b"first", b"", b"third one"] and used == len(whole)
    for cut in range(len(whole)):  # a writer caught at any byte
        records, used = read_records(whole[:cut])
        assert used <= cut
        assert records == [b"first", b"", b"third one"][: len(records)]
        # what was left is read whole on the next call
        rest, used_rest = read_records(whole[used:])
        assert records + rest == [b"first", b"", b"third one"] and used + used_rest == len(whole)


def test_read_records_rejects_a_file_that_is_not_tfrecord():
    with pytest.raises(ValueError):
        read_records(b"\xff" * 40)


class Collect:
    def __init__(self):
        self.events = []

    def __call__(self, type_, **fields):
        self.events.append({"type": type_, **fields})


def thin(tail, scalars, d="/logs/train"):
    tail._emit_thinned(_Dir(Path(d), "train", set()), scalars)


def test_a_per_step_series_is_cut_to_about_ten_a_second_and_keeps_its_last_value():
    out = Collect()
    tail = SummaryTail(out, min_gap=0.1, burst=10)
    per_step = [Scalar("loss", i, float(i), 1000.0 + i * 0.001) for i in range(3000)]  # 1000 steps/s for 3 s
    thin(tail, per_step)
    steps = [e["step"] for e in out.events]
    assert 30 <= len(steps) <= 10 + 30 + 1  # the burst, then one per 0.1 s, plus the last
    assert steps[-1] == 2999 and steps == sorted(steps)
    assert all(e["value"] == float(e["step"]) and e["run"] == "train" for e in out.events)


def test_a_series_written_now_and_then_comes_through_whole_even_in_a_quick_run():
    out = Collect()
    tail = SummaryTail(out, min_gap=0.1, burst=10)
    # three epochs 40 ms apart (a tiny model), interleaved with a per-step series
    scalars = []
    for epoch in range(1, 4):
        scalars += [Scalar("batch_loss", epoch * 100 + i, 0.5, epoch * 0.04 + i * 0.0001) for i in range(64)]
        scalars.append(Scalar("epoch_loss", epoch, 1.0 / epoch, epoch * 0.04 + 0.01))
    thin(tail, scalars)
    assert [e["step"] for e in out.events if e["name"] == "epoch_loss"] == [1, 2, 3]
    assert len([e for e in out.events if e["name"] == "batch_loss"]) < 64


def test_series_of_two_log_dirs_are_thinned_apart():
    out = Collect()
    tail = SummaryTail(out, min_gap=10.0, burst=1)
    thin(tail, [Scalar("loss", 1, 1.0, 0.0), Scalar("loss", 2, 2.0, 0.001)], d="/logs/train")
    thin(tail, [Scalar("loss", 1, 3.0, 0.0)], d="/logs/validation")
    assert [(e["logdir"], e["step"]) for e in out.events] == [
        ("/logs/train", 1), ("/logs/train", 2), ("/logs/validation", 1)
    ]


@pytest.mark.parametrize(
    "logdir, expected",
    [("logs/a", "logs/a"), (b"logs/b", "logs/b"), ("gs://bucket/logs", None), (42, None)],
)
def test_only_local_log_dirs_are_followed(logdir, expected):
    assert _local_path(logdir) == expected


def test_poll_reads_only_new_event_files_of_this_process(tmp_path, monkeypatch):
    import os

    from tfmon.probes import summaries

    parsed = []
    monkeypatch.setattr(summaries, "scalars_of", lambda data: parsed.append(data) or [])  # no TF import here
    out = Collect()
    tail = SummaryTail(out)
    old = tmp_path / f"events.out.tfevents.1.host.{os.getpid()}.0.v2"
    old.write_bytes(b"")  # there before the writer: an earlier run's file
    tail.watch(tmp_path)
    other = tmp_path / "events.out.tfevents.2.host.1.0.v2"  # another process's file
    other.write_bytes(record(b"not read"))
    mine = tmp_path / f"events.out.tfevents.3.host.{os.getpid()}.1.v2"
    mine.write_bytes(record(b"mine"))
    assert tail.poll() == 0
    assert parsed == [b"mine"]
    with open(mine, "ab") as f:  # the writer appends: only the new record is read
        f.write(record(b"more"))
    tail.poll()
    assert parsed == [b"mine", b"more"]
