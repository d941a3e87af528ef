"""A seeded 2-layer MLP for the simulated-GPU tests; writes fit's History as JSON to argv[1].

    python simgpu_mlp.py OUT.json [--epochs N] [--samples N] [--width N] [--dtype float64] [--cpu-scope] [--replicas N]

jit_compile=False: Keras 3 turns XLA on when it sees a GPU, and the simulated
device (platform SIMGPU) has no XLA compiler, like Metal.
--cpu-scope builds and trains the whole model under tf.device('/CPU:0');
--replicas N trains under MirroredStrategy over the first N GPUs.
"""
import argparse
import contextlib
import json

import numpy as np
import tensorflow as tf
import keras

parser = argparse.ArgumentParser()
parser.add_argument("out")
parser.add_argument("--epochs", type=int, default=2)
parser.add_argument("--samples", type=int, default=256)
parser.add_argument("--width", type=int, default=16, help="units of the hidden layer")
parser.add_argument("--dtype", default="float32")
parser.add_argument("--cpu-scope", action="store_true")
parser.add_argument("--replicas", type=int, default=0)
args = parser.parse_args()

keras.config.set_floatx(args.dtype)
keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
x = rng.normal(size=(args.samples, 8)).astype(args.dtype)
y = (x[:, 0] + x[:, 1] > 0).astype("int32")

if args.replicas:
    gpus = [f"/gpu:{i}" for i in range(args.replicas)]
    # NCCL (MirroredStrategy's default on GPUs) is a CUDA library: reduce through one device.
    scope = tf.distribute.MirroredStrategy(gpus, cross_device_ops=tf.distribute.ReductionToOneDevice()).scope()
elif args.cpu_scope:
    scope = tf.device("/CPU:0")
else:
    scope = contextlib.nullcontext()

with scope:
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(args.width, activation="relu"),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"], jit_compile=False)
    history = model.fit(x, y, epochs=args.epochs, batch_size=32, verbose=0, shuffle=False)
with open(args.out, "w") as f:
    json.dump({"history": history.history, "gpus": len(tf.config.list_logical_devices("GPU"))}, f)
print("simgpu_mlp done")
