"""What the script writes never reaches the real terminal under the full UI (issue 12):
its control sequences are played into the Log pane, TF's shutdown lines stay in output.log."""

from __future__ import annotations

import pytest

from conftest import tfmon_env
from ptyrun import tfmon_under_pty

pytestmark = pytest.mark.slow


def test_script_control_sequences_never_reach_the_terminal(tmp_path, scripts):
    run_dir = tmp_path / "run"
    proc = tfmon_under_pty(["--run-dir", str(run_dir), str(scripts / "verbose_fit.py")], tfmon_env(TERM="xterm-256color"), tmp_path)
    try:
        proc.wait_for("finished (exit 0)")
        proc.send("5")  # the Log pane, maximised
        proc.wait_for("5 Log", timeout=10)
        proc.send("m")
        # The script's lines are in the pane, played as a terminal would: the
        # colour kept (checked below), the title and mode switches gone; Keras'
        # verbose=1 bar with its visible characters only, aligned as Keras meant.
        for needle in ("RED-MARKER after the sequences", "C-LEVEL-MARKER", "4/4 ━━━━━━━━━━━━━━━━━━━━ ", "Test accuracy:"):
            proc.wait_for(needle, timeout=10)
        screen = proc.text()
        assert "0;SCRIPT-TITLE" not in screen and "[?1049l" not in screen
        # Up to now the terminal got none of the script's sequences: the app is
        # still in the alternate screen with mouse reporting on.
        assert b"SCRIPT-TITLE" not in proc.raw
        assert b"\x1b[?1049l" not in proc.raw
        assert b"\x1b[?1000l" not in proc.raw
        row = next(i for i, line in enumerate(proc.screen.display) if "RED-MARKER" in line)
        col = proc.screen.display[row].index("RED-MARKER")
        cells = proc.screen.buffer[row]
        after = col + len("RED-MARKER ")  # "after the sequences" is past the reset
        assert cells[col].fg != cells[after].fg  # red, in the app's theme (Textual maps ANSI colours)
        proc.send("q")
        assert proc.wait_exit() == 0
        # After tfmon's last line, nothing: TF's placement lines at interpreter
        # shutdown went to output.log, not to the terminal.
        tail = proc.raw[proc.raw.rfind(b"exited 0") :]
        assert b"Executing op" not in tail and b"I0000" not in tail
    finally:
        proc.close()
    events = (run_dir / "events.jsonl").read_text().splitlines()
    assert '"type":"run_end"' in events[-1]
