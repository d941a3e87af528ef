"""Keras' default progress bar (verbose=1), the script's own control sequences, then
the figures a user prints after training.

The sequences are the ones a script can upset a terminal with: a colour (kept
in the log), a window title, leaving the alternate screen, turning mouse
reporting off (never to reach the real terminal), written by Python and at the
C level (fd 1)."""
import os

import numpy as np
import keras

TITLE = "\x1b]0;SCRIPT-TITLE\x07"
LEAVE_ALT_SCREEN = "\x1b[?1049l"
MOUSE_OFF = "\x1b[?1000l\x1b[?1006l"

print(f"{TITLE}{LEAVE_ALT_SCREEN}{MOUSE_OFF}\x1b[31mRED-MARKER\x1b[0m after the sequences", flush=True)
os.write(1, f"{TITLE}{LEAVE_ALT_SCREEN}C-LEVEL-MARKER\n".encode())

rng = np.random.default_rng(0)
x = rng.normal(size=(64, 4)).astype("float32")
y = (x.sum(axis=1) > 0).astype("float32")
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=2, batch_size=16, verbose=1)
loss, accuracy = model.evaluate(x, y, verbose=0)
print(f"Test accuracy: {accuracy:.3f}")
