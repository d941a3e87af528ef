"""RunState folds events into what the panes show."""

from tfmon.state import RunState


def ev(type_, t, **fields):
    return {"type": type_, "t": t, **fields}


def test_progress_rate_and_eta_from_batch_events():
    s = RunState()
    s.apply(ev("run_start", 0.0, script="/x/train.py", run_dir="r", pid=1))
    s.apply(ev("status", 0.1, state="running", detail="running the script"))
    s.apply(ev("fit_start", 1.0, fit=1, epochs=4, steps=100, batch_size=32))
    s.apply(ev("epoch_start", 1.0, epoch=1))
    for i in range(1, 41):  # 40 steps over 2 s: 20 steps/s
        s.apply(ev("batch", 1.0 + i * 0.05, epoch=1, step=i, global_step=i, logs={"loss": 1.0 / i}))
    info = s.info
    assert (info.epoch, info.step) == (1, 40)
    assert abs(info.steps_per_s - 20) < 1.5
    assert abs(info.samples_per_s - 640) < 50
    # remaining: 60 steps of epoch 1 + 3 epochs x 100 = 360 steps at 20/s = 18 s
    assert abs(info.eta_seconds() - 18) < 1.5


def test_epoch_table_columns_appear_in_order_and_curves_follow_on_across_fits():
    s = RunState()
    s.apply(ev("fit_start", 0, fit=1, epochs=2, steps=10))
    s.apply(ev("epoch_end", 1, epoch=1, steps=10, seconds=1.0, metrics={"loss": 1.0, "accuracy": 0.5}))
    s.apply(ev("epoch_end", 2, epoch=2, steps=10, seconds=1.0, metrics={"loss": 0.5, "accuracy": 0.7, "val_loss": 0.6}))
    s.apply(ev("fit_start", 3, fit=2, epochs=1, steps=10))
    s.apply(ev("epoch_end", 4, epoch=1, steps=10, seconds=1.0, metrics={"loss": 0.4}))
    m = s.metrics
    assert m.columns == ["loss", "accuracy", "val_loss"]
    assert [(r.fit, r.epoch) for r in m.rows] == [(1, 1), (1, 2), (2, 1)]
    assert list(m.epoch_loss) == [(1, 1.0), (2, 0.5), (3, 0.4)]
    assert list(m.epoch_val_loss) == [(2, 0.6)]


def test_steps_per_epoch_unknown_are_learned_from_the_first_epoch():
    s = RunState()
    s.apply(ev("status", 0, state="running"))
    s.apply(ev("fit_start", 0, fit=1, epochs=3, steps=None))
    s.apply(ev("epoch_end", 1, epoch=1, steps=25, global_step=25, seconds=1, metrics={}))
    s.apply(ev("epoch_start", 1, epoch=2))
    assert s.info.steps_per_epoch == 25
    s.apply(ev("batch", 2.0, epoch=2, step=5, global_step=30, logs={"loss": 0.3}))
    assert s.metrics.batch_loss[-1] == (1.2, 0.3)  # epoch 2, 5 of 25 steps


def test_pause_and_end_states():
    s = RunState()
    s.apply(ev("status", 0, state="running"))
    s.apply(ev("control", 1, action="pause", source="key"))
    assert s.info.pause_requested
    s.apply(ev("paused", 2, epoch=3, step=7))
    assert s.info.paused_since == 2 and (s.info.epoch, s.info.step) == (3, 7)
    s.apply(ev("resumed", 5, seconds=3))
    assert s.info.paused_since is None
    s.apply(ev("run_end", 6, exit_code=1, state="failed", error="Traceback..."))
    s.apply(ev("status", 7, state="running"))  # a late event never revives a finished run
    assert s.info.state == "failed" and s.info.exit_code == 1


