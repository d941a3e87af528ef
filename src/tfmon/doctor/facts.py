"""Platform facts the doctor's checks work on, read from the real machine.

``gather_facts()`` is cheap and safe to call before the user's script runs:
it never imports TensorFlow (the build info is read from the installed
``build_info.py`` file) and runs no subprocess (Rosetta is read with
``sysctlbyname`` through ctypes). The checks take a ``Facts`` so tests inject
any machine.
"""

from __future__ import annotations

import ast
import ctypes
import ctypes.util
import glob
import importlib.metadata
import importlib.util
import os
import platform
import re
from dataclasses import dataclass, field
from typing import Any

from tfmon.doctor.compat import COMMUNITY_PLUGIN, PLUGIN_LIBRARY

METAL_PLUGINS = ("tensorflow-metal", COMMUNITY_PLUGIN)

#: Distributions whose versions the checks look at.
DISTRIBUTIONS = (
    "tensorflow",
    "tensorflow-macos",
    "tensorflow-cpu",
    "tensorflow-intel",
    "tensorflow-metal",
    "tensorflow-metal-plugin",  # the community Metal plugin, not Apple's
    "tf-nightly",
    "keras",
    "tf-keras",
    "nvidia-cudnn-cu12",
    "nvidia-cublas-cu12",
    "nvidia-cuda-runtime-cu12",
)


@dataclass(frozen=True)
class Facts:
    os: str  # platform.system(): "Darwin", "Linux", "Windows"
    machine: str  # platform.machine() as this Python sees it: "arm64", "x86_64"
    python: str  # "3.11.9"
    dists: dict[str, str] = field(default_factory=dict)  # installed name -> version
    translated: bool | None = None  # macOS: Python runs under Rosetta (sysctl.proc_translated)
    tf_build: dict[str, Any] | None = None  # tensorflow's build_info, None if unreadable
    nvidia_driver: str | None = None  # Linux: first line of /proc/driver/nvidia/version
    nvidia_devices: int = 0  # Linux: /dev/nvidiaN nodes
    mac_ver: str = ""  # "14.5"
    cuda_visible_devices: str | None = None  # the environment variable, if set
    gpu_plugins: tuple[str, ...] = ()  # PluggableDevice libraries `import tensorflow` loads
    legacy_keras: bool = False  # TF_USE_LEGACY_KERAS=1: tf.keras is Keras 2 (tf-keras)
    # Metal plugin distribution -> its tensorflow-plugins/libmetal_plugin.dylib is on disk
    plugin_library: dict[str, bool] = field(default_factory=dict)
    plugin_tf_pin: str | None = None  # tensorflow-metal-plugin's requirement on TF: "==2.21.*"

    @property
    def python_tuple(self) -> tuple[int, int]:
        major, minor = self.python.split(".")[:2]
        return int(major), int(minor)

    def version(self, dist: str) -> str | None:
        return self.dists.get(dist)


def gather_facts() -> Facts:
    system = platform.system()
    return Facts(
        os=system,
        machine=platform.machine(),
        python=platform.python_version(),
        dists=installed_versions(),
        translated=_rosetta_translated() if system == "Darwin" else None,
        tf_build=read_build_info(),
        nvidia_driver=_nvidia_driver() if system == "Linux" else None,
        nvidia_devices=len(glob.glob("/dev/nvidia[0-9]*")) if system == "Linux" else 0,
        mac_ver=platform.mac_ver()[0] if system == "Darwin" else "",
        cuda_visible_devices=os.environ.get("CUDA_VISIBLE_DEVICES"),
        gpu_plugins=find_gpu_plugins(),
        legacy_keras=os.environ.get("TF_USE_LEGACY_KERAS", "").lower() in ("1", "true", "yes"),
        plugin_library={d: _has_plugin_library(d) for d in METAL_PLUGINS if _installed(d)},
        plugin_tf_pin=_tensorflow_requirement(COMMUNITY_PLUGIN),
    )


