"""The run with the full UI: the app draws to the real terminal while fds 1/2 are captured."""

from __future__ import annotations

import os
import sys

from tfmon.ui.app import TfmonApp
from tfmon.ui.driver import driver_for_terminal
from tfmon.ui.sources import LiveSource


def run_with_ui(run, mouse: bool = True) -> int:
    source = LiveSource(run)  # subscribed before the first event
    run.prepare()
    tty = os.fdopen(os.dup(run.terminal_fd(1)), "w", encoding="utf-8", errors="replace")
    app = TfmonApp(source, job=run, driver_class=driver_for_terminal(tty))
    code = None
    try:
        code = app.run(mouse=mouse)
        thread = run.job_thread
        if thread is not None and thread.is_alive():
            # The user quit while the script still runs (fit stops at the next batch;
            # what follows fit still runs): wait for it, headless.
            tty.write(f"tfmon: waiting for {run.script.name} to finish (Ctrl+C interrupts it)\n")
            tty.flush()
            try:
                while thread.is_alive():
                    thread.join(0.2)
            except KeyboardInterrupt:
                run.interrupt_job()
                thread.join(10)
    finally:
        run.finish()
    result = run.result
    exit_code = result.exit_code if result is not None else (code or 1)
    summary = f"tfmon: {run.script.name} exited {exit_code} · run dir {run.run_dir}"
    tty.write(summary + "\n")
    tty.close()
    if result is not None and result.error and exit_code != 0:
        sys.stderr.write(result.error if result.error.endswith("\n") else result.error + "\n")
    return exit_code
