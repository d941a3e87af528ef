"""The real app, driven by Pilot, over a real in-process run of a real Keras script."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from textual.widgets import DataTable

from tfmon.run.session import LiveRun, Options
from tfmon.ui.app import TfmonApp
from tfmon.ui.sources import LiveSource

pytestmark = pytest.mark.slow


async def wait_for(predicate, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.1)


def live_app(script, args, run_dir, **options):
    run = LiveRun(script, args, Options(run_dir=run_dir, capture_fds=False, **options))
    source = LiveSource(run)
    run.prepare()
    return run, TfmonApp(source, job=run)


async def test_metrics_table_fills_with_the_real_epochs_and_state_ends_finished(tmp_path, scripts):
    history_path = tmp_path / "history.json"
    run, app = live_app(scripts / "tiny_fit.py", [str(history_path), "3"], tmp_path / "run")
    try:
        async with app.run_test(size=(160, 50)) as pilot:
            await wait_for(lambda: app.state.info.state in ("finished", "failed"))
            await pilot.pause(0.3)
            assert app.state.info.state == "finished", app.state.info.error
            table = app.query_one("#epochs", DataTable)
            assert table.row_count == 3
            history = json.loads(history_path.read_text())
            columns = [str(c.label) for c in table.columns.values()]
            loss_col = columns.index("loss")
            shown = [float(table.get_row_at(i)[loss_col]) for i in range(3)]
            assert shown == pytest.approx(history["loss"], rel=1e-3)
            assert "val_accuracy" in columns
            header = str(app.query_one("#header").render())
            assert "finished" in header and "epoch 3/3" in header
            await pilot.press("q")  # the run has ended: q quits at once
            await pilot.pause(0.2)
        assert app.return_code == 0
    finally:
        run.finish()


async def test_failure_shows_the_traceback_in_the_log_pane(tmp_path, scripts):
    run, app = live_app(scripts / "fails_mid_training.py", [], tmp_path / "run")
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(lambda: app.state.info.state in ("finished", "failed"))
            await pilot.pause(0.3)
            assert app.state.info.state == "failed"
            assert app.current == "log"  # the app switched to the traceback
            log_text = "\n".join(str(line.text) for line in app.query_one("#pane-log-body").row_strips())
            assert "RuntimeError: boom in epoch 2" in log_text
            assert "failed (exit 1)" in str(app.query_one("#header").render())
        assert run.result.exit_code == 1
    finally:
        run.finish()
