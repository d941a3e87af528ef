"""The simulated GPU itself, through real TensorFlow: devices, kernels, memory, correctness."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import SCRIPTS
from simgpu import plugin

pytestmark = pytest.mark.slow

PROBE = r"""
import json, sys
import numpy as np
import tensorflow as tf
from tensorflow.python.framework import kernels

def gpu_dtypes(op):
    found = set()
    for k in kernels.get_registered_kernels_for_op(op).kernel:
        if k.device_type == "GPU":
            found.update(v for c in k.constraint for v in c.allowed_values.list.type)
    return sorted(found)

a = tf.constant(np.array([[1.0, -2.0, 3.0], [-4.0, 5.0, -6.0]], np.float32))
b = tf.constant(np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], np.float32))
with tf.device("/GPU:0"):
    product = tf.matmul(a, b, transpose_a=False)
    relu = tf.nn.relu(a)
    biased = tf.nn.bias_add(a, tf.constant([1.0, 2.0, 3.0]))
    scaled = a * tf.constant([[2.0], [3.0]])  # broadcasting
    summed = a + 1.0
    tn = tf.matmul(a, a, transpose_b=True)
    big = tf.Variable(tf.zeros((256, 1024)))  # 1 MiB in the device's memory
info = tf.config.experimental.get_memory_info("GPU:0")
print(json.dumps({
    "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
    "devices": {k: v.device for k, v in dict(product=product, relu=relu, biased=biased, scaled=scaled, summed=summed).items()},
    "values": {k: v.numpy().tolist() for k, v in dict(product=product, relu=relu, biased=biased, scaled=scaled, summed=summed, tn=tn).items()},
    "memory": info,
    "gpu_dtypes": {op: gpu_dtypes(op) for op in ("MatMul", "Relu", "ReluGrad", "Softmax")},
}))
"""


def run_probe(env: dict) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_kernels_compute_for_real_on_the_device_and_memory_is_reported(simgpu_env):
    got = run_probe(simgpu_env())
    assert got["gpus"] == ["/physical_device:GPU:0"]
    assert all(dev.endswith("/device:GPU:0") for dev in got["devices"].values()), got["devices"]
    a = np.array([[1.0, -2.0, 3.0], [-4.0, 5.0, -6.0]], np.float32)
    b = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], np.float32)
    expected = {
        "product": a @ b, "relu": np.maximum(a, 0), "biased": a + [1.0, 2.0, 3.0],
        "scaled": a * [[2.0], [3.0]], "summed": a + 1.0, "tn": a @ a.T,
    }
    for name, want in expected.items():
        np.testing.assert_allclose(got["values"][name], want, rtol=1e-6, err_msg=name)
    # The BFC allocator over the plugin's memory: the variable's MiB is in use now.
    assert got["memory"]["current"] >= 256 * 1024 * 4
    assert got["memory"]["peak"] >= got["memory"]["current"]
    # float32 only, and a deliberately partial set: the CPU-only wheel has no GPU kernel of its own.
    assert got["gpu_dtypes"] == {"MatMul": [1], "Relu": [1], "ReluGrad": [], "Softmax": []}


def run_mlp(env: dict, tmp_path, name: str, *args: str) -> dict:
    out = tmp_path / f"{name}.json"
    done = subprocess.run(
        [sys.executable, str(SCRIPTS / "simgpu_mlp.py"), str(out), *args],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text())


def test_a_seeded_model_trains_to_the_same_loss_as_on_the_cpu(simgpu_env, tmp_path):
    on_gpu = run_mlp(simgpu_env(), tmp_path, "gpu")
    on_cpu = run_mlp(plugin.without(simgpu_env()), tmp_path, "cpu")
    assert (on_gpu["gpus"], on_cpu["gpus"]) == (1, 0)
    assert on_gpu["history"]["loss"] == pytest.approx(on_cpu["history"]["loss"], rel=1e-5)
    assert on_gpu["history"]["accuracy"] == pytest.approx(on_cpu["history"]["accuracy"], abs=1e-6)


def test_two_devices_train_under_mirrored_strategy_to_the_cpu_loss(simgpu_env, tmp_path):
    two = run_mlp(simgpu_env(devices=2), tmp_path, "mirrored", "--replicas", "2")
    on_cpu = run_mlp(plugin.without(simgpu_env()), tmp_path, "cpu")
    assert two["gpus"] == 2
    assert two["history"]["loss"] == pytest.approx(on_cpu["history"]["loss"], rel=1e-5)
