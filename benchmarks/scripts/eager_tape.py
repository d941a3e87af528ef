"""An eager GradientTape loop (every op dispatched from Python): the worst case for
placement logging, which prints a line per op per step. Writes the loop's time.

    python eager_tape.py STEPS OUT.json
"""
import json
import sys
import time

import tensorflow as tf

steps, out = int(sys.argv[1]), sys.argv[2]
tf.random.set_seed(0)
x = tf.random.normal((8, 4))
y = tf.random.normal((8, 1))
w = tf.Variable(tf.zeros((4, 1)))


def step():
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(tf.matmul(x, w) - y))
    w.assign_sub(0.01 * tape.gradient(loss, w))
    return loss


step()  # the first step outside the timing (one-off kernel setup)
start = time.perf_counter()
for _ in range(steps):
    loss = step()
loop_s = time.perf_counter() - start
with open(out, "w") as f:
    json.dump({"loop_s": loop_s, "loss": float(loss)}, f)
