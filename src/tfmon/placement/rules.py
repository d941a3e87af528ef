"""Which CPU placements are fallbacks, why, and how much they matter.

A *fallback* is a compute op placed on a CPU while a GPU device is visible.
Ops that live on the host by nature are not fallbacks (``HOST_SIDE_OPS`` plus
tf.data datasets/iterators and function-call ops, see ``is_host_side``).

The reason comes from TensorFlow's kernel registry
(``tensorflow.python.framework.kernels.get_registered_kernels_for_op``): either
no GPU kernel takes a floating-point type (none at all, or only an int32 one for
shape arithmetic), or one exists and something else pinned the op to the CPU (a
float dtype the GPU kernel does not take, colocation with a host tensor or
resource, an explicit ``tf.device``). The op's own dtype is not in the placement
log, so the reason says which float dtypes the GPU kernel takes.
The registry is injected: any callable ``op_type -> {device_type: dtypes} | None``.
"""

from __future__ import annotations

import re
import sys
import threading
from typing import Callable, Collection, Mapping, Optional

from tfmon.placement.layers import LOSS_LAYER, OPTIMIZER

#: op_type -> {device_type: set of dtype names its kernels accept (empty: any)},
#: or None when the registry cannot answer (TensorFlow not imported, replay).
KernelRegistry = Callable[[str], Optional[Mapping[str, Collection[str]]]]

# Host-side by nature: function plumbing and host constants. Kept small and
# explicit on purpose (tests/unit/test_placement_rules.py pins it); anything
# else on a CPU next to a visible GPU is worth a look.
HOST_SIDE_OPS = frozenset(
    {
        "_Arg", "_Retval", "_DeviceArg", "_DeviceRetval",  # function inputs/outputs
        "_Send", "_Recv", "_HostSend", "_HostRecv",  # cross-device transfers
        "NoOp", "Const", "HostConst", "Placeholder",
        "_EagerConst",  # copies a host value in; where it lands is not a compute choice
        "PyFunc", "PyFuncStateless", "EagerPyFunc",  # Python code runs on the host
    }
)
_FUNCTION_CALL_OPS = frozenset({"StatefulPartitionedCall", "PartitionedCall"})


def is_function_call(op: str) -> bool:
    """An eager call of a traced function (``__inference_train_step_123``), not an op."""
    return op.startswith("__") or op in _FUNCTION_CALL_OPS


def is_host_side(op: str) -> bool:
    """True for ops that belong on the host whatever the accelerator."""
    return (
        op in HOST_SIDE_OPS
        or "Dataset" in op  # TensorSliceDataset, BatchDatasetV2, DatasetCardinality...
        or "Iterator" in op  # AnonymousIteratorV3, MakeIterator, IteratorGetNext...
        or op.startswith("Optional")  # OptionalGetValue etc. of iterator.get_next_as_optional
        or is_function_call(op)
    )


def is_compute(op: str) -> bool:
    return not is_host_side(op)


# --- weights ---------------------------------------------------------------

HEAVY = 10.0
MEDIUM = 1.0
LIGHT = 0.1

# Matrix products, convolutions, pooling, softmax, their gradients, optimizer
# apply ops, batch norm, fused RNNs: each is worth many elementwise ops.
_HEAVY = re.compile(
    r"(?:Batch)?MatMul|Conv|DepthwiseConv|\w*Pool|(?:Log)?Softmax|\w*SoftmaxCrossEntropy"
    r"|Einsum|(?:Resource)?(?:Sparse)?Apply|FusedBatchNorm|CudnnRNN|BlockLSTM|LSTMBlock"
    r"|GRUBlock|LRN|BiasAddGrad|Resize|TopKV2|Xla(?:Dot|Conv)"
)
# Metadata and variable plumbing: cheap wherever it runs.
_LIGHT = frozenset(
    {
        "Shape", "ShapeN", "Rank", "Size", "Reshape", "Identity", "IdentityN",
        "ExpandDims", "Squeeze", "StridedSlice", "Pack", "Unpack", "Fill",
        "ZerosLike", "OnesLike", "BroadcastGradientArgs", "Cast", "_EagerConst",
        "Range", "Snapshot", "StopGradient", "PreventGradient", "ReadVariableOp",
        "AssignVariableOp", "AssignAddVariableOp", "AssignSubVariableOp",
        "VarHandleOp", "VarIsInitializedOp", "DestroyResourceOp",
    }
)


