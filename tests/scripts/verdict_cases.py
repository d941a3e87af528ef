"""Runs that make tfmon's verdict ("why is it slow?") say something, one per mode.

    overhead [SPE]  a tiny model on batches of 4: steps of about a millisecond
                    (with SPE, compile's steps_per_execution, they are not per-step any more)
    input           a tf.data pipeline whose py_function sleeps on the first batch of each epoch
    leak            a callback that keeps 24 MB of arrays per epoch in a list
    retrace         a tf.function called with a new shape at every step of a custom loop
    xla             compile(jit_compile=True), for a device without an XLA compiler
"""
import sys
import time

import numpy as np
import keras
import tensorflow as tf

import tfmon

mode = sys.argv[1]
rng = np.random.default_rng(0)


def tiny_model() -> keras.Model:
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
    spe = int(sys.argv[2]) if mode == "overhead" and len(sys.argv) > 2 else 1
    model.compile("sgd", "mse", steps_per_execution=spe)
    return model


def data(n: int) -> tuple[np.ndarray, np.ndarray]:
    x = rng.normal(size=(n, 4)).astype("float32")
    return x, (x[:, 0] > 0).astype("float32")


if mode == "overhead":
    x, y = data(2048)
    tiny_model().fit(x, y, batch_size=4, epochs=3, verbose=0)

elif mode == "input":
    x, y = data(512)

    def load(i):
        if int(i) < 8:  # the first batch of every epoch: opening files, filling a buffer
            time.sleep(0.05)
        return x[int(i)], y[int(i)]

    def fetch(i):
        xi, yi = tf.py_function(load, [i], (tf.float32, tf.float32))
        return tf.ensure_shape(xi, [4]), tf.ensure_shape(yi, [])

    dataset = tf.data.Dataset.range(len(x)).map(fetch).batch(8)
    tiny_model().fit(dataset, epochs=4, verbose=0)

elif mode == "leak":
    kept = []

    class Hoard(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            kept.append(np.ones(3 * 2**20))  # 24 MB each epoch, never released

    x, y = data(256)
    tiny_model().fit(x, y, batch_size=32, epochs=5, verbose=0, callbacks=[Hoard()])

elif mode == "retrace":
    @tf.function
    def step(batch):
        return tf.reduce_sum(tf.matmul(batch, batch, transpose_b=True))

    for epoch in range(1, 3):
        for length in range(2, 10):
            tfmon.step(epoch=epoch, loss=float(step(tf.ones([4, length + 8 * epoch]))))
        tfmon.epoch_end(epoch)

elif mode == "xla":  # on a device without an XLA compiler (the simulated GPU, Metal)
    x, y = data(64)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8), keras.layers.Dense(1)])
    model.compile("sgd", "mse", jit_compile=True)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
