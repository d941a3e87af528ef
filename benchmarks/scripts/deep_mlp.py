"""Worst case for placement parsing: many Dense+LayerNorm blocks, i.e. thousands of graph nodes.

TensorFlow logs every node of the train function when it is placed (in the
first batch) and again for the validation function (traced at the end of
epoch 1, inside the timed part), twice each (C stdout and stderr).
"""

import numpy as np

import _bench



def main() -> None:
    p = _bench.parser(__doc__.splitlines()[0], epochs=2, samples=4000, batch_size=64)
    p.add_argument("--depth", type=int, default=24, help="Dense+LayerNorm blocks")
    args = p.parse_args()
    import keras
    import tensorflow as tf

    tf.random.set_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    x = rng.normal(size=(args.samples, 32)).astype(np.float32)
    y = rng.integers(0, 10, size=args.samples).astype(np.int32)
    layers = [keras.Input(shape=(32,))]
    for _ in range(args.depth):
        layers += [keras.layers.Dense(32, activation="relu"), keras.layers.LayerNormalization()]
    layers.append(keras.layers.Dense(10, activation="softmax"))
    model = keras.Sequential(layers)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    _bench.fit(model, x, y, args, validation_split=0.1)


if __name__ == "__main__":
    main()
