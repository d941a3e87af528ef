"""Week-long runs (issue 15): what a real eager loop under tfmon leaves on disk."""

from __future__ import annotations

import pytest

from conftest import run_tfmon

pytestmark = pytest.mark.slow


def _placement_lines(text: str) -> list[str]:
    return [l for l in text.splitlines() if "Executing op" in l or "/device:" in l]


def test_output_log_does_not_grow_with_eager_steps(tmp_path, scripts):
    short = run_tfmon([str(scripts / "eager_tape.py"), "20"], tmp_path / "short")
    long = run_tfmon([str(scripts / "eager_tape.py"), "400"], tmp_path / "long")
    assert short.code == 0 and long.code == 0, long.stderr
    short_log, long_log = short.output_log(), long.output_log()
    # 380 more steps printed 16 x 380 more placement lines: none of them is stored.
    assert len(_placement_lines(long_log)) == len(_placement_lines(short_log))
    summary = [l for l in long_log.splitlines() if l.startswith("[tfmon]")]
    assert len(summary) == 1 and "Mul@CPU:0 x" in summary[0]
    # The script's own lines are there, verbatim.
    assert "eager_tape: 400 steps" in long_log and "eager_tape done: loss" in long_log
    # The placement pane still counts every execution.
    executions = sum(sum(e["eager"].values()) for e in long.of_type("placement"))
    assert executions >= 16 * 400


def test_raw_log_keeps_every_placement_line(tmp_path, scripts):
    done = run_tfmon(["--raw-log", str(scripts / "eager_tape.py"), "40"], tmp_path / "raw")
    assert done.code == 0, done.stderr
    text = done.output_log()
    assert sum("Executing op" in l for l in text.splitlines()) >= 16 * 40
    assert "[tfmon]" not in text
