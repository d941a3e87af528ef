"""tfmon --headless on real scripts with real TensorFlow: what a CI or nohup user gets."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import run_tfmon, tfmon_env

pytestmark = pytest.mark.slow


def test_epoch_metrics_in_events_equal_keras_history(tmp_path, scripts):
    history_path = tmp_path / "history.json"
    done = run_tfmon([str(scripts / "tiny_fit.py"), str(history_path), "3"], tmp_path / "run")
    assert done.code == 0, done.stderr
    history = json.loads(history_path.read_text())
    epochs = done.of_type("epoch_end")
    assert [e["epoch"] for e in epochs] == [1, 2, 3]
    for name, values in history.items():
        assert [e["metrics"][name] for e in epochs] == values, name
    assert "val_loss" in epochs[0]["metrics"] and "accuracy" in epochs[0]["metrics"]
    # concise lines on stdout, marked as tfmon's: one per epoch and the final state
    lines = done.stdout.splitlines()
    assert sum(line.startswith("tfmon: epoch ") for line in lines) == 3
    assert lines[-1] == "tfmon: finished (exit 0)"
    end = done.of_type("run_end")[-1]
    assert end["exit_code"] == 0 and end["state"] == "finished"
    # The script's print went to the run and, as under python, to stdout.
    assert "tiny_fit done" in done.output_log()
    assert "tiny_fit done" in done.stdout.splitlines()


def test_script_raising_mid_training_fails_with_its_traceback(tmp_path, scripts):
    done = run_tfmon([str(scripts / "fails_mid_training.py")], tmp_path / "run")
    assert done.code == 1
    end = done.of_type("run_end")[-1]
    assert end["state"] == "failed" and end["error_type"] == "RuntimeError"
    assert "boom in epoch 2" in end["error"]
    assert "fails_mid_training.py" in end["error"]  # the user's frames are kept
    assert "runpy" not in end["error"]  # tfmon's plumbing is not
    assert "boom in epoch 2" in done.stderr
    assert done.stdout.splitlines()[-1] == "tfmon: failed (exit 1)"
    assert [e["state"] for e in done.of_type("status")][-1] == "failed"


def test_sys_exit_code_is_tfmons_exit_code(tmp_path, scripts):
    done = run_tfmon([str(scripts / "exits_3.py")], tmp_path / "run")
    assert done.code == 3
    assert done.of_type("run_end")[-1]["exit_code"] == 3
    assert "about to exit with 3" in done.output_log()


@pytest.mark.parametrize("target", ["missing.py", "a_directory"])
def test_missing_script_or_directory_is_one_line_and_exit_2(tmp_path, target):
    (tmp_path / "a_directory").mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "tfmon", target],
        capture_output=True, text=True, cwd=tmp_path, env=tfmon_env(), timeout=60,
    )
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1
    assert target in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "tfmon-runs").exists()


def test_runs_like_python_with_the_scripts_own_argparse(tmp_path, scripts):
    out = tmp_path / "seen.json"
    workdir = tmp_path / "work"
    workdir.mkdir()
    script = scripts / "with_argparse.py"
    done = run_tfmon([str(script), "--lr", "0.5", "--name", "x y", str(out)], tmp_path / "run", cwd=workdir)
    assert done.code == 0, done.stderr
    seen = json.loads(out.read_text())
    assert seen["lr"] == 0.5 and seen["name"] == "x y"
    assert seen["argv"] == [str(script), "--lr", "0.5", "--name", "x y", str(out)]
    assert seen["main"] == "__main__"
    assert seen["path0"] == str(scripts)
    assert seen["cwd"] == str(workdir)


def test_bad_script_flag_is_the_scripts_own_error(tmp_path, scripts):
    done = run_tfmon([str(scripts / "with_argparse.py"), "--nope"], tmp_path / "run")
    assert done.code == 2  # argparse's own exit code
    assert "the following arguments are required" in done.output_log()


def test_keras_variety_and_c_level_output(tmp_path, scripts):
    done = run_tfmon([str(scripts / "keras_variety.py")], tmp_path / "run")
    assert done.code == 0, done.stderr + done.output_log()[-3000:]
    fits = done.of_type("fit_start")
    assert [f["fit"] for f in fits] == [1, 2, 3]
    assert fits[2]["steps"] is None  # an unsized generator dataset
    ends = done.of_type("fit_end")
    assert ends[0]["reason"] == "completed"
    assert ends[1]["reason"] == "stopped early by a callback" and ends[1]["epochs_done"] < 6
    custom_epochs = [e for e in done.of_type("epoch_end") if "custom_loss" in e["metrics"]]
    assert len(custom_epochs) == 2 and custom_epochs[0]["steps"] == 8
    assert len(done.of_type("evaluate_end")) == 1
    predicts = done.of_type("predict_end")
    assert [p["batches"] for p in predicts] == [4]  # 128 samples, Keras' default batch of 32
    assert "tfmon: predict: 4 batches in" in done.stdout
    assert "predict shape: (128, 1)" in done.output_log()  # the script got its result
    # The by-layer view uses the names the models gave their layers, not the scopes
    # TensorFlow made unique (dense_1, dense_1_2 and dense_2_1 in the placement lines).
    from tfmon.state import RunState

    state = RunState()
    state.apply_all(done.events())
    layers = set(state.placement.layer_rows)
    assert {"dense", "dense_1", "dense_2"} <= layers, layers
    assert not layers & {"dense_1_2", "dense_2_1"}, layers
    # C-level writes to fd 1 and fd 2 reach output.log, log events and, as under python, stdout and stderr
    logs = {(e["stream"], e["text"]) for e in done.of_type("log")}
    assert ("stdout", "C-LEVEL-STDOUT marker") in logs
    assert ("stderr", "C-LEVEL-STDERR marker") in logs
    assert ("stdout", "python print marker") in logs
    assert ("stderr", "python stderr marker") in logs
    output = done.output_log()
    for marker, where in (
        ("C-LEVEL-STDOUT marker", done.stdout), ("C-LEVEL-STDERR marker", done.stderr),
        ("python print marker", done.stdout), ("python stderr marker", done.stderr),
    ):
        assert marker in output
        assert marker in where.splitlines()


def test_tfmon_never_initialises_devices_before_the_script_does(tmp_path, scripts):
    # Placement logging and the memory sampler (at a fast interval) are both on.
    done = run_tfmon(["--sample-interval", "0.05", str(scripts / "split_cpu_first.py")], tmp_path / "run")
    assert done.code == 0, done.output_log()[-2000:]
    assert "logical devices: 2" in done.output_log()
    from_tf = [e for e in done.of_type("devices") if e.get("source") == "tf"]
    assert len(from_tf) == 1
    assert [d["name"] for d in from_tf[0]["logical"]] == ["CPU:0", "CPU:1"]
    assert len(done.of_type("memory")) > 5


def test_legacy_tf_keras_fit_is_hooked_when_asked_for(tmp_path, scripts):
    pytest.importorskip("tf_keras")
    env = tfmon_env(TF_USE_LEGACY_KERAS="1")
    done = run_tfmon([str(scripts / "legacy_keras.py")], tmp_path / "run", env=env)
    assert done.code == 0, done.output_log()[-2000:]
    assert "tf_keras" in done.of_type("tf_imported")[0]["keras_patched"]
    epochs = done.of_type("epoch_end")
    assert [e["epoch"] for e in epochs] == [1, 2]
    line = next(l for l in done.output_log().splitlines() if l.startswith("legacy losses"))
    assert str(epochs[-1]["metrics"]["loss"])[:6] in line


def test_headless_run_survives_sighup_and_checkpoints(tmp_path, scripts):
    import os
    import signal
    import time

    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "tfmon", "--headless", "--run-dir", str(run_dir), str(scripts / "slow_fit.py"), "6", "200", "10"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=tfmon_env())
    deadline = time.monotonic() + 60
    while '"epoch_start"' not in (run_dir / "events.jsonl").read_text() if (run_dir / "events.jsonl").exists() else True:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    proc.stdout.close()  # the terminal is gone: writes to it fail from now on
    os.kill(proc.pid, signal.SIGHUP)
    assert proc.wait(120) == 0
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    kinds = [e["type"] for e in events]
    assert "hangup" in kinds and kinds.count("epoch_end") == 6
    checkpoint = next(e for e in events if e["type"] == "checkpoint")
    assert checkpoint["ok"] and kinds.index("checkpoint") > kinds.index("hangup")
    assert [e for e in events if e["type"] == "run_end"][-1]["exit_code"] == 0
    assert kinds[-1] in ("run_end", "heartbeat", "log", "placement")