def op_weight(op: str) -> float:
    """How much a CPU placement of this op type costs, relative: HEAVY > MEDIUM > LIGHT."""
    if _HEAVY.match(op):
        return HEAVY
    if op in _LIGHT:
        return LIGHT
    return MEDIUM


# --- registries ------------------------------------------------------------


class TFKernelRegistry:
    """The installed TensorFlow's kernel registry, cached per op type.

    It never imports TensorFlow itself: it answers only once the user's script
    has imported it (a placement line implies it has), and None before. The
    reader threads call it, hence the lock around the cache.
    """

    def __init__(self) -> None:
        self._cache: dict[str, dict[str, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def __call__(self, op: str) -> Mapping[str, Collection[str]] | None:
        with self._lock:
            hit = self._cache.get(op)
        if hit is not None:
            return hit
        if "tensorflow" not in sys.modules:
            return None
        try:
            from tensorflow.core.framework import types_pb2
            from tensorflow.python.framework import kernels

            kernel_list = kernels.get_registered_kernels_for_op(op)
        except Exception:  # an unknown op name, a half-imported TF: "don't know"
            return None
        found: dict[str, set[str]] = {}
        for kernel in kernel_list.kernel:
            if kernel.device_type.startswith("XLA_"):
                # XLA_CPU_JIT / XLA_GPU_JIT register once XLA has initialised: they are
                # compilation targets, not devices a graph node is placed on.
                continue
            dtypes = found.setdefault(kernel.device_type, set())
            for constraint in kernel.constraint:
                if constraint.name in ("T", "dtype"):
                    for value in constraint.allowed_values.list.type:
                        dtypes.add(dtype_name(types_pb2.DataType.Name(value)))
        result = {dev: frozenset(d) for dev, d in found.items()}
        with self._lock:
            self._cache[op] = result
        return result


def dtype_name(proto_name: str) -> str:
    # DT_FLOAT -> float32 style names, as users write them in Python.
    name = proto_name.removeprefix("DT_").lower()
    return {"float": "float32", "double": "float64", "half": "float16"}.get(name, name)


def static_registry(
    table: Mapping[str, Collection[str] | Mapping[str, Collection[str]]],
) -> KernelRegistry:
    """A fake registry for tests and replays: ``{"Op": ["CPU", "GPU"]}`` or
    ``{"Op": {"GPU": ["float32"]}}``; ops not in the table are unknown (None)."""

    def lookup(op: str) -> Mapping[str, Collection[str]] | None:
        entry = table.get(op)
        if entry is None:
            return None
        if isinstance(entry, Mapping):
            return {dev: frozenset(d) for dev, d in entry.items()}
        return {dev: frozenset() for dev in entry}

    return lookup


# --- classification --------------------------------------------------------

NO_GPU_KERNEL = "no_gpu_kernel"
GPU_KERNEL_EXISTS = "gpu_kernel_exists"
UNKNOWN = "unknown"


def gpu_kernel_dtypes(kernels: Mapping[str, Collection[str]]) -> frozenset[str] | None:
    """Dtypes the GPU kernels take (empty: unconstrained), None if no GPU kernel.

    A ``DEFAULT`` kernel (host-memory int32 ops) runs on any device, so it counts.
    """
    gpu = [d for dev, d in kernels.items() if dev in ("GPU", "DEFAULT")]
    if not gpu:
        return None
    return frozenset().union(*gpu)


#: The floating-point dtypes a model computes in; a GPU kernel that takes none of
#: them is a host-memory kernel for shapes and indices (int32), not for the model's math.
FLOAT_DTYPES = ("float16", "float32", "float64")


def classify(
    op: str, registry: KernelRegistry | None, node: str, layer: str | None, backend: str | None = None,
    phase: str | None = None,
) -> dict:
    """``reason_code``, ``reason``, ``advice`` (and ``gpu_dtypes``) for one fallback.

    ``backend`` (``Metal``, ``CUDA``, a plugin's device name) only adds the
    Metal-specific remark where the GPU is Metal. ``phase`` tells an optimizer's
    update (``layer`` is then the optimizer's scope, not a layer) from a layer's op.
    """
    where = _where(node, layer, phase)
    kernels = None
    if registry is not None:
        try:
            kernels = registry(op)
        except Exception:
            kernels = None
    if kernels is None:
        return {
            "reason_code": UNKNOWN,
            "reason": f"TensorFlow's kernel registry could not be read for {op}",
            "advice": (
                f"Look at {where}: a float64 input, a tf.device('/CPU:0') scope, or an op "
                "with no GPU kernel in this build; `tfmon doctor` checks the install."
            ),
            "gpu_dtypes": [],
        }
    dtypes = gpu_kernel_dtypes(kernels)
    if dtypes is None or (dtypes and not dtypes.intersection(FLOAT_DTYPES)):
        if dtypes is None:
            registered = ", ".join(sorted(kernels)) or "none"
            reason = f"no GPU kernel is registered for {op} (registered: {registered})"
        else:
            reason = (
                f"the only GPU kernel for {op} takes {_listed(dtypes)} (shape and index "
                f"arithmetic), not a floating-point type: a float {op} has no GPU kernel"
            )
        gap = " (with Metal: tensorflow-metal does not implement it)" if backend == "Metal" else ""
        if phase == OPTIMIZER and layer:
            # An optimizer's update cannot move into tf.data, nor be swapped for a layer.
            change = (
                f"The optimizer '{layer}' updates the weights with it, so every step copies them to the CPU and "
                "back: compare another optimizer's step time (SGD, or Adam with other options)."
            )
        else:
            change = (
                f"Change {where} to one whose ops have GPU kernels, or move this work into "
                "the tf.data pipeline; otherwise every step copies tensors to the CPU and back."
            )
        return {
            "reason_code": NO_GPU_KERNEL,
            "reason": reason,
            "advice": f"{op} cannot run on the GPU in this build{gap}. {change}",
            "gpu_dtypes": sorted(dtypes or ()),
        }
    missing = [f for f in FLOAT_DTYPES if dtypes and f not in dtypes]
    if missing:
        taken = _listed(d for d in dtypes if d in FLOAT_DTYPES)
        reason = (
            f"a GPU kernel for {op} exists for {taken} only, not for {_listed(missing, 'or')}: "
            f"a {_listed(missing, 'or')} {op} runs on the CPU (a {taken} one was pinned there by "
            "colocation with a host tensor or resource, or an explicit tf.device)"
        )
    else:
        reason = (
            f"a GPU kernel for {op} takes every float type, so something else pinned it to the CPU: "
            "colocation with a host tensor or resource, or an explicit tf.device"
        )
    return {
        "reason_code": GPU_KERNEL_EXISTS,
        "reason": reason,
        "advice": (
            f"In {where}: cast inputs to float32 (keras.config.set_floatx('float32'), "
            "no float64 numpy arrays), remove any tf.device('/CPU:0') scope around it, "
            "and keep its variables and inputs on the GPU."
        ),
        "gpu_dtypes": sorted(dtypes),
    }


def _where(node: str, layer: str | None, phase: str | None) -> str:
    """What the advice names: the optimizer, the loss, a layer, or the node's code."""
    if not layer:
        return f"the code that creates '{node}'"
    if phase == OPTIMIZER:
        return f"the optimizer '{layer}'"
    if layer == LOSS_LAYER:
        return "the loss function"
    return f"layer '{layer}'"


def _listed(items, last: str = "and") -> str:
    """``float16, float32 and float64``."""
    items = sorted(items)
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {last} {items[-1]}"
