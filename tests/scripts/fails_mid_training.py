"""Raises from inside fit, in epoch 2."""
import numpy as np
import keras


class Boom(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            raise RuntimeError("boom in epoch 2")


x = np.zeros((64, 4), "float32")
y = np.zeros((64,), "float32")
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
model.compile(optimizer="sgd", loss="mse")
model.fit(x, y, epochs=3, batch_size=16, callbacks=[Boom()], verbose=0)
