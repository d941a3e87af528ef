"""read_tf_devices: reads what the script set up, and why it must not run earlier.

Runs real TensorFlow in a subprocess (device initialisation is per process and
irreversible, so it must not happen inside the test runner).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"

# A script that, like many Mac scripts with set_memory_growth, configures devices
# first: it splits the CPU into two logical devices. tfmon reads devices only
# afterwards (at fit start); reading them first would have made the script fail.
SCRIPT = r"""
import json
import tensorflow as tf
from tfmon.placement.devices import read_tf_devices

cpu = tf.config.list_physical_devices("CPU")[0]   # physical listing: safe
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
info = read_tf_devices(tf)                        # after the script's own setup
try:                                              # now devices are initialised...
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()])
    error = None
except RuntimeError as exc:                       # ...which is what an early read would cause
    error = str(exc)
print("RESULT " + json.dumps({"info": info, "error": error}))
"""


@pytest.fixture(scope="module")
def result():
    if importlib.util.find_spec("tensorflow") is None:  # without importing it here
        pytest.skip("tensorflow is not installed")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])),
               TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = next(l for l in proc.stdout.splitlines() if l.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def test_reads_the_logical_devices_the_script_configured(result):
    info = result["info"]
    assert info["source"] == "tf"
    assert [d["name"] for d in info["logical"]] == ["CPU:0", "CPU:1"]
    assert [d["device_type"] for d in info["physical"]] == ["CPU"]
    assert info["gpus"] == [] and info["backend"] == "CPU"
    assert info["tf_version"].startswith("2.")
    json.dumps(info)  # a devices event must be JSON


def test_reading_devices_initialises_them(result):
    # Had tfmon called read_tf_devices before the script's set_logical_device_configuration,
    # the script would have died with exactly this error.
    assert "Virtual devices cannot be modified after being initialized" in result["error"]
