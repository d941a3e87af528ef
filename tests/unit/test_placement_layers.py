"""Layer and phase attribution from node names (Keras 3 names from the real fixtures and a real conv fit)."""

from __future__ import annotations

import pytest

from tfmon.placement.layers import attribute, is_optimizer_scope


@pytest.mark.parametrize(
    "name, expected",
    [
        # Keras 3.15 fit (tests/fixtures/tf-logs/tf2.21.0-keras3.15.1-cpu-linux-fit.stdout.log)
        ("StatefulPartitionedCall/sequential_1/dense_1/MatMul", ("dense_1", "forward")),
        ("StatefulPartitionedCall/sequential_1/dense_1_2/Sigmoid", ("dense_1_2", "forward")),
        ("StatefulPartitionedCall/gradient_tape/sequential_1/dense_1/MatMul/MatMul", ("dense_1", "backward")),
        ("StatefulPartitionedCall/gradient_tape/sequential_1/dense_1/BiasAdd/BiasAddGrad", ("dense_1", "backward")),
        ("StatefulPartitionedCall/adam_w/Mul_9", ("adam_w", "optimizer")),
        ("StatefulPartitionedCall/adam_w/AssignSubVariableOp_3", ("adam_w", "optimizer")),
        ("StatefulPartitionedCall/compile_loss/binary_crossentropy/Mean", ("loss", "forward")),
        ("StatefulPartitionedCall/gradient_tape/compile_loss/binary_crossentropy/Tile", ("loss", "backward")),
        # the step's own bookkeeping, plumbing, variable init, eager graphs: no layer
        ("StatefulPartitionedCall/strided_slice/stack", (None, "forward")),
        ("StatefulPartitionedCall/Add_3/ReadVariableOp", (None, "forward")),
        ("Func/StatefulPartitionedCall/input/_0", (None, "forward")),
        ("adam_w/sequential_dense_1_bias_momentum/Initializer/zeros", (None, "forward")),
        ("accuracy/total/Initializer/zeros", (None, "forward")),
        ("MatMul", (None, "forward")),
        ("StatefulPartitionedCall", (None, "forward")),
        # a real Keras 3 conv fit on this machine
        ("StatefulPartitionedCall/sequential_1/conv2d_1/convolution", ("conv2d_1", "forward")),
        ("StatefulPartitionedCall/gradient_tape/sequential_1/conv2d_1/convolution/Conv2DBackpropFilter",
         ("conv2d_1", "backward")),
        ("StatefulPartitionedCall/gradient_tape/sequential_1/max_pooling2d_1/MaxPool2d/MaxPoolGrad",
         ("max_pooling2d_1", "backward")),
        # tf.keras 2 style scopes and nested call wrappers
        ("sequential/dense/MatMul", ("dense", "forward")),
        ("gradient_tape/sequential/dense/MatMul/MatMul_1", ("dense", "backward")),
        ("Adam/Adam/AssignAddVariableOp", ("Adam", "optimizer")),
        ("PartitionedCall/StatefulPartitionedCall_1/SGD/mul", ("SGD", "optimizer")),
        ("StatefulPartitionedCall/rm_sprop/Sqrt", ("rm_sprop", "optimizer")),
    ],
)
def test_attribute(name, expected):
    assert attribute(name) == expected


def test_optimizer_scopes():
    assert is_optimizer_scope("adam_w") and is_optimizer_scope("Adam_1") and is_optimizer_scope("sgd")
    assert not is_optimizer_scope("sequential_1") and not is_optimizer_scope("dense")


def test_mirrored_strategy_replicas_are_attributed_to_the_same_layers():
    # Real node names of MirroredStrategy over two (simulated) GPUs, tests/simgpu.
    assert attribute("StatefulPartitionedCall/replica_1/sequential_1/dense_1/MatMul") == ("dense_1", "forward")
    assert attribute("StatefulPartitionedCall/gradient_tape/replica_1/sequential_1/dense_1_2/MatMul/MatMul") == (
        "dense_1_2", "backward")
    assert attribute("StatefulPartitionedCall/sequential_1/dense_1/MatMul") == ("dense_1", "forward")
