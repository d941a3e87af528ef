"""What a ``tf.data`` pipeline passed to ``fit`` is made of: read from its Python
objects (each dataset knows its inputs), never by iterating it.

The verdict's input-bound rule says which of ``cache()``, ``prefetch()`` and
``num_parallel_calls`` the pipeline lacks; this is where it learns that.
"""

from __future__ import annotations

from typing import Any

MAX_STAGES = 200  # a pipeline, not a graph walk: zip/interleave trees stay small
_PY_FUNC_OPS = frozenset({"EagerPyFunc", "PyFunc", "PyFuncStateless"})


def stage_name(dataset: Any) -> str:
    """``_ParallelMapDataset`` -> ``ParallelMap``; ``CacheDataset`` -> ``Cache``."""
    name = type(dataset).__name__.lstrip("_")
    return name[: -len("Dataset")] if name.endswith("Dataset") and name != "Dataset" else name


def _calls_python(dataset: Any) -> bool:
    """A map whose function runs Python (``tf.py_function``/``numpy_function``)."""
    try:
        graph = dataset._map_func.function.graph
        return any(op.type in _PY_FUNC_OPS for op in graph.get_operations())
    except Exception:
        return False


def dataset_facts(x: Any) -> dict[str, Any] | None:
    """``{"stages", "cache", "prefetch", "maps", "parallel_maps", "py_function"}`` for a
    tf.data dataset (stages from the source to what fit reads), None for anything else
    (arrays, generators: Keras builds their pipeline itself)."""
    if not (hasattr(x, "_inputs") and hasattr(x, "element_spec")):
        return None
    stages: list[str] = []
    py_function = False
    todo, seen = [x], 0
    try:
        while todo and seen < MAX_STAGES:
            ds = todo.pop()
            seen += 1
            name = stage_name(ds)
            stages.append(name)
            if "Map" in name and not py_function:
                py_function = _calls_python(ds)
            todo.extend(ds._inputs())
    except Exception:
        return None
    stages.reverse()
    return {
        "stages": stages,
        "cache": any(s.startswith("Cache") or s == "Snapshot" for s in stages),
        "prefetch": any(s.startswith("Prefetch") for s in stages),
        "maps": sum(s in ("Map", "MapAndBatch") for s in stages),
        "parallel_maps": sum(s.startswith("Parallel") for s in stages),
        "py_function": py_function,
    }
