"""fit with steps_per_execution=10: Keras calls the batch hooks once per 10 batches.

argv: epochs (default 2). 800 samples, batch size 8: 100 batches per epoch.
"""
import sys

import keras
import numpy as np

epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 2
rng = np.random.default_rng(0)
x = rng.normal(size=(800, 4)).astype("float32")
y = x.sum(axis=1, keepdims=True)
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1)])
model.compile(optimizer="sgd", loss="mse", steps_per_execution=10)
history = model.fit(x, y, batch_size=8, epochs=epochs, verbose=0)
print(f"trained {model.optimizer.iterations.numpy()} steps")
