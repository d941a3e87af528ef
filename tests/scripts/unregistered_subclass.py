"""A subclassed model whose class is not registered with Keras: it saves as .keras,
but keras.models.load_model cannot rebuild it (the class is unknown outside this script).

argv: epochs (default 2), sleep per batch in ms (default 0): 4 batches per epoch.
"""
import sys
import time

import keras
import numpy as np

epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 2
sleep_s = float(sys.argv[2]) / 1000 if len(sys.argv) > 2 else 0.0


class Scaled(keras.Model):
    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.hidden = keras.layers.Dense(units, activation="relu")
        self.out = keras.layers.Dense(1)

    def call(self, x):
        return self.out(self.hidden(x))


rng = np.random.default_rng(0)
x = rng.normal(size=(64, 4)).astype("float32")
model = Scaled(units=4)
model.compile(optimizer="sgd", loss="mse")
slow = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: time.sleep(sleep_s))
model.fit(x, x.sum(axis=1), batch_size=16, epochs=epochs, verbose=0, callbacks=[slow])
print("trained")
