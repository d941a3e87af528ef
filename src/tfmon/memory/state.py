"""MemoryState: folds ``memory``, ``memory_epoch`` and ``memory_warning`` events into
what the memory pane shows. Pure Python (no Textual), cheap per event.

``rows()`` is the pane's view: one ``Row`` per figure present in the latest
sample, in a fixed order; a source that is absent has no row.
"""

from __future__ import annotations

import collections
import re
from dataclasses import dataclass
from typing import Any

from tfmon import events
from tfmon.memory.readers import TF_NOTES, TF_OK, TF_UNREPORTED, TF_WAITING
from tfmon.memory.units import fmt_mb

HISTORY_LEN = 600  # samples kept for the sparklines: 5 minutes at the default 0.5 s
MAX_WARNINGS = 50
MAX_EPOCHS = 1000

_HISTORY_KEY = re.compile(
    r"^(proc_rss_mb|proc_cpu_pct|sys_used_mb|swap_used_mb|agx_dev_pct|agx_inuse_mb"
    r"|tf_gpu\d+_mb|nv\d+_util_pct|nv\d+_used_mb)$"
)
_NOT_FIELDS = ("type", "t")


@dataclass(frozen=True)
class Row:
    key: str  # stable id of the row (a widget id in the pane)
    label: str
    text: str
    fraction: float | None = None  # 0..1 against the total, for the bar; None: no bar
    history: tuple[float, ...] | None = None  # for the sparkline; None: no sparkline


def _frac(value: float | None, total: float | None) -> float | None:
    if value is None or not total:
        return None
    return max(0.0, min(1.0, value / total))


