"""Fixtures for the simulated-GPU tests (tests/simgpu/README.md).

Every test in this folder is skipped, with the reason, where the plugin cannot
run: no C compiler, or a TensorFlow that is not the CPU-only wheel (the main
.venv's CUDA build). scripts/test.sh runs them with .venv-simgpu.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from conftest import tfmon_env
from simgpu import plugin

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    reason = plugin.skip_reason()
    if reason is None:
        return
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def simgpu_library() -> Path:
    """The plugin's shared library, built for this Python's TensorFlow (once per source change)."""
    return plugin.build(sys.executable)


@pytest.fixture(scope="session")
def simgpu_env(simgpu_library):
    """``simgpu_env(devices=1)``: an environment for a ``tfmon``/``python`` subprocess
    that sees that many simulated GPUs (tfmon from this checkout's src)."""

    def make(devices: int = 1, **extra: str) -> dict[str, str]:
        return plugin.env(simgpu_library, devices, base=tfmon_env(**extra))

    return make
