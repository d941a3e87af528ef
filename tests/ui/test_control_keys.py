"""Keyboard control at batch boundaries, on real training driven by Pilot."""

from __future__ import annotations

import sys
import time

import keras
import numpy as np
import pytest
from textual.widgets import DataTable

from test_live_app import live_app, wait_for

pytestmark = pytest.mark.slow


def of_type(run, kind):
    from tfmon.recorder import read_events

    run._recorder.flush()
    return [e for e in read_events(run.run_dir) if e["type"] == kind]


async def test_pause_holds_the_step_while_memory_sampling_goes_on_and_nothing_is_skipped(tmp_path, scripts):
    run, app = live_app(scripts / "slow_fit.py", ["3", "400", "8"], tmp_path / "run", sample_interval=0.2)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(lambda: app.state.info.epoch >= 1 and app.state.info.step >= 5)
            await pilot.press("p")
            await wait_for(lambda: app.state.info.paused_since is not None, timeout=10)
            assert "paused at epoch" in str(app.query_one("#header").render())
            paused_at = (app.state.info.epoch, app.state.info.step)
            samples_before = len(of_type(run, "memory"))
            time.sleep(2.2)  # the training thread is blocked; the UI and sampler are not
            await pilot.pause(0.3)
            assert (app.state.info.epoch, app.state.info.step) == paused_at
            batches = [e for e in of_type(run, "batch") if e["t"] > of_type(run, "paused")[0]["t"]]
            assert batches == []
            # Sampling goes on while paused (every 0.2 s; a loaded CI machine may be late).
            await wait_for(lambda: len(of_type(run, "memory")) >= samples_before + 5, timeout=15)
            assert (app.state.info.epoch, app.state.info.step) == paused_at
            await pilot.press("space")  # resume
            await wait_for(lambda: app.state.info.state in ("finished", "failed"))
        assert run.result.exit_code == 0
        ends = of_type(run, "epoch_end")
        assert [e["steps"] for e in ends] == [50, 50, 50]  # nothing skipped or repeated
        assert of_type(run, "resumed")[0]["seconds"] >= 2.0
        assert "after fit 150" in (run.run_dir / "output.log").read_text()
    finally:
        run.finish()


async def test_checkpoint_while_paused_saves_at_once_and_loads_to_the_same_predictions(tmp_path, scripts):
    run, app = live_app(scripts / "slow_fit.py", ["3", "400", "8"], tmp_path / "run")
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(lambda: app.state.info.step >= 5)
            await pilot.press("p")
            await wait_for(lambda: app.state.info.paused_since is not None, timeout=10)
            await pilot.press("c")
            await wait_for(lambda: len(of_type(run, "checkpoint")) == 1, timeout=20)
            saved = of_type(run, "checkpoint")[0]
            assert saved["ok"] and saved["kind"] == "model"
            assert (saved["epoch"], saved["step"]) == (app.state.info.epoch, app.state.info.step)
            # While still paused, the live model is at the same step as the file.
            script = sys.modules["__main__"]
            live = np.asarray(script.model(script.x_fixed, training=False))
            loaded = keras.models.load_model(saved["path"])
            np.testing.assert_allclose(np.asarray(loaded(script.x_fixed, training=False)), live, rtol=1e-6)
            assert saved["path"].endswith(f"epoch{saved['epoch']:03d}-step{saved['step']:05d}.keras")
            assert not [p for p in (run.run_dir / "checkpoints").iterdir() if p.name.startswith(".tmp")]
            await pilot.press("p")
            await wait_for(lambda: app.state.info.state in ("finished", "failed"))
    finally:
        run.finish()


async def test_checkpoint_failure_is_shown_and_training_goes_on(tmp_path, scripts):
    run, app = live_app(scripts / "slow_fit.py", ["2", "200", "10"], tmp_path / "run")
    (run.run_dir / "checkpoints").write_text("a file where the folder should be")
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(lambda: app.state.info.step >= 3)
            await pilot.press("c")
            await wait_for(lambda: len(of_type(run, "checkpoint")) == 1, timeout=20)
            failed = of_type(run, "checkpoint")[0]
            assert failed["ok"] is False and failed["error"]
            await pilot.pause(0.3)
            assert any("checkpoint failed" in line.text for line in app.state.log.lines)
            assert any("checkpoint failed" in n.message for n in app._notifications)
            await wait_for(lambda: app.state.info.state in ("finished", "failed"))
        assert run.result.exit_code == 0
        assert len(of_type(run, "epoch_end")) == 2
    finally:
        run.finish()


async def test_stop_ends_fit_early_and_the_script_goes_on(tmp_path, scripts):
    run, app = live_app(scripts / "slow_fit.py", ["500", "200", "5"], tmp_path / "run")
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(lambda: app.state.info.epoch >= 2)
            await pilot.press("s")
            await wait_for(lambda: app.state.info.state in ("finished", "failed"))
        assert run.result.exit_code == 0
        fit_end = of_type(run, "fit_end")[0]
        assert fit_end["reason"] == "stopped by user" and fit_end["epochs_done"] < 20
        assert "after fit" in (run.run_dir / "output.log").read_text()
    finally:
        run.finish()


