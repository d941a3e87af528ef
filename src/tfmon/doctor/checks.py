"""The doctor's checks: pure functions from injected facts to findings.

A finding is ``{"check", "status": "ok"|"warn"|"fail", "message", "fix"}``.
"GPU available" is not "GPU used": these checks explain why no GPU is visible;
``probe_findings`` then says where a real matmul and conv actually ran.
"""

from __future__ import annotations

import re

from tfmon.doctor import compat
from tfmon.doctor.facts import Facts

OK, WARN, FAIL = "ok", "warn", "fail"


def finding(check: str, status: str, message: str, fix: str = "") -> dict:
    return {"check": check, "status": status, "message": message, "fix": fix}


def run_checks(facts: Facts) -> list[dict]:
    """Every platform check (no TensorFlow import, no subprocess)."""
    found = [check_platform(facts), check_tensorflow(facts)]
    if facts.gpu_plugins:
        found.append(check_gpu_plugins(facts))
    if facts.os == "Darwin":
        found += mac_checks(facts)
    elif facts.os == "Linux":
        found += linux_checks(facts)
    elif facts.os == "Windows":
        found += windows_checks(facts)
    return found


def effective_tf_version(facts: Facts) -> str | None:
    for dist in ("tensorflow", "tensorflow-macos", "tensorflow-cpu", "tensorflow-intel", "tf-nightly"):
        if facts.version(dist):
            return facts.version(dist)
    return None


def check_platform(facts: Facts) -> dict:
    where = f"{facts.os} {facts.machine}"
    if facts.mac_ver:
        where = f"macOS {facts.mac_ver} {facts.machine}"
    if facts.translated:
        where += " (translated by Rosetta)"
    return finding("platform", OK, f"{where}, Python {facts.python}")


def check_tensorflow(facts: Facts) -> dict:
    version = effective_tf_version(facts)
    if version is None:
        return finding("tensorflow", FAIL, "TensorFlow is not installed in this Python",
                       "pip install tensorflow")
    names = [d for d in ("tensorflow", "tensorflow-macos", "tensorflow-cpu") if facts.version(d)]
    listed = ", ".join(f"{d} {facts.version(d)}" for d in names) or f"tensorflow {version}"
    if re.search(r"\d(rc|a|b|\.dev)\d*", version):
        # pip takes a pre-release when no release has a wheel for this Python (3.14 in 2026)
        return finding("tensorflow", WARN,
                       f"{listed}: a pre-release; no released TensorFlow has a wheel for Python {_py(facts)}",
                       "use Python 3.10-3.13 (3.10-3.12 on a Mac for the GPU) for a released TensorFlow")
    return finding("tensorflow", OK, listed)


def check_gpu_plugins(facts: Facts) -> dict:
    """Which PluggableDevice libraries TensorFlow will load (Metal's, or any other plugin)."""
    return finding("gpu_plugins", OK, "GPU plugin librar" + ("y" if len(facts.gpu_plugins) == 1 else "ies")
                   + " TensorFlow loads at import: " + ", ".join(facts.gpu_plugins))


# --- macOS -----------------------------------------------------------------


def mac_checks(facts: Facts) -> list[dict]:
    out = [check_rosetta(facts)]
    both = check_tensorflow_macos(facts)
    if both is not None:
        out.append(both)
    out.append(check_python_for_metal(facts))
    out += check_metal_plugins(facts)
    keras = check_keras_on_metal(facts)
    if keras is not None:
        out.append(keras)
    return out


def _py(facts: Facts) -> str:
    return "{}.{}".format(*facts.python_tuple)


def gpu_python_fix(facts: Facts) -> str:
    """What gives this Python's user the GPU: an older Python, or the community plugin."""
    newest = compat.metal_python_max(None)
    version = f"{newest[0]}.{newest[1]}"
    fix = f"use Python {version} (`brew install python@{version}`): recreate the venv with it and reinstall"
    if facts.python_tuple <= compat.PLUGIN_TF_PYTHON_MAX:
        fix += (f"; or, on macOS 15+ with Xcode, the community {compat.COMMUNITY_PLUGIN} "
                f"(alpha, TF 2.21 only): {compat.PLUGIN_INSTALL}")
    return fix


