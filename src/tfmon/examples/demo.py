"""tfmon's demo: the reference CNN trained on digit-like images it makes itself.

No download: each of the 10 classes is a fixed random stroke pattern, and the
samples are shifted, noisy copies of it, so the model learns something real
in a few epochs on a laptop CPU. Runs the same under plain ``python``.
"""

import argparse
import time

import numpy as np


def make_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    templates = _templates()
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, size=n)
    shifts = rng.integers(-3, 4, size=(n, 2))
    x = np.empty((n, 28, 28), dtype=np.float32)
    for i in range(n):
        x[i] = np.roll(templates[y[i]], tuple(shifts[i]), axis=(0, 1))
    x += rng.normal(0, 0.9, size=x.shape).astype(np.float32)
    return x[..., None], y.astype(np.int32)


def _templates() -> np.ndarray:
    """The ten class patterns: the same for every seed, so test data matches training data."""
    rng = np.random.default_rng(1234)
    templates = np.zeros((10, 28, 28), dtype=np.float32)
    for c in range(10):  # a few random strokes per class
        for _ in range(4):
            r, col = rng.integers(4, 24, size=2)
            dr, dc = rng.integers(-1, 2, size=2)
            for k in range(10):
                rr, cc = np.clip(r + dr * k, 0, 27), np.clip(col + dc * k, 0, 27)
                templates[c, max(rr - 1, 0) : rr + 2, max(cc - 1, 0) : cc + 2] = 1.0
    return templates


def build_model():
    import keras

    model = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            keras.layers.Conv2D(32, (3, 3), activation="relu"),
            keras.layers.MaxPooling2D((2, 2)),
            keras.layers.Conv2D(64, (3, 3), activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description="tfmon demo: a small CNN on generated digits")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--samples", type=int, default=16000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=0)
    args = parser.parse_args()

    import tensorflow as tf

    tf.random.set_seed(args.seed)
    x, y = make_data(args.samples, args.seed)
    model = build_model()
    print(f"demo: {args.samples} generated images, {model.count_params():,} parameters")
    started = time.perf_counter()
    model.fit(
        x,
        y,
        epochs=args.epochs,
        batch_size=args.batch_size,
        validation_split=0.1,
        verbose=args.verbose,
    )
    print(f"demo: training took {time.perf_counter() - started:.1f}s")
    x_test, y_test = make_data(1000, args.seed + 1)
    loss, acc = model.evaluate(x_test, y_test, verbose=0)
    print(f"demo: test accuracy {acc:.3f} (loss {loss:.3f})")


if __name__ == "__main__":
    main()
