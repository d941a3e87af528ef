"""Which tensorflow / tensorflow-metal / Python combinations work on a Mac.

Sources (copied in tests/fixtures/compat/): Apple's table in the
tensorflow-metal 1.2.0 wheel metadata, plus breakage seen in the field:

* tensorflow-metal declares no dependency on TensorFlow, so pip never stops a bad pair;
* TF 2.18 + metal 1.1.0: the plugin fails to load (symbol not found);
* TF 2.20 / 2.21 + metal 1.2.0: ``import tensorflow`` fails
  (``Symbol not found: __ZN10tensorflow28_AttrValue_default_instance_E``);
* working pairs in 2025-26: TF 2.18.x / 2.19.x + metal 1.2.0 on Python <= 3.12;
* metal wheels: cp39-cp312 for 1.2.0, cp39-cp311 for 0.8-1.1, arm64 only;
* tensorflow-macos ends at 2.16.2, a shim that requires ``tensorflow==2.16.2``;
* TF 2.16 / 2.17 + metal 1.1 under Keras 3: reported not to use the GPU
  (tensorflow/tensorflow#63854; the workaround given there is Keras 2);
* the community ``tensorflow-metal-plugin`` (not Apple's; sdist only, built
  with Xcode at install against the TensorFlow already installed, macOS 15+):
  0.4.x requires ``tensorflow==2.21.*`` and declines to load into another
  minor; under TF 2.20 / 2.21 its optimizer kernels (ResourceApplyAdam, ...)
  cannot register (tensorflow/tensorflow#126374, fixed for 2.22), so optimizer
  updates run on the CPU. It installs ``tensorflow-plugins/libmetal_plugin.dylib``,
  the very path Apple's tensorflow-metal installs.
"""

from __future__ import annotations

import re
from typing import NamedTuple

RECOMMENDED_TF = "2.19"
RECOMMENDED_METAL = "1.2.0"
RECOMMENDED_FIX = (
    f"pip install 'tensorflow=={RECOMMENDED_TF}.*' 'tensorflow-metal=={RECOMMENDED_METAL}' "
    "(Python 3.9-3.12, arm64)"
)
TENSORFLOW_MACOS_LAST = (2, 16, 2)

COMMUNITY_PLUGIN = "tensorflow-metal-plugin"
PLUGIN_LIBRARY = "tensorflow-plugins/libmetal_plugin.dylib"  # Apple's and the community's
PLUGIN_MACOS_MIN = (15, 0)
PLUGIN_TF_PYTHON_MAX = (3, 13)  # newest CPython with a wheel of the TF the plugin pins (2.21)
PYTHON_MIN_FOR_PLUGIN = (3, 10)
PLUGIN_TF_FIXED = (2, 22)  # first TF that exports the kernel C API its optimizers need
# The one command that gives a Python with no Apple wheel the GPU through the community plugin.
PLUGIN_INSTALL = "pip install 'tensorflow==2.21.*' && pip install tensorflow-metal-plugin"


class MetalRelease(NamedTuple):
    tf_min: tuple[int, int]  # TensorFlow (major, minor) range it works with
    tf_max: tuple[int, int]
    python_max: tuple[int, int] | None  # newest CPython it has wheels for (None: not recorded)


# metal (major, minor) -> release facts. Apple's table says 1.1.0 covers
# v2.14-v2.18, but 2.18 fails to load it; its last row ("v2.18 | v1.1.0 |
# Fixes compatibility with 2.18+") describes 1.2.0, which ships it.
METAL_RELEASES: dict[tuple[int, int], MetalRelease] = {
    (0, 1): MetalRelease((2, 5), (2, 5), None),
    (0, 2): MetalRelease((2, 6), (2, 6), None),
    (0, 3): MetalRelease((2, 7), (2, 7), None),
    (0, 4): MetalRelease((2, 8), (2, 8), None),
    (0, 5): MetalRelease((2, 9), (2, 9), None),
    (0, 6): MetalRelease((2, 10), (2, 10), None),
    (0, 7): MetalRelease((2, 11), (2, 11), None),
    (0, 8): MetalRelease((2, 12), (2, 12), (3, 11)),
    (1, 0): MetalRelease((2, 13), (2, 13), (3, 11)),
    (1, 1): MetalRelease((2, 14), (2, 17), (3, 11)),
    (1, 2): MetalRelease((2, 18), (2, 19), (3, 12)),
}
PYTHON_MIN_FOR_METAL = (3, 9)


def parse_version(text: str | None) -> tuple[int, ...] | None:
    """``2.19.0`` -> (2, 19, 0); ``2.20.0rc1`` -> (2, 20, 0); None if unreadable."""
    if not text:
        return None
    parts: list[int] = []
    for piece in text.split("+")[0].split("."):
        m = re.match(r"\d+", piece)
        if not m:
            break
        parts.append(int(m.group()))
        if m.end() < len(piece):  # "0rc1": a pre-release tag ends the numbers
            break
    return tuple(parts) or None


