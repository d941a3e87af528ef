"""output.log: repeated placement lines counted not stored, everything else verbatim, capped with rotation."""

import re

from tfmon.placement import PlacementProbe, PlacementState
from tfmon.tflog import parse_line
from tfmon.placement.rules import static_registry
from tfmon.probes.capture import OutputSink
from tfmon.probes.outputlog import OutputLog

from tests.conftest import FIXTURES

FIT = FIXTURES / "tf-logs" / "tf2.21.0-keras3.15.1-cpu-linux-fit"
EAGER = FIXTURES / "tf-logs" / "tf2.21.0-cpu-linux-eager-and-graph"
PREFIX = re.compile(r"^(?:[IWEF]\d{4} [\d:.]+\s+\d+ \S+\] |\d{4}-\d\d-\d\d [\d:.]+: [IWEF] \S+\] )")


def _key(line):
    parsed = parse_line(line)
    if parsed is None:
        return None
    return parsed[:4] if parsed[0] == "node" else parsed[:3]


def _stream(name):
    return (FIT.parent / f"{FIT.name}.{name}.log").read_text().splitlines()


def _sink(tmp_path, raw=False):
    events = []
    probe = PlacementProbe(lambda kind, **f: events.append({"type": kind, **f}), registry=static_registry({}))
    return OutputSink(lambda kind, **f: events.append({"type": kind, **f}), tmp_path / "output.log", probe, raw_log=raw), events


def _eager_steps(steps):
    """The real eager lines of one step, again and again with fresh timestamps (as TF prints them)."""
    step = [l for l in (EAGER.parent / f"{EAGER.name}.stderr.log").read_text().splitlines() if "Executing op" in l]
    out = []
    for i in range(steps):
        for line in step:
            out.append(re.sub(r"^I0000 00:00:\d+\.\d+", f"I0000 00:00:{1795634900 + i}.{i:06d}", line))
    return out


def test_repeated_placement_lines_are_counted_and_every_other_line_kept_verbatim(tmp_path):
    sink, events = _sink(tmp_path)
    stdout, stderr = _stream("stdout"), _stream("stderr")
    eager = _eager_steps(500)
    sink.lines("stdout", stdout)
    sink.lines("stderr", stderr)
    sink.lines("stderr", ["user says hello", *eager[:100]])
    sink.lines("stderr", eager[100:] + ["W0000 00:00:1795634999.000000    8434 x.cc:1] a warning"])
    sink.close()
    kept = (tmp_path / "output.log").read_text().splitlines()
    fed = stdout + stderr + ["user says hello"] + eager + ["W0000 00:00:1795634999.000000    8434 x.cc:1] a warning"]

    # Every line that is not a placement line is there, in order.
    others = [l for l in fed if _key(l) is None]
    assert [l for l in kept if _key(l) is None and not l.startswith("[tfmon]")] == others
    # Every distinct (node / eager op, device) is there, and only once.
    distinct = {_key(l) for l in fed if _key(l) is not None}
    stored = [_key(l) for l in kept if _key(l) is not None]
    assert set(stored) == distinct and len(stored) == len(distinct)
    # One summary line counts what was not stored.
    summaries = [l for l in kept if l.startswith("[tfmon]")]
    assert len(summaries) == 1
    placement_lines = sum(1 for l in fed if _key(l) is not None)
    total = int(re.search(r"\[tfmon\] ([\d,]+) placement lines", summaries[0]).group(1).replace(",", ""))
    assert total == placement_lines - len(stored)
    assert "MatMul@CPU:0 x" in summaries[0] or "_MklMatMul@CPU:0 x" in summaries[0]
    # The log pane still got every non-placement line, and no placement line.
    logged = [e["text"] for e in events if e["type"] == "log"]
    assert "user says hello" in logged and not any(_key(l) for l in logged)


def test_known_eager_lines_are_counted_exactly_as_the_parser_would(tmp_path):
    """The fast path (known text after the prefix) and the regex give the same counts."""
    eager = _eager_steps(50)
    state = PlacementState()
    probe = PlacementProbe(lambda kind, **f: state.apply({"type": kind, **f}), registry=static_registry({}))
    for i in range(0, len(eager), 37):
        probe.classify("stderr", eager[i : i + 37])
        probe.flush()
    assert state.eager_executions == len(eager) == probe.lines_parsed
    expected = {}
    for line in eager:
        _, op, device, _ = parse_line(line)
        expected[(op, device)] = expected.get((op, device), 0) + 1
    assert {k: row.eager for k, row in state.op_rows.items()} == expected


def test_raw_log_keeps_every_line(tmp_path):
    sink, _ = _sink(tmp_path, raw=True)
    eager = _eager_steps(200)
    sink.lines("stderr", eager)
    sink.close()
    assert (tmp_path / "output.log").read_text().splitlines() == eager


def test_periodic_summaries_while_repeats_go_on(tmp_path):
    now = [0.0]
    log = OutputLog(tmp_path / "output.log", summary_interval=600, clock=lambda: now[0])
    for minute in range(35):
        now[0] = minute * 60.0
        log.write(["x"] * 10, ["MatMul@CPU:0"] * 10)
    log.close()
    summaries = (tmp_path / "output.log").read_text().splitlines()
    assert len(summaries) == 4  # at 10, 20 and 30 minutes, and the rest at close
    counts = [int(re.search(r"\] ([\d,]+) placement", s).group(1)) for s in summaries]
    assert sum(counts) == 350 and all("MatMul@CPU:0 x" in s for s in summaries)


def test_rotation_keeps_head_and_tail_and_says_how_much_was_dropped(tmp_path):
    path = tmp_path / "output.log"
    log = OutputLog(path, cap=20_000, head=4_000, tail=8_000)
    lines = [f"line {i:06d} " + "." * 30 for i in range(3000)]  # 3000 x 43 bytes, about 6 caps
    for i in range(0, len(lines), 7):
        log.write(lines[i : i + 7])
    log.close()
    data = path.read_bytes()
    assert len(data) <= 20_000
    kept = data.decode().splitlines()
    markers = [l for l in kept if l.startswith("[tfmon]")]
    assert len(markers) == 1
    at = kept.index(markers[0])
    head, tail = kept[:at], kept[at + 1 :]
    assert head == lines[: len(head)] and len(head) * 43 >= 4_000
    assert tail == lines[-len(tail) :] and len(tail) * 43 >= 8_000 - 43
    dropped = lines[len(head) : len(lines) - len(tail)]
    said = int(re.search(r"\.\.\. ([\d,]+) bytes", markers[0]).group(1).replace(",", ""))
    assert said == sum(len(l) + 1 for l in dropped)
