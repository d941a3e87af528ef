"""Shared test helpers: run tfmon as a user would, read a run directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = Path(__file__).resolve().parent / "scripts"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@dataclass
class Finished:
    code: int
    stdout: str
    stderr: str
    run_dir: Path

    def events(self) -> list[dict]:
        with open(self.run_dir / "events.jsonl") as f:
            return [json.loads(line) for line in f]

    def of_type(self, kind: str) -> list[dict]:
        return [e for e in self.events() if e["type"] == kind]

    def output_log(self) -> str:
        return (self.run_dir / "output.log").read_text()


def tfmon_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def run_tfmon(args: list[str], run_dir: Path, cwd: Path | None = None, timeout: float = 180, env: dict | None = None) -> Finished:
    """``tfmon --headless --run-dir RUN_DIR ARGS...`` in a subprocess (stdout is a pipe)."""
    cmd = [sys.executable, "-m", "tfmon", "--headless", "--run-dir", str(run_dir), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env or tfmon_env())
    return Finished(proc.returncode, proc.stdout, proc.stderr, run_dir)


def fold(stream) -> "RunState":
    """A RunState folded from events one by one (no per-drain sampling)."""
    from tfmon.state import RunState

    state = RunState()
    for e in stream:
        state.apply(e)
    return state


def final_view(state) -> dict:
    """What the panes show at the end of a run, the loss curve, log and memory sparklines aside."""
    info, metrics, placement, memory = state.info, state.metrics, state.placement, state.memory
    return {
        "info": (info.state, info.fit, info.epoch, info.epochs, info.step, info.global_step, info.exit_code,
                 info.last_checkpoint, info.stop_reason, info.paused_since, info.pause_requested),
        "epochs": [(r.fit, r.epoch, r.seconds, r.metrics) for r in metrics.rows],
        "epoch_curves": (list(metrics.epoch_loss), list(metrics.epoch_val_loss), list(metrics.evaluations)),
        "ops": {k: (r.nodes, r.eager, r.fallbacks) for k, r in placement.op_rows.items()},
        "fallbacks": placement.fallbacks,
        "warnings": placement.warnings,
        "devices": placement.devices,
        "memory": (memory.latest, list(memory.epochs), list(memory.warnings)),
        "notices": list(state.log.notices),
    }


def until(predicate, timeout: float = 10.0) -> bool:
    """True once ``predicate()`` is, polling; False after ``timeout`` seconds. For what a
    thread does "soon": a fixed sleep is too short on a loaded machine, and slow on a fast one."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def events_so_far(run_dir: Path) -> list[dict]:
    """The events of a run that may still be writing (a line being written is skipped)."""
    path = Path(run_dir) / "events.jsonl"
    if not path.exists():
        return []
    out = []
    with open(path) as f:
        for line in f:
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


@pytest.fixture
def scripts() -> Path:
    return SCRIPTS


@pytest.fixture
def small_disk(tmp_path):
    """A real 256 KiB tmpfs (a disk that fills up); skipped where mounting is not allowed."""
    if os.geteuid() != 0:
        pytest.skip("a small tmpfs for disk-full tests needs root (mount -t tmpfs)")
    mnt = tmp_path / "disk"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", str(mnt)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"mount -t tmpfs failed here: {done.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def fill_disk(mnt: Path, leave: int) -> Path:
    """Fill a small disk but ``leave`` bytes (rounded to pages); returns the filler to free it."""
    filler = mnt / "filler"
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass
    size = filler.stat().st_size
    os.truncate(filler, max(size - leave, 0))
    return filler
