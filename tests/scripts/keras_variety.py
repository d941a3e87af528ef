"""Two fits, EarlyStopping, a subclassed model with its own train_step, an unsized
generator dataset, evaluate and predict; C-level writes to fd 1 and fd 2."""
import os
import sys

import numpy as np
import tensorflow as tf
import keras

rng = np.random.default_rng(0)
x = rng.normal(size=(128, 4)).astype("float32")
y = (x.sum(axis=1) > 0).astype("float32")

os.write(1, b"C-LEVEL-STDOUT marker\n")
os.write(2, b"C-LEVEL-STDERR marker\n")
print("python print marker")
print("python stderr marker", file=sys.stderr)

model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
user_callbacks = [keras.callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=10.0)]
model.fit(x, y, epochs=2, batch_size=32, verbose=0)
model.fit(x, y, epochs=6, batch_size=32, verbose=0, callbacks=user_callbacks)
assert len(user_callbacks) == 1, "tfmon must not change the user's callback list"
assert user_callbacks[0].stopped_epoch > 0, "EarlyStopping must still work"


class Custom(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(1)
        self.tracker = keras.metrics.Mean(name="custom_loss")

    def call(self, inputs):
        return self.dense(inputs)

    def train_step(self, data):
        xb, yb = data
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(self(xb) - yb[:, None]))
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        self.tracker.update_state(loss)
        return {"custom_loss": self.tracker.result()}

    @property
    def metrics(self):
        return [self.tracker]


def gen():
    for i in range(0, 128, 16):
        yield x[i : i + 16], y[i : i + 16]


dataset = tf.data.Dataset.from_generator(
    gen,
    output_signature=(tf.TensorSpec((None, 4), tf.float32), tf.TensorSpec((None,), tf.float32)),
)
custom = Custom()
custom.compile(optimizer="sgd")
custom.fit(dataset, epochs=2, verbose=0)
print("evaluate:", model.evaluate(x, y, verbose=0))
print("predict shape:", model.predict(x, verbose=0).shape)
