"""tfmon doctor: pure checks over injected facts, and one real run on this machine."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tfmon.doctor import Facts, main, run_checks, runtime_findings
from tfmon.doctor.checks import probe_findings, verdict
from tfmon.doctor.compat import check_metal_pair, parse_version
from tfmon.doctor.probe import MARKER, read_probe_output

SRC = Path(__file__).resolve().parents[2] / "src"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def mac(tf="2.19.0", metal="1.2.0", python="3.12.4", translated=False, machine="arm64", **extra):
    dists = {"tensorflow": tf, "tensorflow-metal": metal, **extra}
    return Facts(os="Darwin", machine=machine, python=python, translated=translated, mac_ver="15.1",
                 dists={k: v for k, v in dists.items() if v is not None})


def by_check(findings):
    return {f["check"]: f for f in findings}


# --- compat rules --------------------------------------------------------------------


def test_parse_version():
    assert parse_version("2.19.0") == (2, 19, 0)
    assert parse_version("2.20.0rc1") == (2, 20, 0)
    assert parse_version("1.2.0+local") == (1, 2, 0)
    assert parse_version("") is None and parse_version("abc") is None


@pytest.mark.parametrize("tf, metal, status, words", [
    ("2.19.0", "1.2.0", "ok", "supported"),
    ("2.18.1", "1.2.0", "ok", "supported"),
    ("2.17.0", "1.1.0", "ok", "supported"),
    ("2.13.0", "1.0.0", "ok", "supported"),
    ("2.20.0", "1.2.0", "fail", "Symbol not found"),  # known: import tensorflow fails
    ("2.21.0", "1.2.0", "fail", "Symbol not found"),
    ("2.18.0", "1.1.0", "fail", "fails to load"),  # known: plugin fails to load
    ("2.16.2", "1.0.0", "fail", "newer TF"),  # plugin older than TF
    ("2.16.2", "1.2.0", "warn", "not a pair in Apple's table"),
])
def test_metal_pairs(tf, metal, status, words):
    result = check_metal_pair(tf, metal)
    assert result.status == status
    assert words in result.message
    if status != "ok":
        assert result.fix


# --- macOS checks with injected facts ----------------------------------------------------


def test_mac_good_pair_all_ok():
    found = run_checks(mac())
    assert {f["status"] for f in found} == {"ok"}
    assert by_check(found)["platform"]["message"] == "macOS 15.1 arm64, Python 3.12.4"


@pytest.mark.parametrize("tf, metal", [("2.20.0", "1.2.0"), ("2.21.0", "1.2.0"), ("2.18.0", "1.1.0")])
def test_mac_broken_pairs_fail(tf, metal):
    found = by_check(run_checks(mac(tf=tf, metal=metal, python="3.11.9")))
    assert found["metal_pair"]["status"] == "fail"
    assert "2.19" in found["metal_pair"]["fix"] or "1.2.0" in found["metal_pair"]["fix"]


def test_mac_rosetta():
    found = by_check(run_checks(mac(translated=True, machine="x86_64")))
    assert found["rosetta"]["status"] == "fail"
    assert "Rosetta" in found["rosetta"]["message"] and "arm64" in found["rosetta"]["fix"]
    assert "(translated by Rosetta)" in found["platform"]["message"]


def test_intel_mac():
    found = by_check(run_checks(mac(machine="x86_64", translated=False)))
    assert found["rosetta"]["status"] == "fail" and "arm64 wheels only" in found["rosetta"]["message"]


def test_tensorflow_and_tensorflow_macos_at_different_versions():
    found = by_check(run_checks(mac(tf="2.19.0", **{"tensorflow-macos": "2.15.0"})))
    assert found["tensorflow_macos"]["status"] == "fail"
    assert "tensorflow 2.19.0 and tensorflow-macos 2.15.0" in found["tensorflow_macos"]["message"]
    assert "pip uninstall -y tensorflow tensorflow-macos" in found["tensorflow_macos"]["fix"]


def test_tensorflow_macos_shim_next_to_its_tensorflow_is_fine():
    # tensorflow-macos 2.16.2 is a shim that pulls tensorflow==2.16.2: same version, one package.
    facts = mac(tf="2.16.2", metal="1.1.0", python="3.11.9", **{"tensorflow-macos": "2.16.2"})
    found = by_check(run_checks(facts))
    assert found["tensorflow_macos"]["status"] == "ok"
    assert found["metal_pair"]["status"] == "ok"  # 2.16 + metal 1.1 is in Apple's table
    alone = by_check(run_checks(mac(tf=None, metal="0.8.0", python="3.11.9", **{"tensorflow-macos": "2.12.0"})))
    assert alone["tensorflow_macos"]["status"] == "ok"
    assert alone["tensorflow"]["message"] == "tensorflow-macos 2.12.0"
    assert alone["metal_pair"]["status"] == "ok"


def test_metal_missing():
    found = by_check(run_checks(mac(metal=None)))
    assert found["tensorflow_metal"]["status"] == "fail"
    assert "pip install 'tensorflow-metal==1.2.0'" in found["tensorflow_metal"]["fix"]
    assert "metal_pair" not in found


def test_python_too_new_for_metal_wheels():
    found = by_check(run_checks(mac(metal=None, python="3.13.1")))
    assert found["python_for_metal"]["status"] == "fail"
    assert "cp312" in found["python_for_metal"]["message"]
    found = by_check(run_checks(mac(metal="1.1.0", tf="2.17.0", python="3.12.1")))
    assert found["python_for_metal"]["status"] == "fail"  # 0.8-1.1 stop at cp311


def test_python_313_is_told_what_it_loses_and_the_two_ways_out():
    found = by_check(run_checks(mac(tf="2.21.0", metal=None, python="3.13.1")))
    speaks = found["python_for_metal"]
    assert speaks["status"] == "fail"
    assert speaks["message"].startswith("Python 3.13: Apple has no tensorflow-metal for it")
    assert "brew install python@3.12" in speaks["fix"]
    assert "pip install 'tensorflow==2.21.*' && pip install tensorflow-metal-plugin" in speaks["fix"]
    # The missing plugin is a consequence: said, but without a second (wrong) pip fix.
    assert found["tensorflow_metal"]["status"] == "fail" and found["tensorflow_metal"]["fix"] == ""
    # 3.14 has no TF 2.21 wheel, so the community plugin is no way out there; its TF is an rc.
    found = by_check(run_checks(mac(tf="2.22.0rc0", metal=None, python="3.14.0")))
    assert found["python_for_metal"]["message"].startswith("Python 3.14: Apple has no tensorflow-metal")
    assert "brew install python@3.12" in found["python_for_metal"]["fix"]
    assert "tensorflow-metal-plugin" not in found["python_for_metal"]["fix"]
    assert found["tensorflow"]["status"] == "warn" and "pre-release" in found["tensorflow"]["message"]


def plugin_mac(tf="2.21.0", plugin="0.4.1", pin="==2.21.*", library=True, **kw):
    base = dict(os="Darwin", machine="arm64", python="3.13.1", mac_ver="15.1",
                dists={"tensorflow": tf, "tensorflow-metal-plugin": plugin}, plugin_tf_pin=pin,
                plugin_library={"tensorflow-metal-plugin": library})
    base.update(kw)
    return Facts(**base)


def test_community_plugin_is_recognised_and_its_pair_judged():
    found = by_check(run_checks(plugin_mac()))
    assert found["tensorflow_metal"]["status"] == "ok" and "community" in found["tensorflow_metal"]["message"]
    assert found["python_for_metal"]["status"] == "ok"
    assert found["metal_pair"]["status"] == "ok"
    # Known under TF 2.20/2.21: its optimizer kernels cannot register (fixed in TF 2.22).
    assert found["plugin_optimizers"]["status"] == "warn" and "#126374" in found["plugin_optimizers"]["message"]
    # It loads into the one TF minor it was built for, nothing else.
    found = by_check(run_checks(plugin_mac(tf="2.20.0")))
    assert found["metal_pair"]["status"] == "fail"
    assert "built for TF 2.21 only" in found["metal_pair"]["message"]
    assert "pip install 'tensorflow==2.21.*'" in found["metal_pair"]["fix"]
    assert "plugin_optimizers" not in found
    # 0.1-0.2 pinned no TF ("tensorflow>=2.16"): said, not trusted.
    found = by_check(run_checks(plugin_mac(plugin="0.2.0", pin=">=2.16")))
    assert found["metal_pair"]["status"] == "warn" and "pins no TensorFlow" in found["metal_pair"]["message"]


def test_community_plugin_needs_macos_15():
    found = by_check(run_checks(plugin_mac(mac_ver="14.6.1")))
    assert found["plugin_macos"]["status"] == "fail" and "macOS 15" in found["plugin_macos"]["message"]


def test_apple_and_community_metal_packages_share_one_file():
    both = plugin_mac(dists={"tensorflow": "2.19.1", "tensorflow-metal": "1.2.0", "tensorflow-metal-plugin": "0.4.1"},
                      python="3.12.4")
    found = by_check(run_checks(both))
    assert found["tensorflow_metal"]["status"] == "fail"
    assert "tensorflow-plugins/libmetal_plugin.dylib" in found["tensorflow_metal"]["message"]
    assert "pip uninstall -y tensorflow-metal tensorflow-metal-plugin" in found["tensorflow_metal"]["fix"]
    # After uninstalling one of them, the other's library is gone.
    found = by_check(run_checks(plugin_mac(library=False)))
    assert found["tensorflow_metal"]["status"] == "fail" and "is gone" in found["tensorflow_metal"]["message"]
    assert "--force-reinstall" in found["tensorflow_metal"]["fix"]


def test_keras_3_on_tf_2_16_with_metal_1_1_is_flagged():
    # tensorflow/tensorflow#63854: the pair is in Apple's table, but Keras 3 training does not use the GPU.
    facts = mac(tf="2.16.2", metal="1.1.0", python="3.11.9", keras="3.15.1", **{"tensorflow-macos": "2.16.2"})
    found = by_check(run_checks(facts))
    assert found["metal_pair"]["status"] == "ok"
    assert found["keras_on_metal"]["status"] == "warn" and "#63854" in found["keras_on_metal"]["message"]
    assert "TF_USE_LEGACY_KERAS=1" in found["keras_on_metal"]["fix"]
    legacy = Facts(**{**facts.__dict__, "legacy_keras": True})
    assert "keras_on_metal" not in by_check(run_checks(legacy))
    assert "keras_on_metal" not in by_check(run_checks(mac(keras="3.15.1")))  # TF 2.19 + metal 1.2


def test_gather_facts_reads_the_metal_packages_as_installed(tmp_path, monkeypatch):
    """Both packages laid out as pip installs them: Apple's RECORD is the real one from the
    tensorflow-metal 1.2.0 wheel, the plugin's metadata the real 0.4.1 PKG-INFO; its RECORD is
    constructed from its setup.py (packages=["tensorflow-plugins"], the dylib beside)."""
    from tfmon.doctor import gather_facts

    site = tmp_path / "site-packages"
    (site / "tensorflow-plugins").mkdir(parents=True)
    (site / "tensorflow-plugins" / "libmetal_plugin.dylib").write_bytes(b"\xcf\xfa\xed\xfe")
    plugin = site / "tensorflow_metal_plugin-0.4.1.dist-info"
    plugin.mkdir()
    (plugin / "METADATA").write_text((FIXTURES / "compat" / "tensorflow-metal-plugin-0.4.1.PKG-INFO.txt").read_text())
    (plugin / "RECORD").write_text("tensorflow-plugins/__init__.py,,\ntensorflow-plugins/libmetal_plugin.dylib,,\n"
                                   "tensorflow_metal_plugin-0.4.1.dist-info/RECORD,,\n")
    monkeypatch.syspath_prepend(str(site))
    facts = gather_facts()
    assert facts.version("tensorflow-metal-plugin") == "0.4.1"
    assert facts.plugin_tf_pin == "==2.21.*"
    assert facts.plugin_library == {"tensorflow-metal-plugin": True}
    apple = site / "tensorflow_metal-1.2.0.dist-info"
    apple.mkdir()
    (apple / "METADATA").write_text((FIXTURES / "compat" / "tensorflow-metal-1.2.0.METADATA.txt").read_text())
    (apple / "RECORD").write_text((FIXTURES / "compat" / "tensorflow-metal-1.2.0.RECORD.txt").read_text())
    (site / "tensorflow-plugins" / "libmetal_plugin.dylib").unlink()  # `pip uninstall` of either one
    facts = gather_facts()
    assert facts.version("tensorflow-metal") == "1.2.0"
    assert facts.plugin_library == {"tensorflow-metal": False, "tensorflow-metal-plugin": False}


def test_no_gpu_banner_speaks_to_the_python_in_use():
    from tfmon.placement.state import PlacementState
    from tfmon.ui.fallback_pane import banner_text

    state = PlacementState()
    state.apply({"type": "environment", "t": 0.0,
                 "findings": runtime_findings(mac(tf="2.21.0", metal=None, python="3.13.1"))})
    text = banner_text(state).plain
    assert text.startswith("No GPU visible: TensorFlow runs on the CPU.")
    assert "Python 3.13: Apple has no tensorflow-metal for it" in text
    assert text.count("brew install python@3.12") == 1 and text.count("fix:") == 1


# --- Linux / Windows checks with injected facts ----------------------------------------


def linux(**kw):
    base = dict(os="Linux", machine="x86_64", python="3.11.9", dists={"tensorflow": "2.21.0"},
                tf_build={"is_cuda_build": True, "cuda_version": "12.5.1"})
    base.update(kw)
    return Facts(**base)


def test_linux_cpu_only_build():
    found = by_check(run_checks(linux(dists={"tensorflow-cpu": "2.21.0"}, tf_build=None)))
    assert found["tf_build"]["status"] == "fail" and "CPU-only" in found["tf_build"]["message"]
    found = by_check(run_checks(linux(tf_build={"is_cuda_build": False})))
    assert found["tf_build"]["status"] == "fail"


def test_linux_gpu_machine_all_ok():
    found = run_checks(linux(nvidia_driver="NVRM version: 550.54", nvidia_devices=1,
                             dists={"tensorflow": "2.21.0", "nvidia-cudnn-cu12": "9.3", "nvidia-cublas-cu12": "12.5"}))
    assert {f["status"] for f in found} == {"ok"}


def test_linux_cuda_visible_devices_hides_gpus():
    found = by_check(run_checks(linux(nvidia_driver="x", nvidia_devices=1, cuda_visible_devices="")))
    assert found["cuda_visible_devices"]["status"] == "fail"


def test_windows_native_has_no_gpu():
    found = by_check(run_checks(Facts(os="Windows", machine="AMD64", python="3.11.9", dists={"tensorflow": "2.16.1"})))
    assert found["windows_gpu"]["status"] == "fail" and "WSL2" in found["windows_gpu"]["fix"]


# --- probe output read back through the placement parser ---------------------------------


def test_probe_output_from_a_metal_capture_means_gpu_used():
    # Constructed from the real Metal capture plus the probe's JSON marker line.
    log = (FIXTURES / "tf-logs" / "metal-tf2.12-glog-placement.log").read_text()
    info = {"tf_version": "2.12.0", "physical": [["/physical_device:CPU:0", "CPU"], ["/physical_device:GPU:0", "GPU"]]}
    result = read_probe_output(MARKER + json.dumps(info) + "\n", log, 0)
    assert result["ok"] and result["placed"] == {"MatMul": ["GPU:0"]}
    assert result["devices"]["accelerator"] == "Apple M1 Max"
    out = io.StringIO()
    assert main([], facts=mac(), probe=lambda: result, out=out) == 0
    assert "verdict: GPU used" in out.getvalue()


def test_probe_that_cannot_import_tensorflow():
    stderr = (FIXTURES / "tf-logs" / "metal-errors.log").read_text()
    result = read_probe_output("", stderr, 1)
    assert not result["ok"] and "exit code 1" in result["error"]
    found = by_check(probe_findings(result))
    assert found["tf_import"]["status"] == "fail"
    assert "tensorflow 2.18.x" in found["tf_import"]["fix"]  # the metal_plugin_load_failed advice
    used, line = verdict(run_checks(mac(tf="2.21.0")) + probe_findings(result), result)
    assert not used and "Symbol not found" in line


# --- this machine, for real ------------------------------------------------------------


@pytest.fixture(scope="module")
def doctor_json():
    out = io.StringIO()
    code = main(["--json"], out=out)  # real facts, real subprocess probe
    return code, json.loads(out.getvalue())


def test_doctor_here_says_no_gpu_and_exits_1(doctor_json):
    code, report = doctor_json
    assert code == 1 and report["exit_code"] == 1 and report["gpu_used"] is False
    found = by_check(report["findings"])
    assert found["nvidia_driver"]["status"] == "fail"
    assert "no GPU is present" in found["nvidia_driver"]["message"]
    assert found["gpu_devices"]["status"] == "fail"
    assert report["probe"]["placed"] == {"MatMul": ["CPU:0"], "Conv2D": ["CPU:0"]}
    assert found["placement"]["status"] == "fail"
    assert "no GPU is present" in report["verdict"]


def test_doctor_text_output_one_line_per_check(doctor_json):
    _, report = doctor_json
    out = io.StringIO()
    code = main([], probe=lambda: report["probe"], out=out)
    lines = out.getvalue().splitlines()
    assert code == 1
    checks = [l for l in lines if l[:4] in ("ok  ", "warn", "FAIL")]
    assert len(checks) == len(report["findings"])
    assert any(l.startswith("FAIL  nvidia_driver") and "-> fix:" in l for l in checks)
    assert lines[-1].startswith("verdict: GPU not used")


def test_runtime_findings_are_cheap_and_import_no_tensorflow():
    code = ("import sys, json; from tfmon.doctor import runtime_findings; "
            "f = runtime_findings(); print(json.dumps([f, 'tensorflow' in sys.modules]))")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    findings, imported = json.loads(proc.stdout)
    assert imported is False
    found = by_check(findings)
    assert found["platform"]["message"].startswith("Linux")
    assert found["nvidia_driver"]["status"] == "fail"
    assert found["tf_build"]["message"].startswith("TensorFlow is a CUDA")  # read from build_info.py
    assert by_check(runtime_findings())["nvidia_driver"]["status"] == "fail"


def test_metal_table_matches_apples_metadata():
    # Apple's table from the tensorflow-metal 1.2.0 wheel (tests/fixtures/compat).
    from tfmon.doctor.compat import METAL_RELEASES

    text = (FIXTURES / "compat" / "tensorflow-metal-1.2.0.METADATA.txt").read_text()
    rows = [line.strip("|").split("|") for line in text.splitlines() if line.startswith("|v")]
    assert len(rows) == 11
    for tf_cell, metal_cell, *_ in rows[:-1]:  # the last row describes 1.2.0 (see compat.py)
        tf_span = [parse_version(v)[:2] for v in tf_cell.strip().lstrip("v").split("-v")]
        metal = parse_version(metal_cell.strip().lstrip("v"))[:2]
        release = METAL_RELEASES[metal]
        assert release.tf_min == tf_span[0]
        if metal == (1, 1):
            # Apple says v2.14-v2.18, but TF 2.18 + metal 1.1.0 fails to load the plugin.
            assert tf_span[-1] == (2, 18) and release.tf_max == (2, 17)
        else:
            assert release.tf_max == tf_span[-1]
    assert "Fixes compatibility with 2.18+" in rows[-1][3]
    assert METAL_RELEASES[(1, 2)].tf_min == (2, 18)


# --- a GPU from a PluggableDevice plugin that is not Metal (tests/simgpu) -------------------


def test_gpu_plugins_are_found_where_tensorflow_looks(tmp_path):
    site = tmp_path / "site-packages"
    (site / "tensorflow-plugins").mkdir(parents=True)
    (site / "tensorflow-plugins" / "libmetal_plugin.dylib").write_bytes(b"")
    (site / "tensorflow-plugins" / "README.txt").write_text("not a library")
    named = tmp_path / "libsimgpu.so"
    named.write_bytes(b"")
    from tfmon.doctor.facts import find_gpu_plugins

    got = find_gpu_plugins([str(site)], {"TF_PLUGGABLE_DEVICE_LIBRARY_PATH": str(named)})
    assert got == (str(site / "tensorflow-plugins" / "libmetal_plugin.dylib"), str(named))
    assert find_gpu_plugins([str(tmp_path / "elsewhere")], {}) == ()


def test_a_cpu_only_build_with_a_gpu_plugin_is_not_a_failure_on_linux():
    facts = linux(dists={"tensorflow-cpu": "2.21.0"}, tf_build={"is_cuda_build": False},
                  gpu_plugins=("/x/libsimgpu.so",))
    found = by_check(run_checks(facts))
    assert found["gpu_plugins"]["status"] == "ok" and "/x/libsimgpu.so" in found["gpu_plugins"]["message"]
    assert found["tf_build"]["status"] == "ok" and found["nvidia_driver"]["status"] == "ok"
    assert not [f for f in found.values() if f["status"] == "fail"]
