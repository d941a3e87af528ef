"""pyproject.toml's markers, held against the doctor's compatibility table and PyPI's wheels.

For every (platform, Python) the markers are evaluated with ``packaging`` (as
pip does); the registry facts are tests/fixtures/compat/pypi-wheels.json
(recorded by record_wheels.py beside it: PyPI's JSON API, plus a real
``pip install --dry-run`` per row).
"""

from __future__ import annotations

import re

import pytest
from install_matrix import PLATFORMS, PYTHONS, ROOT, installable, load_wheels, pip_choice, selected
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from tfmon.doctor import Facts, run_checks
from tfmon.doctor.compat import METAL_RELEASES, check_metal_pair, parse_version

GPU = {"tensorflow": "2.19.1", "tensorflow-metal": "1.2.0"}
LINUX = {"tensorflow": "2.21.0"}
RC = {"tensorflow": "2.22.0rc0"}  # pip takes a pre-release when no release has a wheel
NONE = {"tensorflow": None}  # no TensorFlow at all: setup.sh picks another Python or stops

# (platform, Python) -> what `pip install tfmon` installs there. README.md shows the Mac rows.
EXPECTED = {
    **{("macos-arm64", py): GPU for py in ("3.10", "3.11", "3.12")},
    ("macos-arm64", "3.13"): {"tensorflow": "2.21.0"},
    ("macos-arm64", "3.14"): RC,
    **{("macos-x86_64", py): {"tensorflow": "2.16.2"} for py in ("3.10", "3.11", "3.12")},
    ("macos-x86_64", "3.13"): NONE,
    ("macos-x86_64", "3.14"): NONE,
    **{(linux, py): LINUX for linux in ("linux-x86_64", "linux-aarch64") for py in ("3.10", "3.11", "3.12", "3.13")},
    ("linux-x86_64", "3.14"): RC,
    ("linux-aarch64", "3.14"): RC,
}
ROWS = [(platform, python) for platform in PLATFORMS for python in PYTHONS]


@pytest.fixture(scope="module")
def wheels():
    return load_wheels()


def test_every_row_has_an_expectation():
    assert sorted(EXPECTED) == sorted(ROWS)


@pytest.mark.parametrize("platform, python", ROWS)
def test_markers_select_what_the_table_says_and_pip_agrees(wheels, platform, python):
    choice = {dist: str(v) if v else None for dist, v in pip_choice(wheels, platform, python).items()}
    assert choice == EXPECTED[(platform, python)]
    # The same requirements went through a real `pip install --dry-run` for this platform.
    record = wheels["resolved"][f"{platform} {python}"]
    assert record["requirements"] == [f"{d}{s}" for d, s in selected(platform, python).items()], \
        "pyproject.toml changed since the fixture was recorded: rerun record_wheels.py"
    if None in choice.values():
        assert "No matching distribution" in record["error"]
    else:
        assert {d: record["installs"][d] for d in choice} == choice


def mac_facts(python: str, dists: dict[str, str]) -> Facts:
    return Facts(os="Darwin", machine="arm64", python=f"{python}.0", mac_ver="15.1", dists=dists)


@pytest.mark.parametrize("python", [py for (p, py), row in EXPECTED.items() if p == "macos-arm64" and "tensorflow-metal" in row])
def test_mac_gpu_rows_are_pairs_the_doctor_calls_ok(wheels, python):
    chosen = selected("macos-arm64", python)
    metal = installable(wheels, "tensorflow-metal", chosen["tensorflow-metal"], "macos-arm64", python)
    tfs = installable(wheels, "tensorflow", chosen["tensorflow"], "macos-arm64", python)
    assert metal and tfs
    # Every TF the specifier lets pip take (not only today's newest) is ok with every metal it admits.
    for tf in tfs:
        for m in metal:
            assert check_metal_pair(str(tf), str(m)).status == "ok", (tf, m)
    # The whole doctor, on the install pip resolved (Keras included), finds nothing to fix.
    installs = wheels["resolved"][f"macos-arm64 {python}"]["installs"]
    found = run_checks(mac_facts(python, installs))
    assert [f for f in found if f["status"] != "ok"] == []


@pytest.mark.parametrize("python", PYTHONS)
def test_mac_arm64_takes_the_best_gpu_pair_there_is(wheels, python):
    """No (TF, metal) pair with wheels for this Python is ok to the doctor but left out, and
    the chosen TF is the newest that pairs."""
    def released(dist):
        return installable(wheels, dist, SpecifierSet(), "macos-arm64", python)

    ok_pairs = [(tf, m) for tf in released("tensorflow") for m in released("tensorflow-metal")
                if check_metal_pair(str(tf), str(m)).status == "ok"]
    row = EXPECTED[("macos-arm64", python)]
    if "tensorflow-metal" in row:
        assert max(ok_pairs) == (Version(row["tensorflow"]), Version(row["tensorflow-metal"]))
    else:
        assert ok_pairs == []
        found = {f["check"]: f for f in run_checks(mac_facts(python, {"tensorflow": row["tensorflow"]}))}
        assert found["python_for_metal"]["status"] == "fail"
        assert found["python_for_metal"]["message"].startswith(f"Python {python}: Apple has no tensorflow-metal")
        assert "brew install python@3.12" in found["python_for_metal"]["fix"]


def test_doctor_metal_wheel_table_matches_the_registry(wheels):
    """compat.METAL_RELEASES' newest CPython per metal release is what PyPI has (arm64)."""
    newest = {}
    for version, release in wheels["packages"]["tensorflow-metal"].items():
        cps = [int(t.split("-")[0][3:]) for t in release["wheels"] if t.endswith("arm64")]
        mm = parse_version(version)[:2]
        newest[mm] = max(newest.get(mm, 0), *cps)
    for mm, release in METAL_RELEASES.items():
        if release.python_max is not None:
            assert newest[mm] == release.python_max[1], mm
    assert max(newest) == max(METAL_RELEASES)  # no newer Apple release than the doctor knows


def test_community_plugin_is_source_only(wheels):
    """tensorflow-metal-plugin has no wheel (pip builds it with Xcode against the TF already
    installed), so it cannot be a dependency; the doctor and setup.sh point to it instead."""
    plugin = wheels["packages"]["tensorflow-metal-plugin"]
    assert plugin["0.4.1"]["sdist"] and all(not r["wheels"] for r in plugin.values())


def test_readme_mac_table_is_this_table():
    readme = (ROOT / "README.md").read_text()
    rows = dict(re.findall(r"^\| Python (3\.\d+) \| (.+?) \|", readme, re.M))
    assert sorted(rows) == list(PYTHONS)
    for python, text in rows.items():
        row = EXPECTED[("macos-arm64", python)]
        for dist, version in row.items():
            assert f"`{dist} {version}`" in text, (python, text)