def check_metal_plugins(facts: Facts) -> list[dict]:
    """Apple's tensorflow-metal, the community tensorflow-metal-plugin, or neither; and the pair."""
    apple, community = facts.version("tensorflow-metal"), facts.version(compat.COMMUNITY_PLUGIN)
    tf = effective_tf_version(facts)
    if apple and community:
        return [finding(
            "tensorflow_metal", FAIL,
            f"tensorflow-metal {apple} (Apple) and {compat.COMMUNITY_PLUGIN} {community} are both "
            f"installed: both write {compat.PLUGIN_LIBRARY}, so the one installed last replaced "
            "the other, and uninstalling either deletes the library",
            f"pip uninstall -y tensorflow-metal {compat.COMMUNITY_PLUGIN}, then install one of them",
        )]
    if not apple and not community:
        newest = compat.metal_python_max(None)
        if newest is not None and facts.python_tuple > newest:
            # check_python_for_metal already says why and what to do.
            return [finding("tensorflow_metal", FAIL,
                            f"no Metal plugin is installed (Apple's has no wheel for Python {_py(facts)})")]
        fix = f"pip install 'tensorflow-metal=={compat.RECOMMENDED_METAL}' (with tensorflow {compat.RECOMMENDED_TF}.x)"
        return [finding("tensorflow_metal", FAIL,
                        "tensorflow-metal is not installed: TensorFlow on macOS sees no GPU without it", fix)]
    name, version = ("tensorflow-metal", apple) if apple else (compat.COMMUNITY_PLUGIN, community)
    if facts.plugin_library.get(name) is False:
        return [finding(
            "tensorflow_metal", FAIL,
            f"{name} {version} is installed but its {compat.PLUGIN_LIBRARY} is gone (uninstalling "
            "the other Metal package deletes it: they share the file), so TensorFlow sees no GPU",
            f"pip install --force-reinstall --no-deps {name}=={version}",
        )]
    out = [finding("tensorflow_metal", OK, f"{name} {version}" + ("" if apple else " (community build, not Apple's)"))]
    if tf is None:
        return out
    if apple:
        verdict = compat.check_metal_pair(tf, apple)
        return out + [finding("metal_pair", verdict.status, verdict.message, verdict.fix)]
    return out + community_plugin_findings(facts, tf, community)


def community_plugin_findings(facts: Facts, tf: str, plugin: str) -> list[dict]:
    """The community plugin's pair (the one TF minor it is built for), its macOS floor, and
    what TF 2.20/2.21 cannot give it."""
    verdict = compat.check_plugin_pair(tf, plugin, facts.plugin_tf_pin)
    out = [finding("metal_pair", verdict.status, verdict.message, verdict.fix)]
    mac = compat.parse_version(facts.mac_ver)
    if mac is not None and mac[:2] < compat.PLUGIN_MACOS_MIN:
        out.append(finding(
            "plugin_macos", FAIL,
            f"macOS {facts.mac_ver}: {compat.COMMUNITY_PLUGIN} needs macOS 15 or later (dyld "
            "declines to load it), so TensorFlow runs on the CPU",
            f"update macOS, or use Python 3.12 with Apple's tensorflow-metal {compat.RECOMMENDED_METAL}",
        ))
    tf_v = compat.parse_version(tf)
    if verdict.status == OK and tf_v is not None and tf_v[:2] < compat.PLUGIN_TF_FIXED:
        out.append(finding(
            "plugin_optimizers", WARN,
            f"{compat.COMMUNITY_PLUGIN} under TF {tf_v[0]}.{tf_v[1]}: optimizer updates "
            "(ResourceApplyAdam, ...) have no Metal kernel until TF 2.22 (tensorflow/tensorflow#126374), "
            "so they run on the CPU and every Metal kernel waits for the GPU (the plugin's own "
            "benchmark: a CNN training step 1.1x the CPU)",
            "for GPU training today use Python 3.12 with tensorflow 2.19 + tensorflow-metal 1.2.0",
        ))
    return out


