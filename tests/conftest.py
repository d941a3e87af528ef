"""Shared test helpers: run tfmon as a user would, read a run directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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


@pytest.fixture
def scripts() -> Path:
    return SCRIPTS
