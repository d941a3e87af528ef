"""``tfmon doctor``: why TensorFlow does or does not use the GPU on this machine.

``runtime_findings()`` is the cheap subset (no subprocess, no TensorFlow import,
no device initialisation) that tfmon emits at run start as an ``environment``
event, so the app can say "no GPU visible, and why".
"""

from __future__ import annotations

from tfmon.doctor.checks import probe_findings, run_checks, verdict
from tfmon.doctor.cli import main
from tfmon.doctor.facts import Facts, gather_facts


def runtime_findings(facts: Facts | None = None) -> list[dict]:
    """Platform findings for the ``environment`` event (all statuses, ok included)."""
    return run_checks(facts or gather_facts())


__all__ = ["Facts", "gather_facts", "main", "probe_findings", "run_checks", "runtime_findings", "verdict"]