PLUGIN_PATH_ENV = "TF_PLUGGABLE_DEVICE_LIBRARY_PATH"
_LIBRARY_SUFFIXES = (".so", ".dylib", ".dll")


def find_gpu_plugins(paths: list[str] | None = None, environ: dict[str, str] | None = None) -> tuple[str, ...]:
    """The PluggableDevice libraries TensorFlow loads at import, found where it looks
    (``tensorflow/__init__.py``): every library in a ``tensorflow-plugins`` folder of a
    site-packages directory (tensorflow-metal's ``libmetal_plugin.dylib``), and the
    file or folder named by ``TF_PLUGGABLE_DEVICE_LIBRARY_PATH``."""
    import site
    import sys

    environ = os.environ if environ is None else environ
    if paths is None:
        paths = [p for p in sys.path if "site-packages" in p]
        try:
            paths += site.getsitepackages() + [site.getusersitepackages()]
        except AttributeError:  # some embedded Pythons
            pass
    found: list[str] = []
    folders = [os.path.join(p, "tensorflow-plugins") for p in dict.fromkeys(paths)]
    named = environ.get(PLUGIN_PATH_ENV, "")
    for entry in folders + ([named] if named else []):
        if os.path.isdir(entry):
            files = sorted(os.path.join(entry, f) for f in os.listdir(entry) if f.endswith(_LIBRARY_SUFFIXES))
        else:
            files = [entry] if entry == named and os.path.isfile(entry) else []
        found += [f for f in files if f not in found]
    return tuple(found)


def _installed(name: str) -> bool:
    try:
        importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def _has_plugin_library(name: str) -> bool:
    """Is the dylib this distribution installed still there? Apple's tensorflow-metal and the
    community plugin install the same file: uninstalling one deletes the other's."""
    files = importlib.metadata.distribution(name).files or []
    return any(str(f) == PLUGIN_LIBRARY and os.path.exists(f.locate()) for f in files)


def _tensorflow_requirement(name: str) -> str | None:
    """The version part of ``name``'s Requires-Dist on tensorflow ("==2.21.*"), None if none."""
    try:
        requires = importlib.metadata.requires(name) or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for req in requires:
        m = re.match(r"tensorflow\s*(\(?[<>=!~][^;)]*)", req)
        if m and ";" not in req:
            return m.group(1).lstrip("(").strip()
    return None


def installed_versions(names: tuple[str, ...] = DISTRIBUTIONS) -> dict[str, str]:
    found = {}
    for name in names:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return found


def read_build_info() -> dict[str, Any] | None:
    """TensorFlow's ``build_info`` dict without importing TensorFlow (3 s and a
    device scan): the generated ``tensorflow/python/platform/build_info.py``
    holds it as a literal."""
    try:
        spec = importlib.util.find_spec("tensorflow")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        path = os.path.join(root, "python", "platform", "build_info.py")
        try:
            with open(path, encoding="utf-8") as f:
                tree = ast.parse(f.read())
        except (OSError, SyntaxError):
            continue
        for node in tree.body:
            if (
                isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "build_info" for t in node.targets)
            ):
                value = node.value
                # collections.OrderedDict([...]) or a plain dict literal
                if isinstance(value, ast.Call) and value.args:
                    value = value.args[0]
                try:
                    return dict(ast.literal_eval(value))
                except (ValueError, TypeError):
                    return None
    return None


def _rosetta_translated() -> bool | None:
    """1 when this process is x86_64 code translated by Rosetta 2 on an arm64 Mac."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        value = ctypes.c_int(0)
        size = ctypes.c_size_t(ctypes.sizeof(value))
        rc = libc.sysctlbyname(
            b"sysctl.proc_translated", ctypes.byref(value), ctypes.byref(size), None, 0
        )
    except (OSError, AttributeError):
        return None
    if rc != 0:
        return False  # ENOENT on Intel Macs: nothing is ever translated there
    return value.value == 1


def _nvidia_driver() -> str | None:
    try:
        with open("/proc/driver/nvidia/version", encoding="utf-8") as f:
            return f.readline().strip() or None
    except OSError:
        return None