def test_log_is_bounded_and_checkpoints_become_notices():
    s = RunState()
    for i in range(6000):
        s.apply(ev("log", i, stream="stdout", text=f"line {i}"))
    assert len(s.log.lines) == 5000 and s.log.lines[-1][1] == "line 5999" and s.log.total == 6000
    s.apply(ev("checkpoint", 1, ok=True, path="/r/c.keras", size=2_000_000, note=None))
    s.apply(ev("checkpoint", 2, ok=False, error="OSError: read-only"))
    assert [sev for sev, _ in s.log.notices] == ["information", "error"]
    assert "2.0 MB" in s.log.notices[0][1]


def test_versions_move_only_for_what_changed():
    s = RunState()
    before = s.metrics.version
    s.apply(ev("log", 0, stream="stdout", text="x"))
    assert s.metrics.version == before
    s.apply(ev("epoch_end", 1, epoch=1, steps=1, seconds=1, metrics={"loss": 1}))
    assert s.metrics.version == before + 1


def test_custom_loop_scalars_are_series_of_their_own_and_feed_the_curve_only_without_batch_losses():
    s = RunState()
    for step in range(5):
        s.apply(ev("scalar", step, name="train/loss", step=step, value=1.0 / (step + 1), run="train"))
        s.apply(ev("scalar", step, name="lr", step=step, value=0.1, run="train"))
    m = s.metrics
    assert set(m.scalars) == {("train", "train/loss"), ("train", "lr")}
    assert m.curve_series() == ("step", [(i, 1.0 / (i + 1)) for i in range(5)])
    # once tfmon.step(loss=...) reports batches, those win (no double points)
    s.apply(ev("fit_start", 10, fit=1, epochs=None, steps=None, loop="custom"))
    s.apply(ev("batch", 11, step=7, global_step=7, logs={"loss": 0.5}))
    assert m.curve_series() == ("step", [(7, 0.5)])
    assert s.info.global_step == 7


def test_known_tf_warnings_and_memory_warnings_raise_a_notice_with_their_advice():
    s = RunState()
    s.apply(ev("tf_warning", 1, code="slow_optimizer", severity="warning", message="v2.11+ optimizer runs slowly on M1/M2", advice="use tf.keras.optimizers.legacy.Adam"))
    s.apply(ev("tf_warning", 2, code="cuda_driver_missing", severity="info", message="no cuda", advice="x"))
    s.apply(ev("memory_warning", 3, kind="leak", message="+412 MB/epoch over 5 epochs"))
    assert [sev for sev, _ in s.log.notices] == ["warning", "warning"]
    assert "legacy.Adam" in s.log.notices[0][1] and "412 MB" in s.log.notices[1][1]
    assert s.log.lines[-1][0] == "tfmon"


def test_loss_curve_points_are_thinned_to_what_a_terminal_can_show():
    from tfmon.ui.metrics_pane import thin

    points = [(i, float(i)) for i in range(2000)]
    thinned = thin(points, 300)
    assert len(thinned) == 300 and thinned[0] == points[0] and thinned[-1] == points[-1]
    assert all(a[0] < b[0] for a, b in zip(thinned, thinned[1:]))
    assert thin(points[:10], 300) == points[:10]


