"""events.jsonl: written by the recorder, read back whole or followed as it grows."""

import json
import time

from tfmon.bus import EventBus
from tfmon.recorder import EventFollower, Recorder, read_events


def test_recorder_flushes_while_running_and_everything_at_stop(tmp_path):
    bus = EventBus()
    rec = Recorder(bus, tmp_path, flush_interval=0.05)
    rec.start()
    bus.emit("log", stream="stdout", text="first")
    time.sleep(0.3)
    on_disk = read_events(tmp_path)  # flushed before stop: a crash would keep it
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
        f.write(json.dumps({"type": "a", "t": 1}) + "\n" + '{"type": "b", "t"')
    assert [e["type"] for e in follower.poll()] == ["a"]
    with open(path, "a") as f:
        f.write(': 2}\n{"torn\n' + json.dumps({"type": "c", "t": 3}) + "\n")
    assert [e["type"] for e in follower.poll()] == ["b", "c"]
