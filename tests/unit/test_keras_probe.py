"""tfmon's Keras callback on real tiny models, in this process (no subprocess, no UI)."""

from __future__ import annotations

import runpy
import sys

import pytest
from test_api import Collect

from tfmon.probes import keras as keras_probe
from tfmon.probes.context import ProbeContext
from tfmon.probes.control import Control

pytestmark = pytest.mark.slow


@pytest.fixture
def probed(tmp_path):
    """A ProbeContext with tfmon's callback in every fit; every batch reported."""
    out = Collect()
    ctx = ProbeContext(emit=out, control=Control(out), run_dir=tmp_path, batch_event_interval=0.0)
    keras_probe.install(ctx)
    yield ctx, out
    keras_probe.uninstall()


def run_script(path, *argv) -> dict:
    """The script run here as __main__ (its globals back), with its own argv."""
    old = sys.argv
    sys.argv = [str(path), *map(str, argv)]
    try:
        return runpy.run_path(str(path), run_name="__main__")
    finally:
        sys.argv = old


def test_steps_per_execution_counts_batches_not_hook_calls(probed, scripts):
    ctx, out = probed
    run_script(scripts / "steps_per_execution.py", 2)
    ends = out.of("epoch_end")
    # 100 batches per epoch; Keras called the batch hook 10 times per epoch.
    assert [(e["steps"], e["global_step"]) for e in ends] == [(100, 100), (100, 200)]
    assert [e["global_step"] for e in out.of("batch")][-1] == 200
    assert all("ended_at" not in e for e in ends)


def test_a_fit_ended_by_a_caught_exception_gets_its_epoch_and_fit_end(probed, scripts):
    ctx, out = probed
    run_script(scripts / "caught_callback_error.py")
    kinds = [e["type"] for e in out.events if e["type"] in ("fit_start", "epoch_start", "epoch_end", "fit_end")]
    assert kinds == ["fit_start", "epoch_start", "epoch_end", "epoch_start", "epoch_end", "fit_end",
                     "fit_start", "epoch_start", "epoch_end", "fit_end"]
    first, second = out.of("fit_end")
    assert first["fit"] == 1 and first["reason"] == "failed" and first["epochs_done"] == 2
    assert first["error"] == "RuntimeError: interrupting the training"
    cut = out.of("epoch_end")[1]
    assert cut["steps"] == 4 and cut["ended_at"] == "failed at step 4/10"  # the raising callback ran before ours
    assert second["fit"] == 2 and second["reason"] == "completed" and "error" not in second


def learning_rates(out):
    return [{k: v for k, v in e["metrics"].items() if "learning_rate" in k} for e in out.of("epoch_end")]


def test_learning_rate_of_each_optimizer_the_model_trains_with_not_its_unused_default(probed, scripts):
    ctx, out = probed
    run_script(scripts / "two_optimizers.py")
    for rates in learning_rates(out):
        assert rates == {"learning_rate/d_optimizer": pytest.approx(3e-4), "learning_rate/g_optimizer": pytest.approx(3e-4)}


def test_learning_rate_under_mirrored_strategy(probed, scripts):
    ctx, out = probed
    run_script(scripts / "mirrored_fit.py")
    assert learning_rates(out) == [{"learning_rate": pytest.approx(0.05)}] * 2
