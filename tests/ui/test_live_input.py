"""input() under the full UI: the app owns the keyboard, so the script gets an EOFError
saying why and what to do, at once (it used to hang, two readers on one terminal)."""

from __future__ import annotations

import pytest

from test_live_app import live_app, wait_for

pytestmark = pytest.mark.slow


async def run_to_its_end(script, run_dir):
    """The script in the real app until it ends; its run and the Log pane's lines."""
    run, app = live_app(script, [], run_dir, placement=False, sample_interval=0)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(lambda: app.state.info.state in ("finished", "failed"), timeout=60)
            await pilot.pause(0.3)
            state, lines = app.state.info.state, list(app.state.log.lines)
            await pilot.press("q")
    finally:
        run.finish()
    return run, state, lines


async def test_input_under_the_ui_fails_at_once_with_the_reason(tmp_path, scripts):
    run, state, lines = await run_to_its_end(scripts / "asks_input.py", tmp_path / "run")
    assert state == "failed"
    assert run.result.error_type == "EOFError"
    assert "input() has no terminal under tfmon's full UI" in run.result.error
    assert "--headless" in run.result.error
    texts = [line.text for line in lines]
    assert any("input() has no terminal" in line.text and line.stream == "tfmon" for line in lines)
    assert "your name? " in texts  # the prompt was written before the read


async def test_getpass_under_the_ui_fails_at_once_and_leaves_the_terminal_alone(tmp_path, scripts):
    """getpass opens /dev/tty itself and turns its echo off: under the app (which holds the
    terminal in raw mode) it fought the app for the keys and changed the terminal's modes
    under it. It now fails at once, saying why, like input()."""
    run, state, lines = await run_to_its_end(scripts / "asks_password.py", tmp_path / "run")
    assert state == "failed"
    assert run.result.error_type == "EOFError"
    assert "getpass() has no terminal under tfmon's full UI" in run.result.error
    assert any("getpass() has no terminal" in line.text for line in lines)
    import getpass

    assert getpass.getpass.__module__ == "getpass"  # given back after the run
