"""Starts, as many Mac scripts do, by configuring devices before anything touches them."""
import numpy as np
import tensorflow as tf
import keras

cpu = tf.config.list_physical_devices("CPU")[0]
# Raises "Virtual devices cannot be modified after being initialized" if tfmon
# initialised TensorFlow's devices before this line.
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
)
x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
model.compile(optimizer="sgd", loss="mse")
model.fit(x, x[:, :1], epochs=2, batch_size=16, verbose=0)
print("logical devices:", len(tf.config.list_logical_devices("CPU")))
