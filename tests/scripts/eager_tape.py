"""An eager GradientTape loop (no tf.function): every op is dispatched from Python,
so TensorFlow's placement logging prints lines for each op of each step.

    python eager_tape.py [STEPS]
"""
import sys

import tensorflow as tf

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 100
tf.random.set_seed(0)
x = tf.random.normal((8, 4))
y = tf.random.normal((8, 1))
w = tf.Variable(tf.zeros((4, 1)))
print(f"eager_tape: {steps} steps")
for step in range(steps):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(tf.matmul(x, w) - y))
    w.assign_sub(0.01 * tape.gradient(loss, w))
print(f"eager_tape done: loss {float(loss):.4f}")
