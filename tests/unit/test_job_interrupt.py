"""The second Ctrl+C (LiveRun.interrupt_job) interrupts the script, and only the script.

A real LiveRun in this process runs a small script in a thread, as the app does.
Seen in CI: the script ended within the 0.3 s between two Ctrl+C, the interrupt
landed in tfmon's end-of-run steps and the run failed with exit 1 instead of
ending as the script did."""

from __future__ import annotations

import threading
import time

from tfmon.run.session import LiveRun, Options


def _run(tmp_path, source: str) -> LiveRun:
    script = tmp_path / "script.py"
    script.write_text(source)
    run = LiveRun(script, [], Options(run_dir=tmp_path / "run", capture_fds=False, sample_interval=0, placement=False))
    run.prepare()
    return run


def test_a_second_ctrl_c_while_the_script_runs_interrupts_it(tmp_path):
    run = _run(tmp_path, "import time\nfor _ in range(600):\n    time.sleep(0.05)\n")
    try:
        codes = []
        job = threading.Thread(target=lambda: codes.append(run.run_job()))
        job.start()
        deadline = time.monotonic() + 60
        while not run.interrupt_job():
            assert time.monotonic() < deadline, "the job never became interruptible"
            time.sleep(0.05)
        job.join(30)
        assert codes == [130]
    finally:
        run.finish()


def test_a_ctrl_c_that_comes_as_the_script_ends_lands_nowhere(tmp_path, monkeypatch):
    run = _run(tmp_path, "print('done')\n")
    quiet = LiveRun._quiet_output

    def late_ctrl_c(self):
        self.late = self.interrupt_job()  # the app's second Ctrl+C, at this very moment
        sum(range(100_000))  # bytecode in which an interrupt raised in this thread would land
        quiet(self)

    monkeypatch.setattr(LiveRun, "_quiet_output", late_ctrl_c)
    try:
        codes = []
        job = threading.Thread(target=lambda: codes.append(run.run_job()))
        job.start()
        job.join(60)
        assert codes == [0] and run.late is False
        assert run.result.exit_code == 0
    finally:
        run.finish()
