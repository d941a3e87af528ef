"""events.jsonl: written by the recorder, read back whole or followed as it grows."""

import json
import os
import time

from conftest import fill_disk, until
from tfmon import recorder as recorder_mod
from tfmon.bus import EventBus
from tfmon.probes.capture import OutputSink
from tfmon.recorder import EventFollower, Recorder, read_events


def test_recorder_flushes_while_running_and_everything_at_stop(tmp_path):
    bus = EventBus()
    rec = Recorder(bus, tmp_path, flush_interval=0.05)
    rec.start()
    bus.emit("log", stream="stdout", text="first")
    # Flushed before stop (a crash would keep it), a heartbeat with it.
    assert until(lambda: any(e["type"] == "heartbeat" for e in read_events(tmp_path))
                 and any(e["type"] == "log" for e in read_events(tmp_path)))
    on_disk = read_events(tmp_path)
    assert [e["text"] for e in on_disk if e["type"] == "log"] == ["first"]
    assert any(e["type"] == "heartbeat" for e in on_disk)
    bus.emit("run_end", exit_code=0, value=float("nan"))
    rec.stop()
    events = read_events(tmp_path)
    assert events[-1]["type"] == "run_end"


def test_follower_returns_only_complete_lines_and_skips_torn_ones(tmp_path):
    path = tmp_path / "events.jsonl"
    follower = EventFollower(tmp_path)
    assert follower.poll() == []
    with open(path, "w") as f:
        f.write(json.dumps({"type": "log", "t": 1, "text": "a"}) + "\n" + '{"type": "log", "text": "b", "t"')
    assert [e["text"] for e in follower.poll()] == ["a"]
    with open(path, "a") as f:
        f.write(': 2}\n{"torn\n' + json.dumps({"type": "log", "t": 3, "text": "c"}) + "\n")
    assert [e["text"] for e in follower.poll()] == ["b", "c"]
    assert follower.skipped == 1  # the torn line, counted


def test_no_heartbeat_after_run_end(tmp_path, monkeypatch):
    """A UI left open after the run ended must not keep the file growing (and look alive)."""
    monkeypatch.setattr(recorder_mod, "HEARTBEAT_INTERVAL", 0.05)
    bus = EventBus()
    rec = Recorder(bus, tmp_path, flush_interval=0.02)
    rec.start()
    assert until(lambda: any(e["type"] == "heartbeat" for e in read_events(tmp_path)))
    bus.emit("run_end", exit_code=0, state="finished")
    time.sleep(0.5)  # ten heartbeat intervals: none may come
    rec.stop()
    kinds = [e["type"] for e in read_events(tmp_path)]
    assert "heartbeat" in kinds[: kinds.index("run_end")]
    assert "heartbeat" not in kinds[kinds.index("run_end") :]


def test_a_full_disk_stops_recording_with_one_notice_and_run_end_is_tried_again(small_disk):
    filler = fill_disk(small_disk, leave=8192)
    bus = EventBus()
    seen = bus.subscribe()
    rec = Recorder(bus, small_disk, flush_interval=0.02)
    rec.start()
    for i in range(200):  # ~20 KB of events: more than is left
        bus.emit("log", stream="stdout", text=f"line {i} " + "x" * 100)
    assert until(lambda: rec.failed)
    bus.emit("log", stream="stdout", text="after the disk filled")
    time.sleep(0.2)
    assert rec.failed and "No space left on device" in rec.failed
    notices = [e for e in seen.drain() if e["type"] == "notice"]
    assert len(notices) == 1 and "recording stopped" in notices[0]["text"]
    os.truncate(filler, 0)  # space comes back before the run ends
    bus.emit("run_end", exit_code=0, state="finished")
    rec.stop()  # never raises
    recorded = read_events(small_disk)
    assert recorded[-1]["type"] == "run_end"  # on its own line, after the torn one
    assert not any(e.get("text") == "after the disk filled" for e in recorded)


def test_output_sink_on_a_full_disk_never_raises_into_the_script(small_disk):
    fill_disk(small_disk, leave=4096)
    bus = EventBus()
    seen = bus.subscribe()
    sink = OutputSink(bus.emit, small_disk / "output.log")
    for i in range(100):
        sink.lines("stdout", [f"print {i} " + "y" * 200])  # a print: must never raise
    sink.close()
    got = seen.drain()
    notices = [e for e in got if e["type"] == "notice"]
    assert len(notices) == 1 and "output.log stopped" in notices[0]["text"]
    # Every line still reached the log pane.
    assert [e["text"] for e in got if e["type"] == "log" and e["stream"] == "stdout"][-1].startswith("print 99 ")