async def test_header_and_table_while_paused_and_after_a_stop_mid_epoch(tmp_path, scripts):
    # 25 batches of 40 ms per epoch: pause in the first epoch, stop in a later one.
    run, app = live_app(scripts / "slow_fit.py", ["6", "200", "40"], tmp_path / "run")
    header = lambda: str(app.query_one("#header").render())
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            # Mid-epoch (not at its end, where a pause would fall between two epochs).
            await wait_for(lambda: 3 <= app.state.info.step <= 12 and "samples/s" in header() and "-- " not in header())
            await pilot.press("p")
            await wait_for(lambda: app.state.info.paused_since is not None, timeout=10)
            await pilot.pause(0.3)
            while_paused = header()
            time.sleep(2.2)
            await pilot.press("p")  # resumed before any assert: a failing test must not hang paused
            assert "samples/s" not in while_paused and "ETA" not in while_paused, while_paused
            paused_epoch = app.state.info.epoch
            await wait_for(lambda: app.state.info.epoch > paused_epoch and 3 <= app.state.info.step <= 12)
            await pilot.press("s")
            await wait_for(lambda: app.state.info.state in ("finished", "failed"))
            await pilot.pause(0.8)
            ends = of_type(run, "epoch_end")
            last = ends[-1]
            assert last["steps"] < 25 and last["ended_at"] == f"stopped at step {last['steps']}/25"
            assert all("ended_at" not in e for e in ends[:-1])
            shown = header()
            assert f"epoch {last['epoch']}/6  stopped at step {last['steps']}/25" in shown, shown
            assert "samples/s" not in shown and "steps/s" not in shown  # the run has ended
            rows = app.query_one("#epochs", DataTable)
            assert rows.get_row_at(len(ends) - 1)[1] == f"{last['epoch']}, stopped at step {last['steps']}/25"
            assert rows.get_row_at(0)[1] == "1"
        # The paused epoch's time leaves its pause out.
        paused = of_type(run, "paused")[0]
        (start,) = [e for e in of_type(run, "epoch_start") if e["epoch"] == paused["epoch"]]
        (end,) = [e for e in ends if e["epoch"] == paused["epoch"]]
        pause_seconds = of_type(run, "resumed")[0]["seconds"]
        assert pause_seconds >= 2.0
        assert start["t"] < paused["t"] < end["t"]
        assert end["seconds"] <= end["t"] - start["t"] - pause_seconds + 0.05
        # So does its training time, which the verdict's step time is measured from.
        assert end["train_seconds"] <= end["t"] - start["t"] - pause_seconds + 0.05
    finally:
        run.finish()


async def quit_with_a_checkpoint(app, pilot, run) -> None:
    """q, then "checkpoint, then interrupt the script": the script ends with 130."""
    await pilot.press("q")
    await wait_for(lambda: app.screen.__class__.__name__ == "ChoiceScreen", timeout=10)
    await pilot.press("c")
    await pilot.pause(0.3)


async def test_quit_while_training_asks_then_stops_with_a_checkpoint(tmp_path, scripts):
    # Long enough (minutes) that fit is still running whatever the machine's load:
    # a checkpoint can only be taken at a batch boundary of a running fit.
    run, app = live_app(scripts / "slow_fit.py", ["500", "200", "5"], tmp_path / "run")
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(lambda: app.state.info.step >= 3)
            await pilot.press("q")
            await wait_for(lambda: app.screen.__class__.__name__ == "ChoiceScreen", timeout=10)
            await pilot.press("n")  # cancel: nothing happens
            await wait_for(lambda: app.screen is app.screen_stack[0], timeout=10)
            assert app.is_running
            await quit_with_a_checkpoint(app, pilot, run)
        assert run.job_done.wait(60)
        assert run.result.exit_code == 130
        from tfmon.recorder import read_events

        run._recorder.flush()
        tail = [(e["type"], e.get("action"), e.get("reason")) for e in read_events(run.run_dir) if e["type"] not in ("batch", "memory", "log", "placement", "heartbeat")]
        assert of_type(run, "checkpoint"), tail
        assert of_type(run, "checkpoint")[0]["ok"]
        assert of_type(run, "fit_end")[0]["reason"] == "quit by user"
    finally:
        run.finish()


