"""tfmon.describe: one wording per event, whoever shows it (headless, the Log pane, tfmon ctl)."""

from __future__ import annotations

import subprocess
import sys

from tfmon import describe, events
from tfmon.state import RunState

SAVED = events.make(events.CHECKPOINT, ok=True, path="/r/ckpt.weights.h5", size=2_500_000,
                    note="weights only: the model's class is not registered")


def test_a_checkpoint_reads_the_same_in_headless_output_in_the_log_pane_and_in_ctl():
    headless = describe.headless_line(SAVED)
    state = RunState()
    state.apply_all([SAVED])
    logged = state.log.lines[-1].text
    assert headless == f"tfmon: {logged}"
    assert logged == "checkpoint saved: /r/ckpt.weights.h5 (2.5 MB) (weights only: the model's class is not registered)"
    assert describe.ctl_message("checkpoint", SAVED) == "checkpoint saved: /r/ckpt.weights.h5 (2.5 MB)"


def test_pause_and_resume_words_are_shared_by_headless_and_ctl():
    paused = events.make(events.PAUSED, epoch=2, step=13)
    resumed = events.make(events.RESUMED, seconds=3.25)
    assert describe.headless_line(paused) == "tfmon: " + describe.ctl_message("pause", paused)
    assert describe.ctl_message("resume", resumed) == "resumed after 3.2s paused"
    assert describe.headless_line(resumed) == "tfmon: resumed after 3.2s"
    assert describe.ctl_message("stop", None) == "stop requested: served at the next batch boundary"


def test_headless_output_loads_nothing_of_the_ui():
    code = "import sys, tfmon.headless; print(sorted(m for m in sys.modules if m.startswith(('tfmon.ui', 'textual'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
