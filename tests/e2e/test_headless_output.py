"""Headless, the script's own output passes through as under python (issue 12): its
help, its errors, its results; tfmon's lines are marked "tfmon:"; TF's placement
flood is not passed; run_end is the last event."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from conftest import run_tfmon, tfmon_env

pytestmark = pytest.mark.slow

# What TensorFlow prints on import (tfmon imports it before any script): not the script's.
TF_BANNER = re.compile(r"^(?:[IWEF]\d{4} |WARNING: All log messages before absl|To enable the following instructions)")


def tfmon(args: list[str], cwd, stdin: str | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "tfmon", "--headless", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, cwd=cwd, env=tfmon_env(), input=stdin)


def python(args: list[str], cwd, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=180, cwd=cwd, env=tfmon_env(), input=stdin)


def the_scripts(text: str) -> list[str]:
    """The lines that are not tfmon's own nor TensorFlow's start-up banner."""
    return [line for line in text.splitlines() if not line.startswith("tfmon: ") and not TF_BANNER.match(line)]


def test_help_is_printed_and_leaves_no_run_directory(tmp_path, scripts):
    script = str(scripts / "with_argparse.py")
    done = tfmon([script, "--help"], tmp_path)
    assert done.returncode == 0
    assert the_scripts(done.stdout) == python([script, "--help"], tmp_path).stdout.splitlines()
    assert "usage: with_argparse.py" in done.stdout
    assert done.stdout.splitlines()[-2:] == [
        "tfmon: finished (exit 0)",
        done.stdout.splitlines()[-1],
    ] and "nothing was trained" in done.stdout.splitlines()[-1]
    assert not (tmp_path / "tfmon-runs").exists()  # a run that recorded nothing is noise


def test_an_argparse_error_shows_on_stderr_and_in_run_end(tmp_path, scripts):
    done = run_tfmon([str(scripts / "with_argparse.py"), "--nope"], tmp_path / "run")
    assert done.code == 2
    assert "with_argparse.py: error: the following arguments are required: --lr, out" in done.stderr
    assert done.stderr.count("error: the following arguments") == 1  # passed through once, not repeated
    assert done.stdout.splitlines()[-1] == "tfmon: failed (exit 2)"
    end = done.events()[-1]
    assert end["type"] == "run_end" and "the following arguments are required" in end["error"]
    assert (tmp_path / "run").is_dir()  # a failed run keeps its record


def test_an_absl_fatal_flag_error_is_visible(tmp_path, scripts):
    done = run_tfmon([str(scripts / "absl_flags.py"), "--nope=1"], tmp_path / "run")
    assert done.code == 1
    assert "FATAL Flags parsing error: Unknown command line flag 'nope'" in done.stderr
    assert "Unknown command line flag 'nope'" in done.of_type("run_end")[0]["error"]
    good = run_tfmon([str(scripts / "absl_flags.py"), "--epochs=3"], tmp_path / "run2")
    assert good.code == 0 and "absl epochs: 3" in good.stdout


def test_keras_verbose_fit_output_and_results_are_what_python_prints(tmp_path, scripts):
    script = str(scripts / "verbose_fit.py")
    done = run_tfmon([script], tmp_path / "run")
    assert done.code == 0, done.stderr
    plain = python([script], tmp_path)

    def timing_free(line: str) -> str:
        # Keras pads and backspaces by the width of its last update, which the timings set,
        # and picks a time's unit by its size (a step of 9ms here can be 1s/step under load).
        line = re.sub(r"\d+(?:\.\d+)?(?:ms|us|µs|s)\b", "#T", re.sub("\x08+", "", line))
        return re.sub(r"\d+", "#", line).rstrip()

    assert [timing_free(line) for line in the_scripts(done.stdout)] == [timing_free(line) for line in the_scripts(plain.stdout)]
    assert re.search(r"^Test accuracy: [\d.]+$", done.stdout, re.M)
    assert "Executing op" not in done.stdout + done.stderr  # tfmon's placement logging stays in the run
    assert "tfmon: epoch 2 " in done.stdout  # tfmon's own lines are marked
    kinds = [e["type"] for e in done.events()]
    assert kinds[-1] == "run_end" and "heartbeat" not in kinds[kinds.index("status", -3) :]
    log_texts = [e["text"] for e in done.of_type("log")]
    assert any(text.startswith("4/4 ━━━━━━━━━━━━━━━━━━━━ ") for text in log_texts)  # played: no escape left
    assert not any("\x1b" in text for text in log_texts)
    # TensorFlow prints its start-up banner twice (two libraries); the log shows it once.
    assert sum("oneDNN custom operations are on" in text for text in log_texts) == 1


def test_progress_bars_dots_and_warnings_pass_through_and_log_as_a_terminal_shows_them(tmp_path, scripts):
    script = str(scripts / "progress_loop.py")
    done = run_tfmon([script, "50", "2000"], tmp_path / "run")
    assert done.code == 0, done.stderr
    plain = python([script, "50", "2000"], tmp_path)
    assert the_scripts(done.stdout) == plain.stdout.splitlines()
    assert the_scripts(done.stderr) == plain.stderr.splitlines()  # the \r bar, byte for byte, and the warning
    from tfmon.state import RunState

    state = RunState()
    state.apply_all(done.events())
    texts = [line.text for line in state.log.lines if line.stream != "tf"]
    assert "100%|####################| 50/50" in texts and not any(t.startswith(" 50%") for t in texts)
    assert "." * 2000 + " dots done" in texts
    [warning] = [line.text for line in state.log.lines if line.stream == "warning"]
    assert "UserWarning: a warning with\na second line" in warning
    assert len(done.of_type("log")) < 200  # not one event per redraw or per dot


def test_input_reads_the_real_stdin_and_stdout_buffer_works(tmp_path, scripts):
    done = tfmon([str(scripts / "asks_input.py")], tmp_path, stdin="Ada\n")
    assert done.returncode == 0, done.stderr
    assert "your name? hello Ada" in done.stdout.splitlines()
    done = tfmon([str(scripts / "stdout_buffer.py")], tmp_path)
    assert the_scripts(done.stdout) == ["bytes through the buffer: \u00e9t\u00e9", "__file__ absolute: True"]
