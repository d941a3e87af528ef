"""The run with the full UI: the app draws to the real terminal while fds 1/2 are captured.

If the terminal goes away (SIGHUP, or a write to it fails: the SSH link
dropped), the app stops drawing and exits, and the run goes on headless: the
events and output still go to the run directory, the control channel stays
open for ``tfmon ctl`` and ``tfmon attach``, a checkpoint is taken at the next
batch boundary, and tfmon exits with the script's code when it ends.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

from tfmon import describe, events, supervisor
from tfmon.run.streams import detach_std_streams
from tfmon.signals import StopSignals
from tfmon.ui.app import TfmonApp
from tfmon.ui.driver import TerminalOutput, driver_for_terminal
from tfmon.ui.sources import LiveSource


class Hangup:
    """What happens, once, when the terminal goes away."""

    def __init__(self, run, terminal: TerminalOutput) -> None:
        self.run = run
        self.terminal = terminal
        self.driver_class = None  # set once the driver class exists
        self.reason: str | None = None
        self._once = threading.Lock()

    @property
    def happened(self) -> bool:
        return self.reason is not None

    def trigger(self, reason: str) -> None:
        """From a signal handler, the writer thread or the input thread: must not block."""
        if not self._once.acquire(blocking=False):
            return
        self.reason = reason
        self.terminal.silence(reason)
        self.run.hang_up(reason)
        driver = getattr(self.driver_class, "instance", None)
        if driver is not None:
            driver.hang_up()


def run_with_ui(run, mouse: bool = True) -> int:
    source = LiveSource(run)  # subscribed before the first event
    run.prepare()
    terminal = TerminalOutput(os.dup(run.terminal_fd(1)))
    hangup = Hangup(run, terminal)
    driver_class = driver_for_terminal(terminal, on_lost=hangup.trigger)
    hangup.driver_class = driver_class
    app = TfmonApp(source, job=run, driver_class=driver_class)
    restore_sighup = run.catch_sighup(then=hangup.trigger)
    # Our own loop and executor: asyncio.run() (app.run's default) would, on
    # leaving, wait for the job's thread before returning, silently, with the
    # source's events piling up unread.
    loop = asyncio.new_event_loop()
    executor = ThreadPoolExecutor(thread_name_prefix="tfmon-job")
    loop.set_default_executor(executor)

    def stop_signal(signum: int) -> None:
        # Like Ctrl+C, from outside: nobody may be at the terminal to press q
        # after the run ends, so the app leaves now and the run ends headless.
        loop.call_soon_threadsafe(app.exit, 128 + signum)

    signals = StopSignals(run, interrupt=run.interrupt_job, on_first=stop_signal)
    signals.install()
    supervisor.report("ui")
    code = None
    try:
        try:
            code = app.run(mouse=mouse, loop=loop)
        finally:
            if hangup.happened and driver_class.instance is not None:
                driver_class.instance.hang_up()
        if run.result is None and app.quitting in ("checkpoint", "stop"):
            # The gate interrupts the script at its next batch (after the checkpoint).
            after = ", after the checkpoint" if app.quitting == "checkpoint" else ""
            terminal.write_line(f"tfmon: quit: {run.script.name} is interrupted at its next batch{after} "
                                "(Ctrl+C: now)")
        elif run.result is None or run.stop_signal:
            # The terminal hung up, a signal stopped the run (fit stops at the next batch,
            # what follows fit still runs), or the script is being interrupted: wait for it.
            # A signal is said even when the script ended while the app was closing.
            why = [f"{supervisor.signal_name(run.stop_signal)}: stopping with a checkpoint"] if run.stop_signal else []
            if run.result is None:
                why.append(f"waiting for {run.script.name} to finish (Ctrl+C interrupts it)")
            terminal.write_line("tfmon: " + "; ".join(why))
        _wait_for_job(run, executor, source, terminal)
    finally:
        run.finish(park_fds=True)
        signals.restore()
        loop.close()
    result = run.result
    exit_code = result.exit_code if result is not None else (code or 1)
    if hangup.happened:
        detach_std_streams()  # fds 0-2 are the dead terminal again
    else:
        kept = "not kept: nothing was trained" if run.run_dir_removed else run.run_dir
        terminal.write_line(f"tfmon: {run.script.name} exited {exit_code} · run dir {kept}")
        for problem in run.recording_problems():
            terminal.write_line(f"tfmon: warning: {problem}")
        if run.control.quit_requested:
            # The KeyboardInterrupt was tfmon's own, asked for: no traceback for it.
            terminal.write_line("tfmon: quit: the script was interrupted at a batch boundary")
        elif result is not None and result.error and exit_code != 0:
            sys.stderr.write(result.error if result.error.endswith("\n") else result.error + "\n")
    terminal.close()
    if not hangup.happened:  # after a hang-up, another SIGHUP must not kill the exit
        restore_sighup()
    return exit_code


def _wait_for_job(run, executor: ThreadPoolExecutor, source, terminal: TerminalOutput) -> None:
    """Until the script's thread is done, draining the events nobody shows any more
    but the checkpoints (a quit with a checkpoint: where it went)."""
    waiter = threading.Thread(target=executor.shutdown, kwargs={"wait": True}, name="tfmon-wait", daemon=True)
    waiter.start()

    def running() -> bool:
        job = run.job_thread  # in case the job ever runs outside the executor
        return waiter.is_alive() or (job is not None and job.is_alive() and job is not threading.current_thread())

    try:
        while running():
            waiter.join(0.2)
            for e in source.drain():  # keeps memory flat over hours of headless training
                if e["type"] == events.CHECKPOINT:
                    terminal.write_line(f"tfmon: {describe.checkpoint(e)}")
    except KeyboardInterrupt:
        run.interrupt_job()
        waiter.join(10)
