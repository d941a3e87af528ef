"""PlacementState: folds placement, fallback, devices, tf_warning and environment events.

Pure Python, no Textual, no TensorFlow: the panes read its views, replay and
tests build it from recorded events. ``version`` moves whenever anything shown
changes; each row carries the version that last changed it, so a pane updates
only those rows (``OpRow.version`` / ``LayerRow.version``).
``fallback_version`` moves only for what the fallbacks pane shows.
``shape_version`` moves for everything but counts of rows that exist already
(eager runs every step; a function traced again each epoch): the pane redraws
those counters less often than it shows a new (op, device) or layer row or a
fallback.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from tfmon import events
from tfmon.placement import layers, rules
from tfmon.tflog import device_type

HANDLED_TYPES = (events.PLACEMENT, events.FALLBACK, events.DEVICES, events.TF_WARNING, events.ENVIRONMENT)


class OpRow:
    """One (op type, device) pair: distinct graph nodes and eager executions."""

    __slots__ = ("op", "device", "nodes", "eager", "fallbacks", "layers", "weight", "version")

    def __init__(self, op: str, device: str) -> None:
        self.op = op
        self.device = device
        self.nodes = 0
        self.eager = 0
        self.fallbacks = 0
        self.layers: set[str] = set()
        self.weight = rules.op_weight(op)
        self.version = 0

    @property
    def key(self) -> str:
        return f"{self.op}@{self.device}"


class LayerRow:
    """One Keras layer: devices of its compute nodes per phase."""

    __slots__ = ("layer", "phases", "ops", "fallbacks", "version")

    def __init__(self, layer: str) -> None:
        self.layer = layer
        self.phases: dict[str, Counter[str]] = {p: Counter() for p in layers.PHASES}
        self.ops: set[str] = set()
        self.fallbacks = 0
        self.version = 0

    @property
    def nodes(self) -> int:
        return sum(sum(c.values()) for c in self.phases.values())


def _named(fallback: dict, scopes: dict[str, str]) -> dict:
    """A fallback under its layer's own name, its advice too (the probe wrote TF's scope,
    ``layer 'dense_1_2'``, into it); the same dict when the scope is the name."""
    scope = fallback.get("layer")
    name = scopes.get(scope) if scope else None
    if name is None:
        return fallback
    advice = (fallback.get("advice") or "").replace(f"layer '{scope}'", f"layer '{name}'")
    return dict(fallback, layer=name, advice=advice)


def format_devices(counts: Counter[str]) -> str:
    """``GPU:0`` when all nodes are on one device, ``GPU:0 12 · CPU:0 3`` otherwise."""
    if not counts:
        return "-"
    if len(counts) == 1:
        return next(iter(counts))
    return " · ".join(f"{dev} {n}" for dev, n in counts.most_common())


class PlacementState:
    def __init__(self) -> None:
        self.version = 0
        self.fallback_version = 0
        self.shape_version = 0
        self.op_rows: dict[tuple[str, str], OpRow] = {}
        self.layer_rows: dict[str, LayerRow] = {}
        self.fallbacks: list[dict] = []
        self.warnings: list[dict] = []
        self.devices: dict[str, Any] = {}
        self.findings: list[dict] = []
        self.compute_nodes: Counter[str] = Counter()  # device type -> compute graph nodes
        self.total_nodes = 0
        self.eager_executions = 0
        self._groups_cache: tuple[int, list[dict]] = (-1, [])
        self._layer_of_scope: dict[str, str] = {}  # graph scope -> Keras layer name

    # -- folding -------------------------------------------------------------

    def apply(self, event: dict) -> None:
        kind = event["type"]
        if kind == events.PLACEMENT:
            self._apply_placement(event)
        elif kind == events.FALLBACK:
            self._apply_fallback(event)
        elif kind == events.DEVICES:
            self._apply_devices(event)
        elif kind == events.TF_WARNING:
            self.warnings.append(event)
            self._bump(fallbacks=True)
        elif kind == events.ENVIRONMENT:
            self.findings = list(event.get("findings") or [])
            self._bump(fallbacks=True)
        elif kind == events.FIT_START and event.get("layer_scopes"):
            self._learn_layer_names(event["layer_scopes"])

    def _learn_layer_names(self, scopes: dict[str, str]) -> None:
        """Show layers by the names the model gave them (``layers.keras3_scopes``);
        rows already made under a scope name are renamed (merged)."""
        self._layer_of_scope.update(scopes)
        version = self._bump(fallbacks=True)
        for scope in [s for s in self.layer_rows if s in scopes]:
            old = self.layer_rows.pop(scope)
            row = self._layer_row(scopes[scope])
            for phase, devices in old.phases.items():
                row.phases[phase].update(devices)
            row.ops |= old.ops
            row.fallbacks += old.fallbacks
            row.version = version
        for op_row in self.op_rows.values():
            if op_row.layers & scopes.keys():
                op_row.layers = {scopes.get(layer, layer) for layer in op_row.layers}
                op_row.version = version
        self.fallbacks = [_named(fb, scopes) for fb in self.fallbacks]

    def _bump(self, fallbacks: bool = False, shape: bool = True) -> int:
        self.version += 1
        if shape:
            self.shape_version += 1
        if fallbacks:
            self.fallback_version += 1
        return self.version

    def _op_row(self, op: str, device: str) -> OpRow:
        row = self.op_rows.get((op, device))
        if row is None:
            row = self.op_rows[(op, device)] = OpRow(op, device)
        return row

    def _layer_row(self, layer: str) -> LayerRow:
        row = self.layer_rows.get(layer)
        if row is None:
            row = self.layer_rows[layer] = LayerRow(layer)
        return row

    def _apply_placement(self, event: dict) -> None:
        nodes = event.get("nodes") or ()
        eager = event.get("eager") or {}
        if not nodes and not eager:
            return
        rows_before = len(self.op_rows) + len(self.layer_rows)
        version = self._bump(shape=False)
        for name, op, device in nodes:
            row = self._op_row(op, device)
            row.nodes += 1
            row.version = version
            self.total_nodes += 1
            if not rules.is_compute(op):
                continue
            self.compute_nodes[device_type(device)] += 1
            layer, phase = layers.attribute(name)
            if layer is not None:
                layer = self._layer_of_scope.get(layer, layer)
                row.layers.add(layer)
                lrow = self._layer_row(layer)
                lrow.phases[phase][device] += 1
                lrow.ops.add(op)
                lrow.version = version
        for key, n in eager.items():
            op, _, device = key.rpartition("@")
            row = self._op_row(op, device)
            row.eager += n
            row.version = version
            self.eager_executions += n
        if len(self.op_rows) + len(self.layer_rows) != rows_before:
            self.shape_version += 1  # a row the pane has never shown: not a count to hold back

    def _apply_fallback(self, event: dict) -> None:
        version = self._bump(fallbacks=True)
        # a copy: the same dict goes to the recorder, which keeps what TF logged
        event = _named(event, self._layer_of_scope)
        self.fallbacks.append(event)
        row = self._op_row(event["op"], event["device"])
        row.fallbacks += 1
        row.version = version
        layer = event.get("layer")
        if layer:
            lrow = self._layer_row(layer)
            lrow.fallbacks += 1
            lrow.version = version

    def _apply_devices(self, event: dict) -> None:
        # Log banners and TF's own listing complement each other: merge, newest wins.
        for key, value in event.items():
            if key not in ("type", "t") and value not in (None, [], {}):
                self.devices[key] = value
        self._bump(fallbacks=True)

    # -- views ---------------------------------------------------------------

    @property
    def fallback_count(self) -> int:
        return len(self.fallbacks)

    @property
    def gpu_visible(self) -> bool:
        if self.devices.get("gpus") or self.compute_nodes.get("GPU"):
            return True
        return any(device_type(d.get("name", "")) == "GPU" for d in self.devices.get("logical", []))

    @property
    def backend(self) -> str:
        if not self.gpu_visible:
            return "CPU"
        return self.devices.get("backend") or "GPU"

    def device_summary(self) -> str:
        """``Metal · Apple M4`` / ``CUDA · Tesla T4`` / ``CPU only``."""
        if not self.gpu_visible:
            return "CPU only"
        name = self.devices.get("accelerator")
        return f"{self.backend} · {name}" if name and name != self.backend else self.backend

    def header_summary(self) -> str:
        """One line for the header, e.g. ``ops: 212 GPU · 3 CPU fallbacks``."""
        gpu = self.compute_nodes.get("GPU", 0)
        cpu = self.compute_nodes.get("CPU", 0)
        if not self.gpu_visible:
            return f"CPU only · ops: {cpu} CPU" if cpu else "CPU only"
        n = self.fallback_count
        falls = f"{n} CPU fallback{'s' if n != 1 else ''}" if n else "no CPU fallbacks"
        return f"ops: {gpu} GPU · {falls}"

    def problem_findings(self) -> list[dict]:
        """Environment findings that are not ok (for the "no GPU visible, and why" banner)."""
        return [f for f in self.findings if f.get("status") in ("warn", "fail")]

    def fallback_groups(self) -> list[dict]:
        """Fallbacks grouped by (layer, op type), heaviest first.

        Each group: layer, op, device(s), count, weight (sum), reason_code,
        reason, advice, nodes (names), phases.
        """
        if self._groups_cache[0] == self.fallback_version:
            return self._groups_cache[1]
        groups: dict[tuple[str, str], dict] = {}
        for fb in self.fallbacks:
            layer = fb.get("layer") or ""
            key = (layer, fb["op"])
            group = groups.get(key)
            if group is None:
                group = groups[key] = {
                    "layer": layer,
                    "op": fb["op"],
                    "devices": [],
                    "count": 0,
                    "weight": 0.0,
                    "reason_code": fb.get("reason_code"),
                    "reason": fb.get("reason"),
                    "advice": fb.get("advice"),
                    "nodes": [],
                    "phases": [],
                }
            group["count"] += 1
            group["weight"] += float(fb.get("weight", 1.0))
            group["nodes"].append(fb.get("node"))
            for field, value in (("devices", fb.get("device")), ("phases", fb.get("phase"))):
                if value and value not in group[field]:
                    group[field].append(value)
        ordered = sorted(groups.values(), key=lambda g: (-g["weight"], g["layer"], g["op"]))
        self._groups_cache = (self.fallback_version, ordered)
        return ordered
