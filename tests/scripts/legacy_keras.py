"""tf.keras as tf_keras (TF_USE_LEGACY_KERAS=1): tfmon must hook it too."""
import numpy as np
import tensorflow as tf

assert tf.keras.__name__.startswith("tf_keras"), tf.keras.__name__
x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
model = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(1)])
model.compile(optimizer="sgd", loss="mse")
history = model.fit(x, x[:, :1], epochs=2, batch_size=16, verbose=0)
print("legacy losses", history.history["loss"])
