"""Worst case for per-batch overhead: a tiny MLP with a batch of 4 (thousands of batches per second).

Each batch costs TensorFlow a fraction of a millisecond, so anything a monitor
does per batch shows in the ratio.
"""

import numpy as np

import _bench


def main() -> None:
    args = _bench.parser(__doc__.splitlines()[0], epochs=2, samples=8000, batch_size=4).parse_args()
    import keras
    import tensorflow as tf

    tf.random.set_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    x = rng.normal(size=(args.samples, 8)).astype(np.float32)
    y = (x @ rng.normal(size=(8, 1)) > 0).astype(np.float32)
    model = keras.Sequential([keras.Input(shape=(8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"])
    _bench.fit(model, x, y, args)


if __name__ == "__main__":
    main()
