"""A subclassed model whose class is not registered with Keras: it saves as .keras,
but keras.models.load_model cannot rebuild it (the class is unknown outside this script)."""
import keras
import numpy as np


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
model.fit(x, x.sum(axis=1), batch_size=16, epochs=2, verbose=0)
print("trained")
