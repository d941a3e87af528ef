"""The control gate: commands from any thread, served at batch boundaries in the training thread."""

import threading
import time

from conftest import until
from tfmon.probes.control import Control


class FakeLoop:
    """A training loop of ``n`` batches that serves the gate the way the Keras callback does."""

    def __init__(self, control, n=10_000, batch_seconds=0.0):
        self.control, self.n, self.batch_seconds = control, n, batch_seconds
        self.step = 0
        self.checkpoints = []
        self.stopped = False

    def position(self):
        return 1, self.step

    def checkpoint(self):
        self.checkpoints.append(self.step)

    def request_stop(self):
        self.stopped = True

    def run(self):
        while self.step < self.n and not self.stopped:
            self.step += 1
            time.sleep(self.batch_seconds)
            if self.control.pending:
                self.control.serve(self)


def test_pause_blocks_at_a_batch_boundary_until_resume_and_checkpoint_is_served_while_paused():
    emitted = []
    control = Control(lambda kind, **f: emitted.append((kind, f)))
    loop = FakeLoop(control, n=10_000, batch_seconds=0.001)
    thread = threading.Thread(target=loop.run)
    thread.start()
    assert until(lambda: loop.step > 0)
    control.ask("pause")
    assert until(lambda: control.paused)
    held = loop.step
    time.sleep(0.2)
    assert loop.step == held and control.paused
    control.ask("checkpoint")
    assert until(lambda: loop.checkpoints)
    assert loop.checkpoints == [held]  # saved at once, at the paused step
    control.ask("toggle_pause")  # resumes
    assert until(lambda: loop.step > held)
    control.ask("stop")
    thread.join(5)
    assert loop.stopped and loop.step < loop.n
    kinds = [k for k, _ in emitted]
    assert kinds.count("paused") == 1 and kinds.count("resumed") == 1
    assert [f["action"] for k, f in emitted if k == "control"] == ["pause", "checkpoint", "resume", "stop"]


def test_stop_while_paused_ends_the_pause():
    control = Control(lambda *a, **k: None)
    loop = FakeLoop(control, n=10_000, batch_seconds=0.001)
    thread = threading.Thread(target=loop.run)
    thread.start()
    control.ask("pause")
    assert until(lambda: control.paused)
    control.ask("stop")
    thread.join(5)
    assert not thread.is_alive() and loop.stopped and not control.paused


def test_no_command_is_lost_when_requests_race_the_gate():
    control = Control(lambda *a, **k: None)
    loop = FakeLoop(control, n=200_000)
    thread = threading.Thread(target=loop.run)
    thread.start()
    for _ in range(300):
        control.ask("checkpoint")
    control.ask("stop")
    thread.join(10)
    assert len(loop.checkpoints) == 300 and loop.stopped


def test_unknown_action_is_refused():
    control = Control(lambda *a, **k: None)
    try:
        control.ask("explode")
    except ValueError as exc:
        assert "explode" in str(exc)
    else:
        raise AssertionError("accepted an unknown action")