def check_keras_on_metal(facts: Facts) -> dict | None:
    """TF 2.16/2.17 + tensorflow-metal 1.1 under Keras 3: reported not to use the GPU."""
    tf, metal = compat.parse_version(effective_tf_version(facts)), compat.parse_version(facts.version("tensorflow-metal"))
    keras = compat.parse_version(facts.version("keras"))
    if tf is None or metal is None or keras is None or facts.legacy_keras:
        return None
    if (2, 16) <= tf[:2] <= (2, 17) and keras[0] >= 3:
        return finding(
            "keras_on_metal", WARN,
            f"TF {tf[0]}.{tf[1]} with Keras {facts.version('keras')} and tensorflow-metal "
            f"{facts.version('tensorflow-metal')}: Keras 3 training on this pair is reported not to "
            "use the GPU (tensorflow/tensorflow#63854)",
            f"{compat.RECOMMENDED_FIX}; or keep TF {tf[0]}.{tf[1]} with Keras 2: "
            f"pip install 'tf-keras~={tf[0]}.{tf[1]}.0' and set TF_USE_LEGACY_KERAS=1",
        )
    return None


def check_rosetta(facts: Facts) -> dict:
    if facts.translated:
        return finding(
            "rosetta", FAIL,
            "Python runs as x86_64 under Rosetta on an arm64 Mac: tensorflow-metal has "
            "arm64 wheels only, so TensorFlow runs on the CPU, emulated",
            "install an arm64 Python (python.org universal2, Homebrew in /opt/homebrew, or "
            "Miniforge arm64), check `python -c \"import platform; print(platform.machine())\"` "
            "prints arm64, and recreate the virtualenv",
        )
    if facts.machine != "arm64":
        return finding(
            "rosetta", FAIL,
            f"this Mac runs {facts.machine}: tensorflow-metal ships arm64 wheels only",
            "use an Apple Silicon Mac for Metal; TensorFlow runs on the CPU here",
        )
    return finding("rosetta", OK, "native arm64 Python")


def check_tensorflow_macos(facts: Facts) -> dict | None:
    tf, tf_macos = facts.version("tensorflow"), facts.version("tensorflow-macos")
    if tf_macos is None:
        return None
    if tf is not None and compat.parse_version(tf) != compat.parse_version(tf_macos):
        return finding(
            "tensorflow_macos", FAIL,
            f"tensorflow {tf} and tensorflow-macos {tf_macos} are both installed: they "
            "write the same package directory, so whichever was installed last wins, "
            "half-overwritten",
            f"pip uninstall -y tensorflow tensorflow-macos && {compat.RECOMMENDED_FIX}",
        )
    # Alone (before 2.16) or as the 2.16.2 shim next to tensorflow 2.16.2: consistent.
    return finding(
        "tensorflow_macos", OK,
        f"tensorflow-macos {tf_macos} (Apple's build; it ends at 2.16.2, a shim for tensorflow==2.16.2)",
    )


def check_python_for_metal(facts: Facts) -> dict:
    metal, community = facts.version("tensorflow-metal"), facts.version(compat.COMMUNITY_PLUGIN)
    py = facts.python_tuple
    if community and not metal and py >= compat.PYTHON_MIN_FOR_PLUGIN:
        return finding("python_for_metal", OK,
                       f"Python {facts.python} with the community {compat.COMMUNITY_PLUGIN} (built from source)")
    newest = compat.metal_python_max(metal)
    if newest is not None and py > newest:
        if metal:  # an old metal release on a newer Python than its wheels
            return finding(
                "python_for_metal", FAIL,
                f"Python {facts.python} has no tensorflow-metal {metal} wheel (wheels go up to "
                f"cp{newest[0]}{newest[1]})",
                f"create the venv with Python {newest[0]}.{newest[1]}, then {compat.RECOMMENDED_FIX}",
            )
        return finding(
            "python_for_metal", FAIL,
            f"Python {_py(facts)}: Apple has no tensorflow-metal for it (its wheels stop at "
            f"cp{newest[0]}{newest[1]}), so TensorFlow runs on the CPU",
            gpu_python_fix(facts),
        )
    if py < compat.PYTHON_MIN_FOR_METAL:
        return finding("python_for_metal", FAIL,
                       f"Python {facts.python} is older than any tensorflow-metal wheel (cp39+)",
                       "use Python 3.9-3.12")
    return finding("python_for_metal", OK, f"Python {facts.python} has tensorflow-metal wheels")


