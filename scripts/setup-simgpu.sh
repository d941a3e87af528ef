#!/usr/bin/env bash
# Creates .venv-simgpu (if missing): a CPU-only TensorFlow (the `tensorflow-cpu` wheel, the
# version .venv has) with tfmon installed editable and its test dependencies. The simulated-GPU
# tests (tests/simgpu/) run in it: Linux's `tensorflow` wheel is a CUDA build whose GPU kernels a
# PluggableDevice of type GPU would be handed, so the plugin needs the CPU-only wheel, as on a Mac.
# The two wheels cannot share one environment. Built once, reused while the versions agree.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=.venv-simgpu
version_in() { "$1" -c "import importlib.metadata as m; print(m.version('$2'))" 2>/dev/null || true; }

TF_VERSION=${TFMON_SIMGPU_TF_VERSION:-$(version_in .venv/bin/python tensorflow)}
if [ -z "$TF_VERSION" ]; then
    echo "setup-simgpu: no TensorFlow in .venv to match (run scripts/setup.sh test first, or set TFMON_SIMGPU_TF_VERSION)" >&2
    exit 2
fi
if [ -x "$VENV/bin/python" ] && [ "$(version_in "$VENV/bin/python" tensorflow-cpu)" = "$TF_VERSION" ] \
    && [ -z "$(version_in "$VENV/bin/python" tensorflow)" ] && "$VENV/bin/python" -c "import tfmon, pytest" 2>/dev/null; then
    exit 0
fi
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet "tensorflow-cpu==$TF_VERSION"
# tfmon without its dependencies (they name the `tensorflow` wheel), then those dependencies and
# the test extras, less TensorFlow itself and tf-keras (which would pull `tensorflow` back in).
"$VENV/bin/python" -m pip install --quiet --no-deps -e .
"$VENV/bin/python" - <<'PY' > "$VENV/tfmon-deps.txt"
import importlib.metadata
from packaging.requirements import Requirement

for text in importlib.metadata.requires("tfmon") or []:
    req = Requirement(text)
    if req.name.startswith("tensorflow") or req.name == "tf-keras":
        continue
    if req.marker is None or req.marker.evaluate({"extra": "test"}):
        print(str(req).split(";")[0])
PY
# (pip then says tfmon "requires tensorflow, which is not installed": tensorflow-cpu provides it.)
"$VENV/bin/python" -m pip install --quiet -r "$VENV/tfmon-deps.txt"
if [ -n "$(version_in "$VENV/bin/python" tensorflow)" ]; then
    echo "setup-simgpu: the CUDA 'tensorflow' wheel got into $VENV; the simulated GPU needs tensorflow-cpu alone" >&2
    exit 1
fi
