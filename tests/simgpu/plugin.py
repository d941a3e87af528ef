"""Build and load the simulated GPU (simgpu.c), for tests and scripts/screenshots.py.

The plugin is compiled against the TensorFlow of the Python that will load it
(``tf.sysconfig`` flags, read in a subprocess so that this process's TensorFlow,
if any, is not imported without the plugin), once per source/TensorFlow pair,
into tests/simgpu/build/. It is loaded the way a user's plugin is: through
``TF_PLUGGABLE_DEVICE_LIBRARY_PATH``, read by ``import tensorflow``.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SOURCE = HERE / "simgpu.c"
BUILD_DIR = HERE / "build"
VENV_PYTHON = ROOT / ".venv-simgpu" / "bin" / "python"
LIBRARY_ENV = "TF_PLUGGABLE_DEVICE_LIBRARY_PATH"
DEVICES_ENV = "TFMON_SIMGPU_DEVICES"
NO_COMPILER = "skipped: no C compiler"
NOT_CPU_TF = (
    "the simulated GPU needs a CPU-only TensorFlow (the tensorflow-cpu wheel): "
    "run these tests with .venv-simgpu (bash scripts/setup-simgpu.sh; scripts/test.sh does both)"
)


class BuildError(RuntimeError):
    pass


def compiler() -> str | None:
    return shutil.which(os.environ.get("CC", "gcc")) or shutil.which("cc")


def cpu_only_tensorflow() -> bool:
    """True when this Python has the tensorflow-cpu wheel and not the CUDA ``tensorflow`` one.

    Read from the installed distributions: importing TensorFlow here would load
    it without the plugin for good.
    """
    names = _distribution_names()
    return "tensorflow-cpu" in names and "tensorflow" not in names


def _distribution_names() -> set[str]:
    return {re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower() for d in importlib.metadata.distributions()}


def skip_reason() -> str | None:
    """Why the simulated-GPU tests cannot run in this Python, or None."""
    if compiler() is None:
        return NO_COMPILER
    if not cpu_only_tensorflow():
        return NOT_CPU_TF
    return None


def _tf_flags(python: str) -> tuple[list[str], list[str], str]:
    code = (
        "import json, tensorflow as tf; "
        "print(json.dumps([tf.sysconfig.get_compile_flags(), tf.sysconfig.get_link_flags(), tf.__version__]))"
    )
    env = {k: v for k, v in os.environ.items() if k != LIBRARY_ENV}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    if done.returncode != 0:
        raise BuildError(f"could not read tf.sysconfig from {python}: {done.stderr.strip()[-500:]}")
    compile_flags, link_flags, version = json.loads(done.stdout.strip().splitlines()[-1])
    # Only the include paths and defines apply to C (the rest, e.g. --std=c++17, is for C++).
    return [f for f in compile_flags if f.startswith(("-I", "-D"))], link_flags, version


def build(python: str = sys.executable) -> Path:
    """The plugin's shared library for ``python``'s TensorFlow (built if not there yet)."""
    cc = compiler()
    if cc is None:
        raise BuildError(NO_COMPILER)
    cflags, ldflags, version = _tf_flags(python)
    key = hashlib.sha256(SOURCE.read_bytes() + json.dumps([cflags, ldflags, version, cc]).encode()).hexdigest()[:12]
    lib = BUILD_DIR / f"libsimgpu-tf{version}-{key}.so"
    if lib.exists():
        return lib
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    tmp = lib.with_suffix(f".{os.getpid()}.tmp")
    rpath = [f"-Wl,-rpath,{f[2:]}" for f in ldflags if f.startswith("-L")]
    cmd = [cc, "-shared", "-fPIC", "-O2", "-std=c11", "-Wall", "-o", str(tmp), str(SOURCE), *cflags, *ldflags, *rpath]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise BuildError(f"{' '.join(cmd)}\n{done.stderr[-2000:]}")
    tmp.replace(lib)  # atomic: a concurrent build never loads half a file
    return lib


def env(library: Path, devices: int = 1, base: dict[str, str] | None = None) -> dict[str, str]:
    """An environment in which ``import tensorflow`` loads the simulated GPU(s)."""
    out = dict(os.environ if base is None else base)
    out[LIBRARY_ENV] = str(library)
    out[DEVICES_ENV] = str(devices)
    return out


def without(base: dict[str, str] | None = None) -> dict[str, str]:
    """The same environment with no simulated GPU: a CPU-only run to compare against."""
    return {k: v for k, v in (os.environ if base is None else base).items() if k != LIBRARY_ENV}