class PairVerdict(NamedTuple):
    status: str  # "ok" | "warn" | "fail"
    message: str
    fix: str


def check_metal_pair(tf_version: str, metal_version: str) -> PairVerdict:
    """Is this tensorflow + tensorflow-metal pair known to work?"""
    tf = parse_version(tf_version)
    metal = parse_version(metal_version)
    pair = f"tensorflow {tf_version} + tensorflow-metal {metal_version}"
    if tf is None or metal is None or len(tf) < 2 or len(metal) < 2:
        return PairVerdict("warn", f"cannot read the versions of {pair}", RECOMMENDED_FIX)
    tf_mm, metal_mm = tf[:2], metal[:2]
    # Known breakage first: these are the pairs people actually end up with.
    if tf_mm >= (2, 20) and metal_mm >= (1, 2):
        return PairVerdict(
            "fail",
            f"{pair}: `import tensorflow` fails (Symbol not found: "
            "__ZN10tensorflow28_AttrValue_default_instance_E); no tensorflow-metal "
            "release supports TF 2.20+",
            RECOMMENDED_FIX,
        )
    if tf_mm == (2, 18) and metal_mm == (1, 1):
        return PairVerdict(
            "fail",
            f"{pair}: the Metal plugin fails to load (symbol not found), TF runs on the CPU",
            f"pip install 'tensorflow-metal=={RECOMMENDED_METAL}'",
        )
    release = METAL_RELEASES.get(metal_mm)
    if release is None:
        newest = max(METAL_RELEASES)
        if metal_mm > newest:
            return PairVerdict("warn", f"{pair}: tensorflow-metal newer than tfmon knows", "")
        return PairVerdict("fail", f"{pair}: unknown tensorflow-metal release", RECOMMENDED_FIX)
    lo, hi = release.tf_min, release.tf_max
    span = f"{lo[0]}.{lo[1]}" if lo == hi else f"{lo[0]}.{lo[1]}-{hi[0]}.{hi[1]}"
    if tf_mm > hi:
        # A plugin built against an older TF ABI: fails to load or to import.
        return PairVerdict(
            "fail",
            f"{pair}: tensorflow-metal {metal_mm[0]}.{metal_mm[1]} works with TF {span} only; "
            "with a newer TF the plugin fails to load",
            RECOMMENDED_FIX,
        )
    if tf_mm < lo:
        return PairVerdict(
            "warn",
            f"{pair}: not a pair in Apple's table (tensorflow-metal "
            f"{metal_mm[0]}.{metal_mm[1]} is for TF {span})",
            RECOMMENDED_FIX,
        )
    return PairVerdict("ok", f"{pair} is a supported pair (TF {span})", "")


def check_plugin_pair(tf_version: str, plugin_version: str, tf_pin: str | None) -> PairVerdict:
    """Is this tensorflow + community tensorflow-metal-plugin pair one it loads into?

    ``tf_pin`` is the plugin's own requirement on tensorflow as installed
    (``==2.21.*`` for 0.4.x): it is built for one TF minor and refuses others."""
    tf = parse_version(tf_version)
    pair = f"tensorflow {tf_version} + tensorflow-metal-plugin {plugin_version} (community build)"
    pinned = re.fullmatch(r"==\s*(\d+)\.(\d+)(?:\.\*|\.\d+)?", (tf_pin or "").strip())
    if tf is None or len(tf) < 2:
        return PairVerdict("warn", f"cannot read the versions of {pair}", "")
    if pinned is None:
        return PairVerdict(
            "warn",
            f"{pair}: this release pins no TensorFlow (it is built against whatever TF was "
            "installed when pip built it); 0.4 and later pin the one they load into",
            f"pip install --upgrade --no-cache-dir {COMMUNITY_PLUGIN}",
        )
    want = (int(pinned.group(1)), int(pinned.group(2)))
    if tf[:2] != want:
        return PairVerdict(
            "fail",
            f"{pair}: the plugin is built for TF {want[0]}.{want[1]} only and declines to load "
            f"into TF {tf[0]}.{tf[1]}, so TensorFlow runs on the CPU",
            f"pip install 'tensorflow=={want[0]}.{want[1]}.*' && pip install --force-reinstall "
            f"--no-deps --no-cache-dir {COMMUNITY_PLUGIN}",
        )
    return PairVerdict("ok", f"{pair} is the pair it is built for (TF {want[0]}.{want[1]})", "")


def metal_python_max(metal_version: str | None) -> tuple[int, int] | None:
    """Newest CPython with a wheel of this metal release (the newest release if None)."""
    if metal_version is None:
        return METAL_RELEASES[max(METAL_RELEASES)].python_max
    metal = parse_version(metal_version)
    if metal is None or len(metal) < 2:
        return None
    release = METAL_RELEASES.get(metal[:2])
    return release.python_max if release else None
