"""fit with steps_per_execution=10: Keras calls the batch hooks once per 10 batches.

argv: epochs (default 2). 800 samples, batch size 8: 100 batches per epoch.
"""
import sys
import time

import keras
import numpy as np

epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 2
rng = np.random.default_rng(0)
x = rng.normal(size=(800, 4)).astype("float32")
y = x.sum(axis=1, keepdims=True)
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1)])
model.compile(optimizer="sgd", loss="mse", steps_per_execution=10)
# Each execution takes at least 30 ms, as on a real model: tfmon's batch events (at most
# ten a second) then land inside every epoch, on a fast machine too.
slow = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: time.sleep(0.03))
history = model.fit(x, y, batch_size=8, epochs=epochs, verbose=0, callbacks=[slow])
print(f"trained {model.optimizer.iterations.numpy()} steps")