class MemoryState:
    def __init__(self, history_len: int = HISTORY_LEN) -> None:
        self.version = 0
        self.latest: dict[str, Any] = {}
        self.samples = 0
        self.histories: dict[str, collections.deque[float]] = {}
        self.epochs: collections.deque[dict[str, Any]] = collections.deque(maxlen=MAX_EPOCHS)
        self.warnings: collections.deque[dict[str, Any]] = collections.deque(maxlen=MAX_WARNINGS)
        self._history_len = history_len
        self._is_history_key: dict[str, bool] = {}

    def apply(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind == events.MEMORY:
            fields = {k: v for k, v in event.items() if k not in _NOT_FIELDS}
            self.latest = fields
            self.samples += 1
            for key, value in fields.items():
                keep = self._is_history_key.get(key)
                if keep is None:
                    keep = self._is_history_key[key] = bool(_HISTORY_KEY.match(key))
                if keep and isinstance(value, (int, float)):
                    hist = self.histories.get(key)
                    if hist is None:
                        hist = self.histories[key] = collections.deque(maxlen=self._history_len)
                    hist.append(float(value))
        elif kind == events.MEMORY_EPOCH:
            self.epochs.append(event)
        elif kind == events.MEMORY_WARNING:
            self.warnings.append(event)
        else:
            return
        self.version += 1

    # --- views ---------------------------------------------------------------------

    def _hist(self, key: str) -> tuple[float, ...] | None:
        h = self.histories.get(key)
        return tuple(h) if h else None

    def rows(self) -> list[Row]:
        f = self.latest
        total = f.get("sys_total_mb")
        rows: list[Row] = []
        if "proc_rss_mb" in f:
            rows.append(Row("proc", "Process", f"{fmt_mb(f['proc_rss_mb'])} RSS",
                            _frac(f["proc_rss_mb"], total), self._hist("proc_rss_mb")))
        if "proc_footprint_mb" in f:
            rows.append(Row("footprint", "Footprint", f"{fmt_mb(f['proc_footprint_mb'])} private",
                            _frac(f["proc_footprint_mb"], total)))
        if "proc_cpu_pct" in f:
            threads = f.get("proc_threads")
            text = f"{f['proc_cpu_pct']:.0f}%" + (f" · {threads} thread{'s' if threads != 1 else ''}" if threads else "")
            rows.append(Row("cpu", "CPU", text, None, self._hist("proc_cpu_pct")))
        if "sys_used_mb" in f and total:
            rows.append(Row("system", "System", f"{fmt_mb(f['sys_used_mb'])} / {fmt_mb(total)}",
                            _frac(f.get("sys_pct"), 100), self._hist("sys_used_mb")))
        if f.get("swap_total_mb"):
            grow = " rising" if f.get("swap_growing") else ""
            rows.append(Row("swap", "Swap", f"{fmt_mb(f['swap_used_mb'])} / {fmt_mb(f['swap_total_mb'])}{grow}",
                            _frac(f["swap_used_mb"], f["swap_total_mb"]), self._hist("swap_used_mb")))
        if "pressure_free_pct" in f:
            free = f["pressure_free_pct"]
            rows.append(Row("pressure", "Pressure", f"{free:.0f}% free", _frac(100 - free, 100)))
        rows += self._tf_rows(f)
        if "agx_dev_pct" in f:
            parts = [f"{f['agx_dev_pct']}% busy"]
            if "agx_renderer_pct" in f:
                parts.append(f"rend {f['agx_renderer_pct']}%")
            rows.append(Row("agx", "Apple GPU", " · ".join(parts), _frac(f["agx_dev_pct"], 100),
                            self._hist("agx_dev_pct")))
        if "agx_inuse_mb" in f:
            text = f"{fmt_mb(f['agx_inuse_mb'])} in use"
            if "agx_alloc_mb" in f:
                text += f" · {fmt_mb(f['agx_alloc_mb'])} alloc"
            rows.append(Row("agx_mem", "GPU mem", text, _frac(f["agx_inuse_mb"], total), self._hist("agx_inuse_mb")))
        for i in range(8):
            if f"nv{i}_used_mb" not in f:
                break
            used, cap = f[f"nv{i}_used_mb"], f.get(f"nv{i}_total_mb")
            rows.append(Row(f"nv{i}", f"NV{i} mem", f"{fmt_mb(used)} / {fmt_mb(cap or 0)}",
                            _frac(used, cap), self._hist(f"nv{i}_used_mb")))
            if f"nv{i}_util_pct" in f:
                rows.append(Row(f"nv{i}_util", f"NV{i} util", f"{f[f'nv{i}_util_pct']}%",
                                _frac(f[f"nv{i}_util_pct"], 100), self._hist(f"nv{i}_util_pct")))
        return rows

    def _tf_rows(self, f: dict[str, Any]) -> list[Row]:
        status = f.get("tf_status")
        if status is None:
            return []
        if status == TF_WAITING:
            return [Row("tf", "TF alloc", "read once fit() starts")]
        if status == TF_UNREPORTED:
            note = TF_NOTES.get(f.get("tf_note", ""), "")
            return [Row("tf", "TF alloc", "not reported by this backend" + (f" ({note})" if note else ""))]
        rows = []
        for i in range(8):
            cur = f.get(f"tf_gpu{i}_mb")
            if cur is None or status != TF_OK:
                break
            peak = f.get(f"tf_gpu{i}_peak_mb")
            text = fmt_mb(cur) + (f" (peak {fmt_mb(peak)})" if peak is not None else "")
            cap = f.get(f"nv{i}_total_mb")
            rows.append(Row("tf" if i == 0 else f"tf{i}", f"TF GPU:{i}", text, _frac(cur, cap),
                            self._hist(f"tf_gpu{i}_mb")))
        return rows

    def leak_line(self) -> str | None:
        """Growth per epoch from the latest ``memory_epoch``; None before the first epoch end."""
        if not self.epochs:
            return None
        e = self.epochs[-1]
        n = e.get("n", len(self.epochs))
        if e.get("rss_slope_mb") is None:
            return f"Growth/epoch: shown from the 3rd epoch ({n} so far)"
        text = f"Growth/epoch: process {e['rss_slope_mb']:+.0f} MB"
        if e.get("gpu_slope_mb") is not None:
            text += f", GPU {e['gpu_slope_mb']:+.0f} MB"
        text += f" over {n} epochs"
        if any(w.get("kind") == "leak" for w in self.warnings):
            text += "  LEAK?"
        return text

    def warning_lines(self, last: int = 3) -> list[str]:
        return [str(w.get("message", w.get("kind", "warning"))) for w in list(self.warnings)[-last:]]
