"""scripts/choose_python.sh, the choice behind scripts/setup.sh, run for real on fake Pythons.

Each fake ``python3.x`` on a PATH of its own is a shell script that answers the
chooser's one question ("3.13 darwin arm64") the way that Python would, so
macOS and Linux machines with any set of Pythons can be played here.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from install_matrix import PYTHONS, ROOT, load_wheels, pip_choice
from packaging.version import Version

CHOOSER = ROOT / "scripts" / "choose_python.sh"
MAC, LINUX = "darwin arm64", "linux x86_64"


def choose(tmp_path, pythons: dict[str, str], **env) -> subprocess.CompletedProcess:
    """Run the chooser with only these executables on PATH: name -> "3.13 darwin arm64"."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, answer in pythons.items():
        exe = bin_dir / name
        exe.write_text(f"#!/bin/sh\necho '{answer}'\n")
        exe.chmod(0o755)
    return subprocess.run(["/bin/bash", str(CHOOSER)], capture_output=True, text=True, timeout=30,
                          env={"PATH": str(bin_dir), **env})


def test_mac_python3_that_can_use_the_gpu_is_used_silently(tmp_path):
    done = choose(tmp_path, {"python3": f"3.12 {MAC}", "python3.11": f"3.11 {MAC}"})
    assert (done.returncode, done.stdout, done.stderr) == (0, "python3\n", "")


def test_mac_python3_13_gives_way_to_python3_12_in_one_line(tmp_path):
    done = choose(tmp_path, {"python3": f"3.13 {MAC}", "python3.13": f"3.13 {MAC}", "python3.12": f"3.12 {MAC}",
                             "python3.11": f"3.11 {MAC}"})
    assert done.returncode == 0 and done.stdout == "python3.12\n"
    assert done.stderr.count("\n") == 1
    assert "python3 is Python 3.13; using python3.12" in done.stderr and "GPU" in done.stderr


def test_mac_python3_13_alone_installs_and_says_once_what_it_costs(tmp_path):
    done = choose(tmp_path, {"python3": f"3.13 {MAC}"})
    assert done.returncode == 0 and done.stdout == "python3\n"
    assert done.stderr.count("\n") == 1
    assert "Python 3.13 has no tensorflow-metal" in done.stderr and "CPU only" in done.stderr
    assert "brew install python@3.12 && rm -rf .venv && bash scripts/setup.sh" in done.stderr


def test_mac_system_python_3_9_is_passed_over(tmp_path):
    # /usr/bin/python3 from the Command Line Tools is 3.9: too old for tfmon.
    done = choose(tmp_path, {"python3": f"3.9 {MAC}", "python3.13": f"3.13 {MAC}", "python3.11": f"3.11 {MAC}"})
    assert done.stdout == "python3.11\n" and "python3 is Python 3.9; using python3.11" in done.stderr


def test_mac_rosetta_python3_gives_way_to_a_native_one(tmp_path):
    done = choose(tmp_path, {"python3": "3.12 darwin x86_64", "python3.12": f"3.12 {MAC}"})
    assert done.stdout == "python3.12\n" and "GPU" in done.stderr


def test_linux_python_3_14_gives_way_to_3_13(tmp_path):
    done = choose(tmp_path, {"python3": f"3.14 {LINUX}", "python3.13": f"3.13 {LINUX}", "python3.12": f"3.12 {LINUX}"})
    assert done.returncode == 0 and done.stdout == "python3.13\n"
    assert "python3 is Python 3.14; using python3.13" in done.stderr and "released TensorFlow" in done.stderr


@pytest.mark.parametrize("where", [LINUX, MAC, "darwin x86_64"])
def test_no_python_with_a_released_tensorflow_stops_in_one_clear_line(tmp_path, where):
    done = choose(tmp_path, {"python3": f"3.14 {where}"})
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("setup: no Python here has a released TensorFlow")
    assert "python3: 3.14" in done.stderr and "PYTHON=" in done.stderr


def test_no_python3_at_all(tmp_path):
    done = choose(tmp_path, {})
    assert done.returncode == 1 and "python3: none" in done.stderr


def test_python_override_wins_and_is_still_explained(tmp_path):
    done = choose(tmp_path, {"python3": f"3.12 {MAC}", "mine": f"3.13 {MAC}"}, PYTHON="mine")
    assert done.returncode == 0 and done.stdout == "mine\n"
    assert "Python 3.13 has no tensorflow-metal" in done.stderr
    done = choose(tmp_path, {"mine": f"3.14 {LINUX}"}, PYTHON="mine")
    assert done.stdout == "mine\n" and "no released TensorFlow" in done.stderr
    done = choose(tmp_path, {}, PYTHON="/nonexistent/python")
    assert done.returncode == 1 and done.stderr == "setup: PYTHON=/nonexistent/python does not run\n"


def test_a_real_python_answers_the_choosers_question():
    # The question the fakes answer, asked of this machine's real Python (Linux x86_64, 3.11).
    done = subprocess.run(["/bin/bash", str(CHOOSER)], capture_output=True, text=True, timeout=30,
                          env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable})
    assert done.returncode == 0 and done.stdout.strip() == sys.executable and done.stderr == ""


def shell_list(name: str) -> list[str]:
    return re.search(rf'^{name}="([^"]*)"', CHOOSER.read_text(), re.M).group(1).split()


def test_the_choosers_lists_are_the_registry_facts():
    wheels = load_wheels()

    def pythons(platform, want):
        out = []
        for py in PYTHONS:
            choice = pip_choice(wheels, platform, py)
            tf = next(v for d, v in choice.items() if d.startswith("tensorflow") and d != "tensorflow-metal")
            if want(choice, tf):
                out.append(py)
        return sorted(out, key=Version, reverse=True)

    released = lambda choice, tf: tf is not None and not tf.is_prerelease  # noqa: E731
    assert shell_list("MAC_GPU") == pythons("macos-arm64", lambda c, tf: released(c, tf) and c.get("tensorflow-metal"))
    assert shell_list("MAC_CPU") == pythons("macos-arm64", lambda c, tf: released(c, tf) and not c.get("tensorflow-metal"))
    assert shell_list("MAC_INTEL") == pythons("macos-x86_64", released)
    assert shell_list("LINUX") == pythons("linux-x86_64", released) == pythons("linux-aarch64", released)
