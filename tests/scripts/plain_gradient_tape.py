"""An eager tf.GradientTape loop with no tfmon call at all: tfmon cannot see its steps.

argv: steps (default 3000), sleep per step in ms (default 20). Prints every 50 steps.
"""
import sys
import time

import tensorflow as tf

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
sleep_s = float(sys.argv[2]) / 1000 if len(sys.argv) > 2 else 0.02

w = tf.Variable(tf.zeros([4, 1]))
optimizer = tf.keras.optimizers.SGD(0.05)
x = tf.random.stateless_normal([32, 4], seed=(1, 2))
y = tf.reduce_sum(x, axis=1, keepdims=True)
for step in range(1, steps + 1):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean((x @ w - y) ** 2)
    optimizer.apply_gradients([(tape.gradient(loss, w), w)])
    if step % 50 == 0:
        print(f"step {step} loss {float(loss):.4f}", flush=True)
    time.sleep(sleep_s)
print("loop done")
