#!/usr/bin/env bash
# Creates .venv (if missing) and installs tfmon into it, with the extras given as $1 (e.g. "test").
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
    # A Python that can use the GPU here, or one with a released TensorFlow (PYTHON=... overrides).
    PY=$(bash scripts/choose_python.sh)
    "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
if [ -n "${1:-}" ]; then
    .venv/bin/python -m pip install --quiet -e ".[$1]"
else
    .venv/bin/python -m pip install --quiet -e .
fi
