"""A tiny real model trained slowly, for hang-up, attach and ctl tests.

argv: epochs, sleep per batch in ms (25 batches per epoch), exit code, and an
optional hold file: after fit the script waits until that file exists (so a
test can act on a run that is still alive after fit). Prints one line per epoch.
"""
import os
import sys
import time

import numpy as np
import keras

epochs = int(sys.argv[1])
sleep_ms = float(sys.argv[2])
exit_code = int(sys.argv[3]) if len(sys.argv) > 3 else 0
hold = sys.argv[4] if len(sys.argv) > 4 else None


class Slow(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        time.sleep(sleep_ms / 1000)

    def on_epoch_end(self, epoch, logs=None):
        print(f"remote_fit epoch {epoch + 1} done", flush=True)


rng = np.random.default_rng(0)
x = rng.normal(size=(200, 8)).astype("float32")
y = (x[:, 0] > 0).astype("int32")
model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(2, activation="softmax")])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=epochs, batch_size=8, verbose=0, callbacks=[Slow()], shuffle=False)
print("remote_fit after fit", flush=True)
while hold and not os.path.exists(hold):
    time.sleep(0.1)
sys.exit(exit_code)
