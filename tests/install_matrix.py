"""What ``pip install tfmon`` selects on each (platform, Python), from pyproject.toml's markers.

Shared by tests/unit/test_install_matrix.py and the script that records the
registry facts (tests/fixtures/compat/record_wheels.py), so both evaluate the
markers the same way: with ``packaging``, as pip does.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

if sys.version_info >= (3, 11):
    import tomllib
else:  # the test extra installs tomli there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
WHEELS = ROOT / "tests" / "fixtures" / "compat" / "pypi-wheels.json"

PYTHONS = ("3.10", "3.11", "3.12", "3.13", "3.14")

# pip expands a macOS --platform to older macOS versions but takes a manylinux one as is.
_GLIBC = [f"manylinux_2_{minor}" for minor in range(28, 16, -1)] + ["manylinux2014"]

# platform -> (marker environment, wheel platform tag pattern, pip --platform tags for a dry run:
# macOS 15 on Apple Silicon, macOS 13 on Intel, glibc 2.28 on Linux)
PLATFORMS = {
    "macos-arm64": ({"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "arm64"},
                    r"macosx_\d+_\d+_(arm64|universal2)", ["macosx_15_0_arm64"]),
    "macos-x86_64": ({"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "x86_64"},
                     r"macosx_\d+_\d+_(x86_64|universal2|intel)", ["macosx_13_0_x86_64"]),
    "linux-x86_64": ({"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64"},
                     r"manylinux\w*_x86_64", [f"{g}_x86_64" for g in _GLIBC]),
    "linux-aarch64": ({"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "aarch64"},
                      r"manylinux\w*_aarch64", [f"{g}_aarch64" for g in _GLIBC]),
}

# The distributions that make up "the TensorFlow install" (everything else is tfmon's own UI deps).
TF_DISTS = ("tensorflow", "tensorflow-macos", "tensorflow-cpu")
GPU_DISTS = ("tensorflow-metal", "tensorflow-metal-plugin")


def marker_env(platform: str, python: str) -> dict[str, str]:
    env, _, _ = PLATFORMS[platform]
    return {**env, "os_name": "posix", "python_version": python, "python_full_version": f"{python}.0",
            "implementation_name": "cpython", "platform_python_implementation": "CPython"}


def dependencies(pyproject: Path = ROOT / "pyproject.toml") -> list[Requirement]:
    with open(pyproject, "rb") as f:
        return [Requirement(r) for r in tomllib.load(f)["project"]["dependencies"]]


def selected(platform: str, python: str, reqs: list[Requirement] | None = None) -> dict[str, SpecifierSet]:
    """TensorFlow / Metal distributions the markers select here -> their version specifier."""
    env = marker_env(platform, python)
    out: dict[str, SpecifierSet] = {}
    for req in reqs if reqs is not None else dependencies():
        if req.name in TF_DISTS + GPU_DISTS and (req.marker is None or req.marker.evaluate(env)):
            assert req.name not in out, f"{req.name} selected twice for {platform} {python}"
            out[req.name] = req.specifier
    return out


def load_wheels(path: Path = WHEELS) -> dict:
    return json.loads(path.read_text())


def has_wheel(files: list[str], platform: str, python: str) -> bool:
    """Is one of these wheel tags ("cp312-cp312-macosx_12_0_arm64") installable here?"""
    cp = "cp" + python.replace(".", "")
    plat = PLATFORMS[platform][1]
    for tag in files:
        py, abi, plat_tag = tag.split("-", 2)
        if (py in (cp, "py3") and abi in (cp, "abi3", "none")
                and (plat_tag == "any" or any(re.fullmatch(plat, p) for p in plat_tag.split(".")))):
            return True
    return False


def installable(facts: dict, dist: str, spec: SpecifierSet, platform: str, python: str) -> list[Version]:
    """Versions of ``dist`` that satisfy ``spec`` and have a wheel here, oldest first (pip takes
    the last). As in pip, pre-releases count only when no final release fits."""
    fits = []
    for version, release in facts["packages"].get(dist, {}).items():
        v = Version(version)
        if release["yanked"] or not spec.contains(v, prereleases=True):
            continue
        if release["requires_python"] and not SpecifierSet(release["requires_python"]).contains(python + ".0"):
            continue
        if has_wheel(release["wheels"], platform, python):
            fits.append(v)
    finals = [v for v in fits if not v.is_prerelease]
    return sorted(finals or fits)


def pip_choice(facts: dict, platform: str, python: str) -> dict[str, Version | None]:
    """What pip would install for each selected TF / Metal distribution (None: nothing installable)."""
    out = {}
    for dist, spec in selected(platform, python).items():
        versions = installable(facts, dist, spec, platform, python)
        out[dist] = versions[-1] if versions else None
    return out
