""""Why is it slow?" on the simulated GPU: the rules that need a GPU (no GPU in use,
CPU fallbacks that matter, XLA without a compiler) judged from real runs."""

from __future__ import annotations

import pytest

from conftest import SCRIPTS, run_tfmon
from simgpu import plugin

pytestmark = pytest.mark.slow


def _found(done, rule: str) -> list[dict]:
    return [f for e in done.of_type("verdict") for f in e["findings"] if f["rule"] == rule]


def test_fallbacks_inside_the_training_step_are_named_with_their_cost(simgpu_env, tmp_path):
    done = run_tfmon([str(SCRIPTS / "simgpu_mlp.py"), str(tmp_path / "out.json"), "--epochs", "3"],
                     tmp_path / "run", env=simgpu_env())
    assert done.code == 0, done.stderr
    found = _found(done, "cpu_fallbacks")
    assert found, done.stdout
    last = found[-1]
    # The layers the user wrote, the loss or the optimizer come before "(no layer)".
    assert not last["title"].startswith("CPU fallbacks: (no layer)")
    assert any(name in last["title"] for name in ("dense", "dense_1", "loss", "adam"))
    assert "inside the training step" in last["evidence"] and "on the GPU" in last["evidence"]
    assert not _found(done, "no_gpu")  # the GPU is used: MatMul, BiasAdd, Relu run there


def test_a_model_under_a_cpu_scope_leaves_the_visible_gpu_unused(simgpu_env, tmp_path):
    done = run_tfmon([str(SCRIPTS / "simgpu_mlp.py"), str(tmp_path / "out.json"), "--cpu-scope"],
                     tmp_path / "run", env=simgpu_env())
    assert done.code == 0, done.stderr
    found = _found(done, "no_gpu")
    assert found and found[-1]["title"] == "GPU visible but unused: every op on the CPU", done.stdout
    assert "GPU:0 visible, but all" in found[-1]["evidence"]
    assert not _found(done, "cpu_fallbacks")  # one finding for it, not two


def test_without_the_device_no_gpu_in_use_comes_with_the_doctors_reason(simgpu_env, tmp_path):
    done = run_tfmon([str(SCRIPTS / "simgpu_mlp.py"), str(tmp_path / "out.json")],
                     tmp_path / "run", env=plugin.without(simgpu_env()))
    assert done.code == 0, done.stderr
    found = _found(done, "no_gpu")
    assert found and found[-1]["title"] == "no GPU in use: TensorFlow sees none", done.stdout
    assert "doctor: " in found[-1]["evidence"] and found[-1]["change"]


def test_xla_on_a_device_without_a_compiler_says_jit_compile_false(simgpu_env, tmp_path):
    done = run_tfmon([str(SCRIPTS / "verdict_cases.py"), "xla"], tmp_path / "run", env=simgpu_env())
    assert done.code == 1  # the script fails; the verdict says why, before run_end
    found = _found(done, "xla")
    assert found and found[-1]["title"] == "XLA cannot compile for platform SIMGPU", done.stdout
    assert "jit_compile=False" in found[-1]["change"]
    kinds = [e["type"] for e in done.events()]
    assert kinds.index("verdict") < kinds.index("run_end")
