"""Device facts from the banners TensorFlow and its GPU plugins print at start-up.

Metal (tensorflow-metal, glog-prefixed or, before 0.9, bare lines)::

    Metal device set to: Apple M4
    systemMemory: 24.00 GB
    maxCacheSize: 8.88 GB
    Created TensorFlow device (/job:localhost/replica:0/task:0/device:GPU:0 with 0 MB memory)
        -> physical PluggableDevice (device: 0, name: METAL, pci bus id: <undefined>)

CUDA (TF >= 2.16, and the older form)::

    Created device /job:localhost/replica:0/task:0/device:GPU:0 with 13942 MB memory:
        -> device: 0, name: Tesla T4, pci bus id: 0000:00:04.0, compute capability: 7.5
    Created TensorFlow device (/job:.../device:GPU:0 with 14648 MB memory) -> physical GPU
        (device: 0, name: Tesla T4, pci bus id: 0000:00:04.0, compute capability: 7.5)

"Metal device set to" is printed when the plugin loads, even if the script then
hides the GPU; only a "Created ... device" line says a GPU device exists.
"""

from __future__ import annotations

import re

from tfmon.tflog import normalize_device

_METAL_NAME = re.compile(r"Metal device set to: (.+?)\s*$")
_SYSTEM_MEMORY = re.compile(r"systemMemory: ([\d.]+) GB")
_MAX_CACHE = re.compile(r"maxCacheSize: ([\d.]+) GB")
# Both "Created device X with N MB memory:  -> device: 0, name: ..." (note the two
# spaces) and "Created TensorFlow device (X with N MB memory) -> physical ... (device: 0, name: ...".
_CREATED = re.compile(
    r"Created (?:TensorFlow )?device \(?(\S+) with (\d+) MB memory\)?:?\s*->\s*"
    r"(?:physical (\w+) )?\(?device: (\d+), name: ([^,]+?),\s*pci bus id: ([^,)]+)"
    r"(?:, compute capability: ([\d.]+))?"
)


def parse_banner(line: str) -> dict | None:
    """Fields for a ``devices`` event from one banner line, or None.

    ``gpu``: one created GPU device ``{"device", "name", "memory_mb", ...}``.
    """
    if "Metal device set to" in line:
        m = _METAL_NAME.search(line)
        if m:
            return {"backend": "Metal", "accelerator": m.group(1)}
    elif "systemMemory:" in line:
        m = _SYSTEM_MEMORY.search(line)
        if m:
            return {"backend": "Metal", "system_memory_gb": float(m.group(1))}
    elif "maxCacheSize:" in line:
        m = _MAX_CACHE.search(line)
        if m:
            return {"backend": "Metal", "max_cache_gb": float(m.group(1))}
    elif "Created " in line and " MB memory" in line:
        m = _CREATED.search(line)
        if m:
            device, memory_mb, kind, index, name, pci, capability = m.groups()
            device = normalize_device(device)
            if not device.startswith("GPU"):
                return None
            metal = name.strip().upper() == "METAL"
            gpu = {
                "device": device,
                "name": name.strip(),
                "memory_mb": int(memory_mb),
                "pci_bus_id": pci.strip(),
            }
            if capability:
                gpu["compute_capability"] = capability
            # Another PluggableDevice (DirectML, Intel) is named by its device name.
            backend = "Metal" if metal else "CUDA" if kind in (None, "GPU") else gpu["name"]
            fields: dict = {"backend": backend, "gpu": gpu}
            if not metal:
                # Metal names the chip in "Metal device set to"; its device name is just METAL.
                fields["accelerator"] = gpu["name"]
            return fields
    return None
