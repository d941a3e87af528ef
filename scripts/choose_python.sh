#!/usr/bin/env bash
# Prints the Python that scripts/setup.sh builds .venv with, and installs nothing:
#   bash scripts/choose_python.sh            # -> python3, or python3.12 when python3 cannot use the GPU
#   PYTHON=/path/to/python bash scripts/choose_python.sh   # the override, still explained
# Says why on stderr, in one line, when the choice is not plain python3 or costs the GPU;
# exits 1 with a clear message when no Python here has a released TensorFlow.
# The versions below are the wheels on PyPI (2026-11); tests/unit/test_setup_choice.py holds
# them against tests/fixtures/compat/pypi-wheels.json, and README.md shows them.
set -euo pipefail

MAC_GPU="3.12 3.11 3.10"     # macOS arm64: tensorflow 2.19 + Apple's tensorflow-metal 1.2.0
MAC_CPU="3.13"               # macOS arm64: released TensorFlow, no tensorflow-metal wheel
MAC_INTEL="3.12 3.11 3.10"   # Intel Macs: tensorflow 2.16.2, their last build (CPU)
LINUX="3.13 3.12 3.11 3.10"  # Linux x86_64 / aarch64: released TensorFlow

say() { echo "setup: $*" >&2; }
listed() { case " $2 " in *" $1 "*) return 0 ;; esac; return 1; }

# "3.12 darwin arm64" (as this Python sees itself: a Rosetta Python says x86_64), or nothing.
describe() {
    "$1" -c 'import platform, sys; print("%d.%d %s %s" % (sys.version_info[:2] + (sys.platform, platform.machine())))' 2>/dev/null || true
}

# How good a Python is for tfmon here: 3 = the GPU (or, off macOS arm64, a released TensorFlow),
# 2 = a released TensorFlow on the CPU only, 0 = no released TensorFlow.
rank() {
    local version=$1 os=$2 machine=$3
    if [ "$os" = darwin ] && [ "$machine" = arm64 ]; then
        if listed "$version" "$MAC_GPU"; then echo 3; elif listed "$version" "$MAC_CPU"; then echo 2; else echo 0; fi
    elif [ "$os" = darwin ]; then
        if listed "$version" "$MAC_INTEL"; then echo 2; else echo 0; fi
    elif [ "$os" = linux ]; then
        if listed "$version" "$LINUX"; then echo 3; else echo 0; fi
    else
        echo 0
    fi
}

newest_gpu=${MAC_GPU%% *}
gpu_fix="brew install python@$newest_gpu && rm -rf .venv && bash scripts/setup.sh"

# What a Python costs, in one line (nothing when it costs nothing).
cost() {
    local version=$1 os=$2 machine=$3 kind
    kind=$(rank "$version" "$os" "$machine")
    if [ "$kind" = 2 ] && [ "$os" = darwin ] && [ "$machine" = arm64 ]; then
        say "Python $version has no tensorflow-metal (Apple's wheels stop at $newest_gpu): TensorFlow will run on the CPU only. For the GPU: $gpu_fix"
    elif [ "$kind" = 0 ]; then
        say "Python $version ($os $machine) has no released TensorFlow: pip takes a release candidate where one exists, or fails"
    fi
}

if [ -n "${PYTHON:-}" ]; then
    info=$(describe "$PYTHON")
    if [ -z "$info" ]; then
        say "PYTHON=$PYTHON does not run"
        exit 1
    fi
    # shellcheck disable=SC2086
    cost $info
    echo "$PYTHON"
    exit 0
fi

best="" best_rank=-1 best_info="" first_info=""
for candidate in python3 python3.13 python3.12 python3.11 python3.10; do
    command -v "$candidate" >/dev/null 2>&1 || continue
    info=$(describe "$candidate")
    [ -n "$info" ] || continue
    # shellcheck disable=SC2086
    r=$(rank $info)
    if [ "$r" -gt "$best_rank" ]; then
        best=$candidate best_rank=$r best_info=$info
    fi
    [ "$candidate" = python3 ] && first_info=$info
done

if [ -z "$best" ] || [ "$best_rank" = 0 ]; then
    case "$first_info" in
        *" darwin "*) get="Python $newest_gpu (brew install python@$newest_gpu)" ;;
        *) get="Python ${LINUX%% *} (your distribution's python${LINUX%% *} package, or uv python install ${LINUX%% *})" ;;
    esac
    say "no Python here has a released TensorFlow (python3: ${first_info:-none}). Install $get" \
        "and rerun, or pick one yourself: PYTHON=/path/to/python bash scripts/setup.sh"
    exit 1
fi
if [ "$best" != python3 ]; then
    gain="a released TensorFlow"
    case "$best_info" in *" darwin arm64") [ "$best_rank" = 3 ] && gain="TensorFlow on the GPU (tensorflow-metal)" ;; esac
    if [ -n "$first_info" ]; then now="python3 is Python ${first_info%% *}"; else now="no python3"; fi
    say "$now; using $best ($(command -v "$best"), Python ${best_info%% *}) for $gain"
fi
# shellcheck disable=SC2086
cost $best_info
echo "$best"
