"""Read the devices from TensorFlow itself, once the script has set them up."""

from __future__ import annotations

import sys
from typing import Any


def read_tf_devices(tf: Any) -> dict:
    """Fields of a ``devices`` event (source "tf") from a TensorFlow module.

    Call it only once the user's script has initialised TensorFlow's devices,
    e.g. from the injected callback's ``on_train_begin``. Never earlier:
    ``tf.config.list_logical_devices()`` (like ``get_memory_info`` or creating
    any tensor) initialises the runtime's devices, and from then on the
    script's own ``tf.config.experimental.set_memory_growth``,
    ``set_visible_devices`` or ``set_logical_device_configuration`` raise
    "Physical devices cannot be modified after being initialized" /
    "Virtual devices cannot be modified after being initialized", so tfmon
    would break scripts that start, as many Mac scripts do, by configuring
    their GPU. Inside ``fit`` the devices already exist, so reading them there
    changes nothing.
    """
    physical = [
        {"name": d.name, "device_type": d.device_type} for d in tf.config.list_physical_devices()
    ]
    logical = [
        {"name": _short(d.name), "device_type": d.device_type}
        for d in tf.config.list_logical_devices()
    ]
    gpus = []
    for d in tf.config.list_physical_devices("GPU"):
        entry: dict[str, Any] = {"device": _short(d.name)}
        try:
            details = tf.config.experimental.get_device_details(d)
        except Exception:  # not every plugin implements it
            details = {}
        if details.get("device_name"):
            entry["name"] = details["device_name"]
        if details.get("compute_capability"):
            entry["compute_capability"] = ".".join(map(str, details["compute_capability"]))
        gpus.append(entry)
    try:
        build = dict(tf.sysconfig.get_build_info())
    except Exception:
        build = {}
    names = [g["name"] for g in gpus if g.get("name")]
    if not gpus:
        backend = "CPU"
    elif build.get("is_cuda_build"):
        backend = "CUDA"
    elif build.get("is_rocm_build"):
        backend = "ROCm"
    elif sys.platform == "darwin":
        backend = "Metal"  # the only GPU plugin TensorFlow has on macOS
    else:
        # Another PluggableDevice is named by its device (platform) name, as its log banner is.
        backend = names[0] if names else "GPU"
    fields: dict[str, Any] = {
        "source": "tf",
        "backend": backend,
        "physical": physical,
        "logical": logical,
        "gpus": gpus,
        "tf_version": getattr(tf, "__version__", None),
    }
    if names and backend != "Metal":
        # Metal's device name is just "METAL": the chip comes from the log banner.
        fields["accelerator"] = names[0]
    return fields


def _short(name: str) -> str:
    """``/job:localhost/replica:0/task:0/device:GPU:0`` or ``/physical_device:GPU:0`` -> ``GPU:0``."""
    return name.rsplit("device:", 1)[-1]