async def test_quit_with_a_checkpoint_ends_the_script_no_later_fit_trains(tmp_path, scripts):
    run, app = live_app(scripts / "several_fits.py", ["8", "2", "20"], tmp_path / "run")
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(lambda: app.state.info.step >= 3)
            await quit_with_a_checkpoint(app, pilot, run)
        assert run.job_done.wait(60)
        assert run.result.exit_code == 130 and run.result.error_type == "KeyboardInterrupt"
        (saved,) = of_type(run, "checkpoint")
        assert saved["ok"] and saved["kind"] == "model"
        (end,) = [e for e in of_type(run, "fit_end") if e["reason"] != "completed"]
        assert end["reason"] == "quit by user"
        # The fit the quit reached was the last to start: no later one trained.
        starts = of_type(run, "fit_start")
        assert starts[-1]["fit"] == end["fit"] and len(starts) < 8
        output = (run.run_dir / "output.log").read_text()
        assert f"fit {end['fit']} done" not in output and "all fits done" not in output
    finally:
        run.finish()


async def test_quit_in_a_tfmon_step_loop_checkpoints_then_interrupts_it(tmp_path, scripts):
    out = tmp_path / "out.npz"
    run, app = live_app(scripts / "custom_loop_control.py", [str(out), "tf", "5"], tmp_path / "run")
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(lambda: app.state.info.global_step >= 5)
            await quit_with_a_checkpoint(app, pilot, run)
        assert run.job_done.wait(60)
        assert run.result.exit_code == 130
        (saved,) = of_type(run, "checkpoint")
        assert saved["ok"] and saved["kind"] == "tf_checkpoint"
        assert of_type(run, "fit_end")[0]["reason"] == "quit by user"
        assert not out.exists()  # the script did not go on past its loop
    finally:
        run.finish()


async def test_a_loop_tfmon_cannot_see_gets_no_promise_it_cannot_keep(tmp_path, scripts):
    run, app = live_app(scripts / "plain_gradient_tape.py", ["3000", "20"], tmp_path / "run")
    header = lambda: str(app.query_one("#header").render())
    messages = lambda: [n.message for n in app._notifications]
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(lambda: any("step 50 " in text for _, text, *_ in app.state.log.lines))
            await pilot.press("p")
            await pilot.pause(0.3)
            assert "pausing" not in header() and "pause waits for a fit or tfmon.step()" in header()
            said = messages()[-1]
            assert said.startswith("no fit or tfmon.step() loop is running: the pause takes effect")
            assert "without tfmon.step() has no batch" in said and "not started" not in said
            await pilot.press("p")  # taken back
            await pilot.pause(0.3)
            assert "pause waits" not in header()
            await pilot.press("c")
            await pilot.pause(0.3)
            assert not any(m.startswith("checkpoint requested") for m in messages())
            await pilot.press("q")
            await wait_for(lambda: app.screen.__class__.__name__ == "ChoiceScreen", timeout=10)
            offered = [b.id for b in app.screen.query("Button")]
            assert offered == ["choice-interrupt", "choice-cancel"]  # no checkpoint it cannot take
            await pilot.press("y")
            await pilot.pause(0.3)
        assert run.job_done.wait(60)
        assert run.result.exit_code == 130
        assert of_type(run, "checkpoint") == [] and of_type(run, "fit_start") == []
        assert "loop done" not in (run.run_dir / "output.log").read_text()
    finally:
        run.finish()


async def stop_fit_mid_training(app, pilot) -> None:
    """s while fit runs; returns once fit has ended and the script goes on."""
    await wait_for(lambda: app.state.info.step >= 3)
    await pilot.press("s")
    await wait_for(lambda: app.state.info.stop_reason == "stopped by user")


async def test_second_stop_after_fit_offers_to_interrupt_the_script(tmp_path, scripts):
    run, app = live_app(scripts / "slow_fit.py", ["500", "200", "5", "60"], tmp_path / "run")
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await stop_fit_mid_training(app, pilot)
            await pilot.press("s")  # fit is over, the script sleeps on
            await pilot.pause(0.2)
            assert app.screen.__class__.__name__ == "ChoiceScreen"
            await pilot.press("y")
            assert run.job_done.wait(30)
            await wait_for(lambda: app.state.info.state == "failed")
        assert run.result.exit_code == 130 and run.result.error_type == "KeyboardInterrupt"
        output = (run.run_dir / "output.log").read_text()
        assert "after fit" in output and "script end" not in output
    finally:
        run.finish()


async def test_checkpoint_after_fit_says_it_waits_for_a_next_fit(tmp_path, scripts):
    # The gate is served at batch boundaries only: after fit there is none, and a
    # silent "checkpoint requested" would promise a file that never comes.
    run, app = live_app(scripts / "slow_fit.py", ["500", "200", "5", "60"], tmp_path / "run")
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await stop_fit_mid_training(app, pilot)
            await pilot.press("c")
            await pilot.pause(0.5)
            messages = [n.message for n in app._notifications]
            assert any(m.startswith("fit has ended (stopped by user): the checkpoint is saved at the next batch")
                       for m in messages), messages
            assert not any(m.startswith("checkpoint requested") for m in messages)
            assert of_type(run, "checkpoint") == []
            await pilot.press("s")
            await pilot.pause(0.2)
            await pilot.press("y")  # interrupt the script's long sleep
            assert run.job_done.wait(30)
    finally:
        run.finish()
