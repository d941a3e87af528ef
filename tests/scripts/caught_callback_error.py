"""A fit ended by an exception a callback raises, caught by the script, then a second fit.

As in TensorFlow's fault-tolerance guide: a callback raises mid-training, the
script catches it and fits again (here without the failing callback).
"""
import keras
import numpy as np


class Interrupting(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if self.params and batch == 4 and getattr(self, "epoch", 0) == 1:
            raise RuntimeError("interrupting the training")

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch


rng = np.random.default_rng(0)
x = rng.normal(size=(80, 4)).astype("float32")
y = x.sum(axis=1, keepdims=True)
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1)])
model.compile(optimizer="sgd", loss="mse")
try:
    model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[Interrupting()])
except RuntimeError as exc:
    print(f"caught: {exc}")
model.fit(x, y, batch_size=8, epochs=1, verbose=0)
print("second fit done")
