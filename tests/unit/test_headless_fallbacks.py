"""Headless output summarises CPU fallbacks instead of printing a line per graph node.

Replays a real run on the simulated GPU (tests/fixtures/runs/simgpu-mlp-2-epochs: 118
fallback events for a 2-layer MLP) through the real Printer.
"""

from __future__ import annotations

import io
import json

from conftest import FIXTURES
from tfmon.bus import EventBus
from tfmon.headless import Printer

RUN = FIXTURES / "runs" / "simgpu-mlp-2-epochs" / "events.jsonl"


def printed() -> tuple[list[str], list[dict]]:
    events = [json.loads(line) for line in RUN.read_text().splitlines()]
    bus = EventBus()
    out = io.StringIO()
    sub = bus.subscribe()
    printer = Printer(sub, out)
    for event in events:
        bus.publish(event)
    printer._print(sub.drain())  # what the printer thread does, in one batch
    return out.getvalue().splitlines(), events


def test_fallbacks_are_a_few_summary_lines_not_one_per_node():
    lines, events = printed()
    fallbacks = [e for e in events if e["type"] == "fallback"]
    assert len(fallbacks) == 118
    about = [line for line in lines if "fallback" in line or line.startswith("tfmon:   ")]
    assert 3 <= len(about) <= 12, "\n".join(about)
    # every fallback node is counted in a summary line
    counts = [int(line.split("warning: ")[1].split()[0]) for line in lines if "CPU fallback node" in line]
    assert sum(counts) == 118
    ops = {e["op"] for e in fallbacks}
    text = "\n".join(lines)
    heaviest = max(ops, key=lambda op: sum(e["weight"] for e in fallbacks if e["op"] == op))
    assert heaviest in text
    assert "every node, its reason and advice: `tfmon replay" in text and text.count("every node") == 1


def test_the_summary_names_layers_by_their_own_names_and_says_why():
    lines, _ = printed()
    (layers,) = [line for line in lines if line.startswith("tfmon:   layers:") and "dense" in line]
    assert "dense (BiasAddGrad, ReluGrad)" in layers and "dense_1 (BiasAddGrad, Softmax)" in layers
    assert "dense_1_2" not in "\n".join(lines)
    why = "\n".join(line for line in lines if line.startswith("tfmon:   why:"))
    assert "no GPU kernel for float math: " in why and "Softmax" in why
    # the epoch lines still come, after the fallbacks found before them
    assert any(line.startswith("tfmon: epoch 1 ") for line in lines)
