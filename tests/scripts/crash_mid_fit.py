"""A tiny real model whose process dies in the middle of fit, the way native code or the OS kills it.

argv: how (segv | abort | kill9 | exit), epochs before dying (default 2). At the
end of that epoch it prints "crash_mid_fit dying: HOW", then dies:
- segv: reads address 0 (ctypes), as a broken native plugin does;
- abort: writes a fatal line to fd 2 with C's write() (as TensorFlow's
  LOG(FATAL) does) and calls C's abort();
- kill9: SIGKILL to itself (the OOM killer, kill -9);
- exit: os._exit(7), skipping every exit handler.
"""
import ctypes
import os
import signal
import sys

import numpy as np
import keras

how = sys.argv[1]
die_after = int(sys.argv[2]) if len(sys.argv) > 2 else 2


def die() -> None:
    print(f"crash_mid_fit dying: {how}", flush=True)
    if how == "segv":
        ctypes.string_at(0)
    elif how == "abort":
        libc = ctypes.CDLL(None)
        line = b"F0000 00:00:0.0  1 crash_mid_fit.cc:1] Check failed: plugin state (fatal)\n"
        libc.write(2, line, len(line))
        libc.abort()
    elif how == "kill9":
        os.kill(os.getpid(), signal.SIGKILL)
    elif how == "exit":
        os._exit(7)
    raise SystemExit(f"unknown way to die: {how}")


class Die(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 >= die_after:
            die()


rng = np.random.default_rng(0)
x = rng.normal(size=(64, 8)).astype("float32")
y = (x[:, 0] > 0).astype("int32")
model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(2, activation="softmax")])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
model.fit(x, y, epochs=die_after + 5, batch_size=8, verbose=0, callbacks=[Die()])
print("crash_mid_fit survived")
