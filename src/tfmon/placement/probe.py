"""Turn captured TensorFlow output into placement, fallback, devices and tf_warning events.

The fd reader threads call ``feed(stream, line)`` for every line of C stdout
and stderr, then ``flush()`` after each chunk: events are batched per flush, so
a burst of 5000 placement lines costs one ``placement`` event, not 5000.

De-duplication: the placer prints every graph node twice, bare on C stdout and
prefixed on stderr, and stdout reaches us late in block-buffered bursts. A node
``(name, op, device)`` is counted separately in its bare form and in its
prefixed form, and the number of graph nodes with that key is the max of the
two. Keying on the *form* rather than on the stream also handles logs where
both streams were merged into one (``2>&1``, the Metal fixtures). The same name
can legitimately occur in several graphs (``x: (_Arg)`` in every small eager
function): each occurrence is a distinct graph node and counts.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from tfmon import events
from tfmon.events import Emit
from tfmon.placement import layers, rules
from tfmon.placement.banners import parse_banner
from tfmon.tflog import PREFIX_MAX, device_type, parse_line
from tfmon.placement.warnings import match_warning

_MAX_WARNINGS = 256  # distinct tf_warning messages per run; a repeated one is raised once
_GPU, _CPU_COMPUTE, _OTHER = "gpu", "cpu_compute", "other"
#: ``classify`` results: a placement line seen for the first time; a graph node seen before.
NEW = ""
NODE_REPEAT = "graph nodes"


class PlacementProbe:
    """Parser + aggregator for captured TF output. Thread-safe; never touches a widget.

    ``registry``: kernel registry for fallback reasons (default: the installed
    TensorFlow's, read only once the script has imported it).
    ``gpu_visible``: True/False to force; None (default) decides from the log
    (a created GPU device or any op placed on a GPU) or ``set_gpu_visible``.
    """

    def __init__(
        self,
        emit: Emit,
        registry: rules.KernelRegistry | None = None,
        gpu_visible: bool | None = None,
    ) -> None:
        self._emit = emit
        self._registry = registry if registry is not None else rules.TFKernelRegistry()
        self._forced_gpu = gpu_visible
        self._gpu_seen = False
        self._lock = threading.Lock()
        # (name, op, device) -> [bare count, prefixed count]
        self._counts: dict[tuple[str, str, str], list[int]] = {}
        self._new_nodes: list[list[str]] = []
        self._eager: Counter[str] = Counter()
        self._eager_keys: set[tuple[str, str]] = set()
        self._eager_known: dict[str, str] = {}  # eager line after its prefix -> "Op@device"
        self._kinds: dict[tuple[str, str], str] = {}  # (op, device) -> _GPU / _CPU_COMPUTE / _OTHER
        # CPU compute placements not yet judged: kept until a GPU shows up
        # (validation or a second fit can be traced before the GPU is known).
        self._candidates: dict[tuple[str, str, str, bool], None] = {}
        self._judged: set[tuple[str, str, str, bool]] = set()
        self._devices: dict[str, Any] = {}
        self._devices_dirty = False
        self._warnings_seen: set[tuple[str, str]] = set()
        self._pending_warnings: list[dict] = []
        self.lines_parsed = 0

    # -- input ---------------------------------------------------------------

    def feed(self, stream: str, line: str) -> bool:
        """Consume one line. True when it is a placement/eager line the log pane must not show.

        ``stream`` ("stdout"/"stderr") is accepted for the caller's convenience;
        the line's own form (bare or prefixed) is what de-duplication keys on.
        """
        return self.classify(stream, [line])[0] is not None

    def classify(self, stream: str, lines: list[str]) -> list[str | None]:
        """Consume lines (under one lock); per line: None for anything but a placement
        line (the log shows it), ``NEW`` for a placement line that names a
        (graph node / eager op, device) not seen before, or, for a repeat of a known
        one, what it repeats: ``"MatMul@CPU:0"`` (an eager op) or ``NODE_REPEAT``
        (a graph node printed again: its second copy, or the function traced again).

        An eager line seen before is known by its text after the log prefix (one
        ``find`` and a dict lookup, no regex): eager code prints the same few
        lines every step, forever, in the training process's time.
        """
        known = self._eager_known
        other = []
        with self._lock:
            # One pass in C-speed pieces: most lines of an eager run are known.
            out: list[str | None] = [known.get(line[line.find("] ", 0, PREFIX_MAX) + 2 :]) for line in lines]
            counts = Counter(out)
            unknown = counts.pop(None, 0)
            if counts:
                self._eager.update(counts)
                self.lines_parsed += len(lines) - unknown
            for i in range(len(lines)) if unknown else ():
                if out[i] is not None:
                    continue
                line = lines[i]
                parsed = parse_line(line)
                if parsed is None:
                    other.append(line)
                    continue
                if parsed[0] == "node":
                    seen = (parsed[1], parsed[2], parsed[3]) in self._counts
                    label = NODE_REPEAT
                else:
                    seen = (parsed[1], parsed[2]) in self._eager_keys
                    label = f"{parsed[1]}@{parsed[2]}"
                    cut = line.find("] ", 0, PREFIX_MAX)
                    if parsed[3] and cut > 0:
                        known[line[cut + 2 :]] = label
                self._record(parsed)
                out[i] = label if seen else NEW
        for line in other:
            self._other(line)
        return out

    def set_gpu_visible(self, visible: bool) -> None:
        """Tell the probe what TF reports (e.g. from ``read_tf_devices`` at fit start)."""
        with self._lock:
            self._forced_gpu = visible

    @property
    def gpu_visible(self) -> bool:
        return self._forced_gpu if self._forced_gpu is not None else self._gpu_seen

    def _record(self, parsed: tuple) -> None:
        # Caller holds the lock.
        self.lines_parsed += 1
        if parsed[0] == "node":
            _, name, op, device, prefixed = parsed
            key = (name, op, device)
            counts = self._counts.get(key)
            if counts is None:
                counts = self._counts[key] = [0, 0]
            i = 1 if prefixed else 0
            counts[i] += 1
            if counts[i] <= counts[1 - i]:
                return  # the other form already counted this node
            self._new_nodes.append([name, op, device])
            eager = False
        else:
            _, op, device, _prefixed = parsed
            name = op
            self._eager[f"{op}@{device}"] += 1
            if (op, device) in self._eager_keys:
                return
            self._eager_keys.add((op, device))
            eager = True
        kind = self._kinds.get((op, device))
        if kind is None:  # once per (op, device): this runs for every new node
            dev = device_type(device)
            kind = _GPU if dev == "GPU" else _CPU_COMPUTE if dev == "CPU" and rules.is_compute(op) else _OTHER
            self._kinds[(op, device)] = kind
        if kind is _GPU:
            self._gpu_seen = True
        elif kind is _CPU_COMPUTE:
            cand = (name, op, device, eager)
            if cand not in self._judged:
                self._candidates[cand] = None

    def _other(self, line: str) -> None:
        banner = parse_banner(line)
        if banner is not None:
            with self._lock:
                gpu = banner.pop("gpu", None)
                if gpu is not None:
                    self._gpu_seen = True
                    gpus = [g for g in self._devices.get("gpus", []) if g["device"] != gpu["device"]]
                    self._devices["gpus"] = sorted(gpus + [gpu], key=lambda g: g["device"])
                self._devices.update(banner)
                self._devices_dirty = True
            return
        warning = match_warning(line)
        if warning is not None:
            key = (warning["code"], warning["message"])
            with self._lock:
                if key not in self._warnings_seen and len(self._warnings_seen) < _MAX_WARNINGS:
                    self._warnings_seen.add(key)
                    self._pending_warnings.append(warning)

    # -- output --------------------------------------------------------------

    def flush(self) -> None:
        """Emit what accumulated since the last flush (cheap when nothing did)."""
        with self._lock:
            nodes, self._new_nodes = self._new_nodes, []
            eager, self._eager = self._eager, Counter()
            warnings, self._pending_warnings = self._pending_warnings, []
            devices = dict(self._devices) if self._devices_dirty else None
            self._devices_dirty = False
            fallbacks: list[tuple[str, str, str, bool]] = []
            if self._candidates and self.gpu_visible:
                fallbacks = list(self._candidates)
                self._judged.update(fallbacks)
                self._candidates.clear()
            elif self._forced_gpu is False:
                self._candidates.clear()  # no GPU, ever: nothing can be a fallback
        # Emit outside the lock: emit may do I/O, and the other reader must not wait on it.
        if devices is not None:
            devices.setdefault("gpus", [])
            self._emit(events.DEVICES, source="log", **devices)
        if nodes or eager:
            self._emit(events.PLACEMENT, nodes=nodes, eager=dict(eager))
        for name, op, device, is_eager in fallbacks:
            self._emit(events.FALLBACK, **self._explain(name, op, device, is_eager))
        for warning in warnings:
            self._emit(events.TF_WARNING, **warning)

    def _explain(self, name: str, op: str, device: str, eager: bool) -> dict:
        if eager:
            layer, phase = None, "eager"
        else:
            layer, phase = layers.attribute(name)
        fields = {
            "node": name,
            "op": op,
            "device": device,
            "layer": layer,
            "phase": phase,
            "eager": eager,
            "weight": rules.op_weight(op),
        }
        fields.update(rules.classify(op, self._registry, name, layer, self._devices.get("backend"), phase))
        return fields