def test_a_flood_of_batch_events_in_one_drain_keeps_what_can_show():
    from tfmon.state import DRAIN_BATCH_SAMPLE

    s = RunState()
    s.apply(ev("fit_start", 0, fit=1, epochs=1, steps=100_000))
    flood = [ev("batch", i * 1e-5, epoch=1, step=i, global_step=i, logs={"loss": 1.0 / i}) for i in range(1, 50_001)]
    flood.insert(25_000, ev("log", 0.25, stream="stdout", text="half way"))  # other events: all of them
    flood.append(ev("epoch_end", 1, epoch=1, steps=50_000, seconds=1, metrics={"loss": 0.5}))
    s.apply_all(flood)
    assert s.events_seen == 50_003
    assert s.info.step == 50_000 and len(s.metrics.rows) == 1  # the latest batch, always
    assert ("stdout", "half way", None, None) in s.log.lines
    # an even sample over the whole drain, not its tail: the curve keeps the drain's shape
    steps = [round(1 / loss) for _, loss in s.metrics.batch_loss]  # each batch's loss was 1/step
    assert len(steps) == DRAIN_BATCH_SAMPLE + 1
    assert steps[0] == 1 and steps[-1] == 50_000
    gaps = {b - a for a, b in zip(steps, steps[1:-1])}
    assert gaps == {50_000 // DRAIN_BATCH_SAMPLE}


def test_predict_and_between_fits_read_as_a_person_would():
    s = RunState()
    assert s.info.between_fits() == "no fit or tfmon.step() loop is running"
    s.apply_all([ev("fit_start", 1.0, fit=1, epochs=2, steps=10)])
    assert s.info.between_fits() is None
    s.apply_all([ev("fit_end", 2.0, fit=1, epochs_done=2, reason="completed"),
                 ev("predict_end", 3.0, batches=4, seconds=0.25)])
    assert s.info.between_fits() == "fit has ended (completed)"
    assert list(s.log.lines)[-1] == ("tfmon", "predict: 4 batches in 0.25s", None, None)


def test_no_speed_while_paused_or_after_the_end_and_a_cut_short_epoch_says_so():
    s = RunState()
    s.apply(ev("status", 0, state="running"))
    s.apply(ev("fit_start", 0, fit=1, epochs=4, steps=100, batch_size=32))
    s.apply(ev("epoch_start", 0, epoch=1))
    for i in range(1, 41):
        s.apply(ev("batch", i * 0.05, epoch=1, step=i, global_step=i, logs={}))
    assert s.info.steps_per_s and s.info.training_now
    s.apply(ev("paused", 2.1, epoch=1, step=40))
    assert s.info.steps_per_s is None and s.info.eta_seconds() is None and not s.info.training_now
    s.apply(ev("resumed", 9.0, seconds=6.9))
    s.apply(ev("epoch_end", 9.5, epoch=1, steps=45, global_step=45, seconds=2.5, metrics={"loss": 1.0},
               ended_at="stopped at step 45/100"))
    s.apply(ev("fit_end", 9.6, fit=1, epochs_done=1, reason="stopped by user"))
    assert s.info.ended_at == "stopped at step 45/100" and s.info.steps_per_s is None
    assert s.metrics.rows[-1].ended_at == "stopped at step 45/100"
    s.apply(ev("fit_start", 10, fit=2, epochs=1, steps=10))
    assert s.info.ended_at is None


def test_a_run_of_thousands_of_epochs_keeps_the_newest_rows_and_the_whole_curve_downsampled():
    """Issue 15: nothing in the state grows without bound. A week of one-minute epochs
    is 10,000 rows: the newest EPOCH_HISTORY are kept and counted in rows_total; the
    epoch curves keep the whole run, downsampled, their last point exact."""
    from tfmon.state import BATCH_HISTORY, EPOCH_HISTORY, MetricsState

    m = MetricsState()
    m.apply({"type": "fit_start", "t": 0, "fit": 1, "epochs": 10_000, "steps": 10})
    for n in range(1, 10_001):
        m.apply({"type": "epoch_end", "t": n, "epoch": n, "seconds": 1.0, "metrics": {"loss": 1 / n, "val_loss": 2 / n}})
        if n % 50 == 0:
            m.apply({"type": "evaluate_end", "t": n, "metrics": {"loss": 1 / n}})
    assert m.rows_total == 10_000 and len(m.rows) == EPOCH_HISTORY
    assert m.rows[0].epoch == 10_001 - EPOCH_HISTORY and m.rows[-1].epoch == 10_000
    loss = list(m.epoch_loss)
    assert BATCH_HISTORY <= len(loss) <= 2 * BATCH_HISTORY + 1
    assert loss[0] == (1, 1.0) and loss[-1] == (10_000, 1 / 10_000)
    assert list(m.epoch_val_loss)[-1] == (10_000, 2 / 10_000)
    assert len(m.evaluations) <= 100 and m.evaluations[-1] == {"loss": 1 / 10_000}
