"""Opening a long recording: the events the state needs, the same final state, the whole curve."""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks import synthetic_run  # noqa: E402
from conftest import FIXTURES, final_view, fold  # noqa: E402
from tfmon import events  # noqa: E402
from tfmon.history import CURVE_POINTS, read_history  # noqa: E402
from tfmon.recorder import read_events  # noqa: E402
from tfmon.ui.sources import AttachSource, ReplaySource  # noqa: E402

DAY = 86400.0


def write(path: Path, stream) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    with open(path / "events.jsonl", "w") as f:
        f.writelines(events.dumps(e) + "\n" for e in stream)
    return path


def test_an_old_unthinned_recording_opens_to_the_same_final_state(tmp_path):
    """Recorded before thinning: every batch, eager placement and memory event, with prints."""
    stream = []
    for e in synthetic_run.events(days=0.6, epoch_s=3600.0, every=40.0):
        stream.append(e)
        if e["type"] == "batch":  # a chatty script: more lines than the log keeps
            stream.append({"type": "log", "stream": "stdout", "text": f"step {e['global_step']}", "t": e["t"]})
    run = write(tmp_path / "run", stream)
    full = read_events(run)
    kept, offset, _ = read_history(run / "events.jsonl")
    assert offset == (run / "events.jsonl").stat().st_size
    assert len(kept) < len(full) / 5
    whole, part = fold(full), fold(kept)
    assert final_view(part) == final_view(whole)
    assert list(part.log.lines) == list(whole.log.lines)
    assert {k: list(h) for k, h in part.memory.histories.items()} == {k: list(h) for k, h in whole.memory.histories.items()}
    # The loss curve covers the whole run, downsampled, and ends at the last batch.
    curve = list(part.metrics.batch_loss)
    assert len(curve) <= 2 * CURVE_POINTS + 1
    assert curve[0][0] < 0.01 and curve[-1] == list(whole.metrics.batch_loss)[-1]
    assert curve[-1][0] > part.info.epoch - 1


def test_real_recordings_of_earlier_versions_still_replay(tmp_path):
    for run in sorted((FIXTURES / "runs").iterdir()):
        if not (run / "events.jsonl").is_file():
            continue
        kept, _, _ = read_history(run / "events.jsonl")
        assert final_view(fold(kept)) == final_view(fold(read_events(run))), run.name


def test_scalar_series_keep_their_newest_value_and_the_sample_spans_the_run(tmp_path):
    t0 = 1_800_000_000.0
    stream = [{"type": "run_start", "t": t0, "pid": 1}]
    for step in range(20_000):
        stream.append({"type": "scalar", "name": "loss", "run": "train", "step": step, "value": 1 / (step + 1), "t": t0 + step})
        if step % 3001 == 0:
            stream.append({"type": "scalar", "name": "epoch_acc", "run": "validation", "step": step, "value": step, "t": t0 + step})
    run = write(tmp_path / "run", stream)
    kept, _, _ = read_history(run / "events.jsonl")
    part, whole = fold(kept), fold(read_events(run))
    assert {k: s[-1] for k, s in part.metrics.scalars.items()} == {k: s[-1] for k, s in whole.metrics.scalars.items()}
    steps = [p[0] for p in part.metrics.scalars[("train", "loss")]]
    assert steps == sorted(steps) and steps[0] < 20 and steps[-1] == 19_999


def test_replay_of_a_big_recording_reads_it_in_a_thread_and_arrives_at_the_final_state(tmp_path):
    run = write(tmp_path / "run", synthetic_run.events(days=0.1, epoch_s=1800.0, every=5.0))
    assert (run / "events.jsonl").stat().st_size > 4 << 20
    source = ReplaySource(run)
    got, deadline = [], time.monotonic() + 60
    while not any(e["type"] == "run_end" for e in got):
        assert time.monotonic() < deadline
        got += source.drain()
        time.sleep(0.01)
    assert final_view(fold(got)) == final_view(fold(read_events(run)))


def test_attach_reads_the_history_then_follows_from_where_it_ended(tmp_path):
    now = time.time()
    stream = [{"type": "run_start", "t": now - 100, "pid": 1, "script": "/p/t.py"}]
    stream += [{"type": "batch", "t": now - 100 + i * 0.01, "epoch": 1, "step": i, "global_step": i, "logs": {"loss": 1.0}} for i in range(1, 9000)]
    stream.append({"type": "heartbeat", "t": now, "pid": 1})
    run = write(tmp_path / "run", stream)
    with open(run / "events.jsonl", "a") as f:
        f.write('{"type": "epoch_e')  # the recorder is writing this line
    from tfmon.liveness import read_status

    status = read_status(run)
    status.state, status.pid_alive = "live", True  # as if its process were alive
    source = AttachSource(run, status)
    source.live = True
    first = source.drain()
    assert [e["type"] for e in first][:1] == ["run_start"] and first[-1]["type"] == "heartbeat"
    assert sum(e["type"] == "batch" for e in first) <= 2 * CURVE_POINTS + 1
    assert fold(first).info.step == 8999
    with open(run / "events.jsonl", "a") as f:
        f.write('nd", "t": %f, "epoch": 1, "steps": 9000, "metrics": {"loss": 0.5}}\n' % (now + 1))
    assert [e["type"] for e in source.drain()] == ["epoch_end"]
