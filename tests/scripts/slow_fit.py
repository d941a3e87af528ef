"""A tiny real model whose batches take a few ms each, so a test can act mid-training.

argv: epochs, samples (batch size 8), sleep per batch in ms, seconds the script
goes on after fit. Prints "after fit N" when fit returns, with the number of
batches fit ran, and "script end" at the end.
"""
import sys
import time

import numpy as np
import keras

epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 4
samples = int(sys.argv[2]) if len(sys.argv) > 2 else 400
sleep_ms = float(sys.argv[3]) if len(sys.argv) > 3 else 10
after_fit_s = float(sys.argv[4]) if len(sys.argv) > 4 else 0


class Slow(keras.callbacks.Callback):
    batches = 0

    def on_train_batch_end(self, batch, logs=None):
        Slow.batches += 1
        time.sleep(sleep_ms / 1000)


rng = np.random.default_rng(0)
x = rng.normal(size=(samples, 8)).astype("float32")
y = (x[:, 0] > 0).astype("int32")
model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(2, activation="softmax")])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
x_fixed = x[:16]
model.fit(x, y, epochs=epochs, batch_size=8, verbose=0, callbacks=[Slow()], shuffle=False)
print(f"after fit {Slow.batches}")
for _ in range(int(after_fit_s * 10)):  # "the rest of the script": evaluation, export...
    time.sleep(0.1)
print("script end")
