"""Memory warnings with advice, each raised once per run. Pure: fields in, warnings out.

Thresholds: system memory at or above ``SYSTEM_PCT`` (90 %); swap growing
(see ``sources.SwapTrend``) while training; TensorFlow's allocator on a GPU
holding ``GPU_FRACTION`` (90 %) of that GPU's memory or more (CUDA: the total
comes from NVML, so this needs nvidia-ml-py). Leak warnings come from
``leak.py`` through ``raise_once``.
"""

from __future__ import annotations

from typing import Any

from tfmon.memory.units import fmt_mb

SYSTEM_PCT = 90.0
GPU_FRACTION = 0.9
ADVICE = "reduce the batch size, or enable memory growth (--memory-growth)"


class MemoryAlerts:
    def __init__(self, system_pct: float = SYSTEM_PCT, gpu_fraction: float = GPU_FRACTION) -> None:
        self.system_pct = system_pct
        self.gpu_fraction = gpu_fraction
        self._raised: set[str] = set()

    def raise_once(self, key: str, kind: str, message: str, **extra: Any) -> list[dict[str, Any]]:
        """``[warning]`` the first time ``key`` is raised, ``[]`` after."""
        if key in self._raised:
            return []
        self._raised.add(key)
        return [{"kind": kind, "message": message, **extra}]

    def check(self, f: dict[str, Any], training: bool) -> list[dict[str, Any]]:
        """Warnings for one ``memory`` sample's fields."""
        out: list[dict[str, Any]] = []
        pct = f.get("sys_pct")
        if pct is not None and pct >= self.system_pct:
            out += self.raise_once(
                "system_memory", "system_memory",
                f"system memory {pct:.0f}% used ({fmt_mb(f.get('sys_used_mb', 0))} of "
                f"{fmt_mb(f.get('sys_total_mb', 0))}): {ADVICE}",
                pct=pct,
            )
        if training and f.get("swap_growing"):
            out += self.raise_once(
                "swap_growing", "swap_growing",
                f"swap is growing during training ({fmt_mb(f.get('swap_used_mb', 0))} used): {ADVICE}",
                swap_used_mb=f.get("swap_used_mb"),
            )
        for i in range(8):
            cur = f.get(f"tf_gpu{i}_mb")
            if cur is None:
                break
            total = f.get(f"nv{i}_total_mb")
            if total and cur >= self.gpu_fraction * total:
                out += self.raise_once(
                    f"gpu_limit{i}", "gpu_limit",
                    f"TensorFlow's allocator on GPU:{i} holds {fmt_mb(cur)} of {fmt_mb(total)} "
                    f"({100 * cur / total:.0f}%), near its limit: {ADVICE}",
                    gpu=i, gpu_mb=cur, total_mb=total,
                )
        return out
