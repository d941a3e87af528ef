"""A script that trains in several fits (a schedule by hand, as some tutorials do).

argv: fits, epochs per fit, sleep per batch in ms. 200 samples, batch size 8:
25 batches per epoch. Prints "fit N done" after each fit and "all fits done" at the end.
"""
import sys
import time

import keras
import numpy as np

fits = int(sys.argv[1]) if len(sys.argv) > 1 else 8
epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 2
sleep_ms = float(sys.argv[3]) if len(sys.argv) > 3 else 10


class Slow(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        time.sleep(sleep_ms / 1000)


rng = np.random.default_rng(0)
x = rng.normal(size=(200, 8)).astype("float32")
y = (x[:, 0] > 0).astype("int32")
model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(2, activation="softmax")])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
for n in range(1, fits + 1):
    model.fit(x, y, epochs=epochs, batch_size=8, verbose=0, callbacks=[Slow()])
    print(f"fit {n} done", flush=True)
print("all fits done")