# --- Linux -----------------------------------------------------------------


def linux_checks(facts: Facts) -> list[dict]:
    out = [check_tf_build(facts), check_nvidia_driver(facts), check_cuda_libs(facts)]
    if facts.cuda_visible_devices is not None and facts.cuda_visible_devices.strip() in ("", "-1"):
        out.append(finding("cuda_visible_devices", FAIL,
                           f"CUDA_VISIBLE_DEVICES={facts.cuda_visible_devices!r} hides every GPU",
                           "unset CUDA_VISIBLE_DEVICES (or list the GPUs to use, e.g. 0)"))
    return out


def _is_cuda_build(facts: Facts) -> bool | None:
    if facts.version("tensorflow-cpu") and not facts.version("tensorflow"):
        return False
    if facts.tf_build is None:
        return None
    return bool(facts.tf_build.get("is_cuda_build"))


def check_tf_build(facts: Facts) -> dict:
    cuda = _is_cuda_build(facts)
    if cuda is None:
        return finding("tf_build", WARN, "cannot read TensorFlow's build info",
                       "reinstall tensorflow")
    if not cuda and facts.gpu_plugins:
        return finding("tf_build", OK, "a CPU-only TensorFlow build, as a GPU plugin (PluggableDevice) needs")
    if not cuda:
        return finding(
            "tf_build", FAIL, "this TensorFlow is a CPU-only build: it cannot use a GPU",
            "pip uninstall -y tensorflow-cpu tensorflow && pip install 'tensorflow[and-cuda]'",
        )
    cuda_version = (facts.tf_build or {}).get("cuda_version", "?")
    return finding("tf_build", OK, f"TensorFlow is a CUDA {cuda_version} build")


def check_nvidia_driver(facts: Facts) -> dict:
    if facts.nvidia_driver is None and facts.nvidia_devices == 0 and facts.gpu_plugins:
        return finding("nvidia_driver", OK, "no NVIDIA GPU here; a GPU plugin provides the GPU")
    if facts.nvidia_driver is None and facts.nvidia_devices == 0:
        return finding(
            "nvidia_driver", FAIL,
            "no GPU is present: no NVIDIA driver (/proc/driver/nvidia/version) and no "
            "/dev/nvidia* device on this machine, so TensorFlow runs on the CPU",
            "run on a machine with an NVIDIA GPU and its driver (`nvidia-smi` must list it); "
            "in a container, start it with --gpus all",
        )
    if facts.nvidia_devices == 0:
        return finding("nvidia_driver", FAIL,
                       f"NVIDIA driver present ({facts.nvidia_driver}) but no /dev/nvidia* device",
                       "check `nvidia-smi`; in a container, start it with --gpus all")
    return finding("nvidia_driver", OK,
                   f"{facts.nvidia_devices} NVIDIA device node(s); {facts.nvidia_driver or 'driver'}")


def check_cuda_libs(facts: Facts) -> dict:
    if not _is_cuda_build(facts):
        return finding("cuda_libs", OK, "not needed by a CPU build")
    missing = [d for d in ("nvidia-cudnn-cu12", "nvidia-cublas-cu12") if not facts.version(d)]
    if missing:
        return finding(
            "cuda_libs", WARN,
            f"the CUDA libraries TensorFlow loads are not pip-installed ({', '.join(missing)}); "
            "fine only if a system CUDA 12 with cuDNN 9 is installed",
            "pip install 'tensorflow[and-cuda]'",
        )
    return finding("cuda_libs", OK, "CUDA and cuDNN wheels installed")


# --- Windows ---------------------------------------------------------------


def windows_checks(facts: Facts) -> list[dict]:
    tf = compat.parse_version(effective_tf_version(facts))
    if tf is not None and tf[:2] > (2, 10):
        return [finding("windows_gpu", FAIL,
                        "native Windows TensorFlow has no GPU support after 2.10",
                        "use WSL2 and install 'tensorflow[and-cuda]' there")]
    return [finding("windows_gpu", OK, "native Windows GPU builds end at TF 2.10")]


# --- the real probe ----------------------------------------------------------


