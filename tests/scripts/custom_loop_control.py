"""A GradientTape loop that runs until tfmon says stop (or a time limit), for the custom-loop API tests.

argv: OUT.npz, what to register ("tf", "keras" or "none"), sleep per step in ms.
At the end it saves the trained variables, the step count and tfmon.should_stop()
into OUT.npz, so a test can compare them with what tfmon's checkpoint saved.
"""
import sys
import time

import numpy as np
import tensorflow as tf

import tfmon

out, register = sys.argv[1], sys.argv[2]
sleep_s = float(sys.argv[3]) / 1000 if len(sys.argv) > 3 else 0.002
LIMIT_S = 120  # never hang a test: stop on our own after this

model = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(3, activation="relu"), tf.keras.layers.Dense(1)])
optimizer = tf.keras.optimizers.SGD(0.01)
if register == "tf":
    tfmon.checkpointable(tf.train.Checkpoint(model=model, optimizer=optimizer))
elif register == "keras":
    tfmon.checkpointable(model)

x = tf.random.stateless_normal([64, 4], seed=(1, 2))
y = tf.reduce_sum(x * [1.0, -2.0, 3.0, 0.5], axis=1, keepdims=True)


@tf.function
def train_step():
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean((model(x, training=True) - y) ** 2)
    optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
    return loss


started = time.monotonic()
steps = 0
while time.monotonic() - started < LIMIT_S:
    loss = train_step()
    steps += 1
    if tfmon.step(loss=loss, epoch=1 + steps // 100):
        break
    time.sleep(sleep_s)
np.savez(out, *[v.numpy() for v in model.weights], steps=steps, should_stop=tfmon.should_stop())
print(f"custom loop ran {steps} steps")
