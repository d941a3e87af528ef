"""The verdict in a live run: judged at epoch ends and when flushed, emitted only
when the list changes; shown by the run state and headless output."""

from __future__ import annotations

from tfmon import events
from tfmon.bus import EventBus
from tfmon.describe import headless_line as format_event
from tfmon.state import RunState
from tfmon.verdict.diagnoser import Diagnoser

RETRACE = ("WARNING:tensorflow:5 out of the last 5 calls to <function {} at 0x7f00> "
           "triggered tf.function retracing. Tracing is expensive")


def _epoch(n: int) -> dict:
    return dict(epoch=n, steps=500, global_step=500 * n, seconds=0.5, metrics={},
                first_batch_seconds=0.002, first_steps=1, train_seconds=0.5)


def test_emitted_after_an_epoch_end_and_again_only_when_the_list_changes():
    bus = EventBus()
    seen = bus.subscribe()
    diag = Diagnoser(bus.subscribe(), bus.emit)
    bus.emit(events.FIT_START, fit=1, epochs=3, steps=500, batch_size=4, steps_per_execution=1, dataset=None)
    bus.emit(events.EPOCH_END, **_epoch(1))
    diag.step()  # the drain that sees the epoch end: judged at the next one
    assert not [e for e in seen.drain() if e["type"] == events.VERDICT]
    diag.step()
    verdicts = [e for e in seen.drain() if e["type"] == events.VERDICT]
    assert len(verdicts) == 1 and verdicts[0]["epoch"] == 1
    assert [f["rule"] for f in verdicts[0]["findings"]] == ["step_overhead"]
    bus.emit(events.EPOCH_END, **_epoch(2))
    diag.step(), diag.step()
    assert not [e for e in seen.drain() if e["type"] == events.VERDICT]  # same findings: nothing new
    bus.emit(events.LOG, stream="stderr", text=RETRACE.format("step"))
    diag.flush()
    verdicts = [e for e in seen.drain() if e["type"] == events.VERDICT]
    assert [f["rule"] for f in verdicts[0]["findings"]] == ["step_overhead", "retracing"]
    bus.emit(events.FIT_START, fit=2, epochs=3, steps=500, batch_size=4, steps_per_execution=32, dataset=None)
    diag.flush()  # the user set steps_per_execution: that finding goes
    verdicts = [e for e in seen.drain() if e["type"] == events.VERDICT]
    assert [f["rule"] for f in verdicts[0]["findings"]] == ["retracing"]


def test_run_state_and_headless_show_the_verdict():
    finding = {"rule": "step_overhead", "title": "per-step overhead: 1.2 ms steps", "evidence": "1.2 ms per step",
               "change": "model.compile(..., steps_per_execution=16)", "score": 0.7, "subject": ""}
    e = events.make(events.VERDICT, fit=1, epoch=2, findings=[finding])
    state = RunState()
    state.apply(e)
    assert state.verdict.top == finding and state.verdict.epoch == 2
    assert format_event(e).splitlines() == [
        "tfmon: why slow (after epoch 2):",
        "  1. per-step overhead: 1.2 ms steps",
        "     1.2 ms per step",
        "     try: model.compile(..., steps_per_execution=16)",
    ]
    assert format_event(events.make(events.VERDICT, epoch=3, findings=[])) == "tfmon: why slow (after epoch 3): nothing found any more"


def test_a_failing_rule_is_reported_once_and_never_stops_the_run(monkeypatch):
    import tfmon.verdict.diagnoser as diagnoser

    def broken(facts):
        raise ZeroDivisionError("a rule's bug")

    monkeypatch.setattr(diagnoser, "diagnose", broken)
    bus = EventBus()
    seen = bus.subscribe()
    sub = bus.subscribe()
    diag = Diagnoser(sub, bus.emit)
    bus.emit(events.EPOCH_END, **_epoch(1))
    diag.flush()  # what the run calls before run_end: must not raise
    diag.flush()
    notes = [e for e in seen.drain() if e["type"] == events.LOG]
    assert len(notes) == 1 and "verdict stopped: ZeroDivisionError" in notes[0]["text"]
    bus.emit(events.EPOCH_END, **_epoch(2))
    diag.step()
    assert len(sub) == 0  # still drained: nothing piles up for the rest of the run