def probe_findings(result: dict) -> list[dict]:
    """Findings from a probe run (see ``tfmon.doctor.probe.run_probe``)."""
    if not result.get("ok"):
        errors = [w for w in result.get("warnings", []) if w.get("severity") == "error"]
        # A plugin that fails to load explains a failed import better than op errors do.
        errors.sort(key=lambda w: w["code"] != "metal_plugin_load_failed")
        fixes = [w["advice"] for w in errors]
        return [finding("tf_import", FAIL,
                        f"the probe could not run TensorFlow: {result.get('error', 'unknown error')}",
                        fixes[0] if fixes else "run `python -c 'import tensorflow'` to see why")]
    out = [finding("tf_import", OK, f"TensorFlow {result.get('tf_version')} imports and runs")]
    gpus = [d for d in result.get("physical", []) if d[1] == "GPU"]
    if gpus:
        out.append(finding("gpu_devices", OK, f"TensorFlow lists {len(gpus)} GPU(s): "
                           + ", ".join(d[0] for d in gpus) + provided_by(result)))
    else:
        devices = ", ".join(d[0].rsplit("device:", 1)[-1] for d in result.get("physical", []))
        out.append(finding("gpu_devices", FAIL, f"TensorFlow lists no GPU (physical devices: {devices or 'none'})",
                           "see the failed checks above for why"))
    placed = result.get("placed", {})
    where = ", ".join(f"{op} on {'/'.join(devs)}" for op, devs in sorted(placed.items())) or "nothing seen"
    on_gpu = [op for op, devs in placed.items() if any(d.startswith("GPU") for d in devs)]
    if not placed:
        out.append(finding("placement", FAIL, "no placement lines were read back from the probe",
                           "TF_CPP_MIN_LOG_LEVEL must be 0 when TensorFlow is imported"))
    elif on_gpu:
        out.append(finding("placement", OK, f"probe ops ran: {where}"))
    else:
        out.append(finding("placement", FAIL, f"probe ops ran: {where}: the GPU was not used"))
    seen = set()
    for fb in result.get("fallbacks", []):
        if (fb["op"], fb["device"]) in seen:
            continue  # the same op eagerly and in the traced function: once
        seen.add((fb["op"], fb["device"]))
        out.append(finding("fallback", WARN, f"{fb['op']} fell back to {fb['device']}: {fb['reason']}",
                           fb.get("advice", "")))
    for w in result.get("warnings", []):
        if w.get("severity") in ("warning", "error"):
            out.append(finding(f"tf_{w['code']}", WARN, w["message"][:300], w["advice"]))
    return out


def provided_by(result: dict) -> str:
    """`` (PluggableDevice SIMGPU, from /path/libsimgpu.so)``: what made the GPU, from the
    device banner TensorFlow printed and the plugin libraries loaded in the probe."""
    devices = result.get("devices") or {}
    backend = devices.get("backend")
    plugins = result.get("plugins") or []
    if backend == "CUDA":
        return " (CUDA, TensorFlow's own GPU support)"
    if not backend and not plugins:
        return ""
    kind = f"PluggableDevice {backend}" if backend else "a PluggableDevice"
    if len(plugins) == 1:
        return f" ({kind}, from {plugins[0]})"
    if plugins:
        return f" ({kind}, from one of {', '.join(plugins)})"
    return f" ({kind})"


def gpu_used(result: dict) -> bool:
    return any(
        d.startswith("GPU") for devs in result.get("placed", {}).values() for d in devs
    )


def verdict(findings: list[dict], result: dict | None) -> tuple[bool, str]:
    """(GPU used, one-line verdict)."""
    fails = [f for f in findings if f["status"] == FAIL and f["check"] not in ("placement", "gpu_devices")]
    if result is not None and gpu_used(result):
        placed = result.get("placed", {})
        on_gpu = sorted(op for op, devs in placed.items() if any(d.startswith("GPU") for d in devs))
        off = sorted(op for op in placed if op not in on_gpu)
        return True, (f"GPU used: the probe's {' and '.join(on_gpu)} ran on the GPU"
                      + (f"; {' and '.join(off)} only on the CPU (see the fallbacks above)" if off else ""))
    why = fails[0]["message"] if fails else "no failed check explains it"
    if result is None:
        return False, f"GPU not checked (no probe); {why}"
    return False, f"GPU not used: the probe ran on the CPU. Main reason: {why}"
