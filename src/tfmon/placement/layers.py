"""Attribute a graph node to a Keras layer and a training phase from its name.

Keras builds its train step inside name scopes, so node names carry the path:

* ``StatefulPartitionedCall/sequential_1/conv2d_1/convolution``         -> conv2d_1, forward
* ``StatefulPartitionedCall/gradient_tape/sequential_1/dense_1/MatMul/MatMul`` -> dense_1, backward
* ``StatefulPartitionedCall/adam_w/Mul_9``                              -> adam_w, optimizer
* ``StatefulPartitionedCall/compile_loss/binary_crossentropy/Mean``     -> loss, forward
* ``StatefulPartitionedCall/replica_1/sequential_1/dense_1/MatMul``     -> dense_1, forward
  (MirroredStrategy's second replica; its device tells the replicas apart)

The outermost model scope is skipped and the next scope is the layer (a nested
model therefore shows as one layer). Names without such a path (the step's
own bookkeeping, eager ops) have no layer.

Those scopes are not quite the layers' names under Keras 3: TensorFlow makes
each name scope unique in its graph, and Keras 3 opens a layer's scope twice,
so layers ``dense`` and ``dense_1`` run under ``dense_1`` and ``dense_1_2``.
``keras3_scopes`` replays that renaming from the model's layer names, which
the Keras probe sends with ``fit_start``; tf.keras (2.x) scopes are the names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

FORWARD = "forward"
BACKWARD = "backward"
OPTIMIZER = "optimizer"
PHASES = (FORWARD, BACKWARD, OPTIMIZER)

# tf.function call wrappers that prefix every node of an inlined function.
_WRAPPER = re.compile(r"(?:Stateful)?PartitionedCall(?:_\d+)?$")
_NUM_SUFFIX = re.compile(r"_\d+$")
# MirroredStrategy: replicas after the first run their step under replica_N/.
_REPLICA = re.compile(r"replica_\d+$")

#: Optimizer name scopes: Keras 3 snake-cases the class name (AdamW -> adam_w,
#: RMSprop -> rm_sprop); tf.keras 2 used the class name itself (Adam, SGD).
OPTIMIZER_SCOPES = frozenset(
    {
        "adam", "adam_w", "adamw", "sgd", "rm_sprop", "rmsprop", "adagrad",
        "adadelta", "adamax", "nadam", "ftrl", "lion", "lamb", "adafactor",
        "muon", "loss_scale_optimizer", "schedule_free_adam_w", "multi_optimizer",
        "gradient_descent", "momentum",
    }
)
_GRADIENT_SCOPES = ("gradient_tape", "gradients")
LOSS_LAYER = "loss"


def is_optimizer_scope(scope: str) -> bool:
    s = scope.lower()
    return s in OPTIMIZER_SCOPES or _NUM_SUFFIX.sub("", s) in OPTIMIZER_SCOPES


def attribute(name: str) -> tuple[str | None, str]:
    """``(layer or None, phase)`` for a graph node name."""
    parts = name.split("/")
    i = 0
    while i < len(parts) - 1 and _WRAPPER.match(parts[i]):
        i += 1
    if i:
        parts = parts[i:]
    parts = _without_replica(parts)
    head = parts[0]
    if head == "Func" or "Initializer" in parts:
        # Func/...: identities added when a function is inlined;
        # .../Initializer/...: variable creation, not a training phase.
        return None, FORWARD
    phase = FORWARD
    if head in _GRADIENT_SCOPES and len(parts) > 1:
        phase = BACKWARD
        parts = _without_replica(parts[1:])
        head = parts[0]
    if len(parts) >= 2 and is_optimizer_scope(head):
        return head, OPTIMIZER
    if head == "compile_loss" or head == "loss":
        return LOSS_LAYER, phase
    if len(parts) >= 3:
        # model scope / layer scope / op...
        return parts[1], phase
    return None, phase


def _without_replica(parts: list[str]) -> list[str]:
    return parts[1:] if len(parts) > 1 and _REPLICA.match(parts[0]) else parts


def _unique_name(in_use: dict[str, int], name: str) -> str:
    """``tf.Graph.unique_name``: the first use keeps the name, later ones get ``_N``
    (skipping any ``name_N`` already taken)."""
    key = name.lower()
    i = in_use.get(key, 0)
    in_use[key] = i + 1
    if i == 0:
        return name
    base = key
    while key in in_use:
        key = f"{base}_{i}"
        i += 1
    in_use[key] = 1
    return f"{name}_{i - 1}"


def keras3_scopes(layer_names: Iterable[str]) -> dict[str, str]:
    """Graph scope -> layer name for the layers of a Keras 3 model, in call order.

    Each layer's name is used twice in its model's scope and the second use is the
    scope its ops carry (checked against real placement logs: layers ``dense``,
    ``dense_1``, ``block_1``, ``head`` run under ``dense_1``, ``dense_1_2``,
    ``block_1_1``, ``head_1``). Only scopes that differ from a name are returned.
    """
    in_use: dict[str, int] = {}
    scopes: dict[str, str] = {}
    for name in layer_names:
        _unique_name(in_use, name)  # Keras' own, outer use
        scope = _unique_name(in_use, name)
        if scope != name:
            scopes[scope] = name
    return scopes
