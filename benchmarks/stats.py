"""Pure helpers shared by the benchmarks: medians, ratios against a baseline, text tables.

No I/O and no TensorFlow: ``tests/unit/test_benchmarks_smoke.py`` runs these.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence


def median(values: Iterable[float | None]) -> float | None:
    """Median of the values that are not None; None when there are none."""
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100), nearest rank; None for no values."""
    vals = sorted(values)
    if not vals:
        return None
    k = max(0, min(len(vals) - 1, round(q / 100 * (len(vals) - 1))))
    return vals[k]


def ratio(value: float | None, base: float | None) -> float | None:
    if value is None or not base:
        return None
    return value / base


def paired_ratios(runs: list[dict], key: str, baseline: str = "plain") -> dict[str, dict[str, list[float]]]:
    """Per round, each variant's ``key`` over the baseline's in the same round.

    Rounds alternate the variants back to back, so a ratio within one round
    cancels the machine's drift between rounds (other load, thermal state): on
    a shared VM its spread is the honest size of the noise.
    Returns {script: {variant: [ratio per round, in round order]}}.
    """
    base: dict[tuple[str, int], float] = {}
    for run in runs:
        if run.get("ok") and run["variant"] == baseline and run.get(key):
            base[(run["script"], run.get("round", 0))] = run[key]
    out: dict[str, dict[str, list[float]]] = {}
    for run in sorted(runs, key=lambda r: r.get("round", 0)):
        b = base.get((run["script"], run.get("round", 0)))
        if run.get("ok") and b and run.get(key) is not None:
            out.setdefault(run["script"], {}).setdefault(run["variant"], []).append(run[key] / b)
    return out


def summarize(runs: list[dict], keys: Sequence[str], baseline: str = "plain") -> dict[str, dict[str, dict]]:
    """Medians of ``keys`` by (script, variant), with each median's ratio to the baseline variant's.

    ``runs``: one dict per run with "script", "variant", "ok" and the measured keys.
    Returns {script: {variant: {key: median, key + "_ratio": ..., "n": runs}}}, and for
    each key the median, lowest and highest of the per-round ratios (``paired_ratios``)
    as key + "_paired", "_paired_min", "_paired_max".
    """
    grouped: dict[str, dict[str, list[dict]]] = {}
    for run in runs:
        if not run.get("ok"):
            continue
        grouped.setdefault(run["script"], {}).setdefault(run["variant"], []).append(run)
    out: dict[str, dict[str, dict]] = {}
    for script, variants in grouped.items():
        meds = {v: {k: median(r.get(k) for r in rs) for k in keys} | {"n": len(rs)} for v, rs in variants.items()}
        base = meds.get(baseline, {})
        for row in meds.values():
            for k in keys:
                row[k + "_ratio"] = ratio(row[k], base.get(k))
                if row[k] is not None and base.get(k) is not None:
                    row[k + "_delta"] = row[k] - base[k]
                else:
                    row[k + "_delta"] = None
        for k in keys:
            for variant, ratios in paired_ratios(runs, k, baseline).get(script, {}).items():
                meds[variant] |= {k + "_paired": median(ratios), k + "_paired_min": min(ratios),
                                  k + "_paired_max": max(ratios)}
        out[script] = meds
    return out


def fmt(value, spec: str = ".2f", none: str = "-") -> str:
    if value is None:
        return none
    if isinstance(value, str):
        return value
    return format(value, spec)


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain text table (also valid Markdown): first column left-aligned, the others right."""
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]

    def line(cells):
        parts = [str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths))]
        return "| " + " | ".join(parts) + " |"

    sep = "|" + "|".join(("-" * (w + 1) + ":") if i else ("-" * (w + 2)) for i, w in enumerate(widths)) + "|"
    return "\n".join([line(header), sep, *(line(r) for r in rows)])
