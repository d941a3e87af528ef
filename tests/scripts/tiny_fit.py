"""A tiny real Keras model; writes fit's History to the JSON path given as argv[1]."""
import json
import sys

import numpy as np
import keras

out = sys.argv[1]
epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
rng = np.random.default_rng(0)
x = rng.normal(size=(256, 8)).astype("float32")
y = (x[:, 0] + x[:, 1] > 0).astype("int32")
model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(2, activation="softmax")])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
history = model.fit(x, y, epochs=epochs, batch_size=32, validation_split=0.25, verbose=0)
with open(out, "w") as f:
    json.dump(history.history, f)
print("tiny_fit done")
