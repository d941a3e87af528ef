#!/usr/bin/env bash
# Sets everything up on a fresh machine and runs the whole test suite: the main suite with .venv,
# then the simulated-GPU tests (tests/simgpu/) with .venv-simgpu, a CPU-only TensorFlow of the
# same version (scripts/setup-simgpu.sh; the two TensorFlow wheels cannot share one environment).
# Arguments go to the main suite's pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
status=0
.venv/bin/python -m pytest -q "$@" || status=$?
if ! command -v "${CC:-gcc}" >/dev/null && ! command -v cc >/dev/null; then
    echo "simulated-GPU tests (tests/simgpu): skipped: no C compiler"
    exit "$status"
fi
bash scripts/setup-simgpu.sh
.venv-simgpu/bin/python -m pytest -q tests/simgpu || status=$?
exit "$status"
