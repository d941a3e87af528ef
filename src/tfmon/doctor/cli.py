"""``tfmon doctor [--json]``: platform checks, a real probe, a verdict.

Exit code 0 when the probe's ops ran on a GPU, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Callable, TextIO

from tfmon.doctor.checks import probe_findings, run_checks, verdict
from tfmon.doctor.facts import Facts, gather_facts
from tfmon.doctor.probe import run_probe

_MARK = {"ok": "ok  ", "warn": "warn", "fail": "FAIL"}


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    parser = parser or argparse.ArgumentParser(
        prog="tfmon doctor", description="Why TensorFlow does (not) use the GPU here."
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--no-probe", action="store_true",
                        help="skip the real TensorFlow probe (checks only; exit 1)")
    return parser


def main(
    argv: list[str] | None = None,
    *,
    facts: Facts | None = None,
    probe: Callable[[], dict] | None = None,
    out: TextIO | None = None,
) -> int:
    """Run the doctor. ``facts`` and ``probe`` are injectable for tests."""
    args = build_parser().parse_args(argv)
    out = out or sys.stdout
    facts = facts or gather_facts()
    findings = run_checks(facts)
    result = None
    if not args.no_probe:
        if not args.json:
            print("tfmon doctor: running a matmul and a conv2d in TensorFlow...", file=out, flush=True)
        result = (probe or run_probe)()
        findings += probe_findings(result)
    used, line = verdict(findings, result)
    code = 0 if used else 1
    if args.json:
        json.dump({"findings": findings, "probe": result, "gpu_used": used,
                   "verdict": line, "exit_code": code}, out, indent=2, default=str)
        out.write("\n")
        return code
    width = max(len(f["check"]) for f in findings)
    for f in findings:
        text = f"{_MARK[f['status']]}  {f['check']:<{width}}  {f['message']}"
        if f["fix"] and f["status"] != "ok":
            text += f"  -> fix: {f['fix']}"
        print(text, file=out)
    print(f"verdict: {line}", file=out)
    return code
