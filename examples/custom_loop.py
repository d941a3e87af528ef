"""A custom training loop that tfmon monitors and controls (docs/custom-loops.md).

    tfmon examples/custom_loop.py            # live: metrics, pause (p), checkpoint (c), stop (s)
    python examples/custom_loop.py           # the same script, without tfmon: runs as usual

The loop is plain TensorFlow: a Keras model trained with ``tf.GradientTape`` in
a ``tf.function``, ``tf.summary`` for TensorBoard, a ``tf.train.Checkpoint``
with its ``CheckpointManager``. Three tfmon calls are added, all no-ops
without tfmon: ``tfmon.checkpointable``, ``tfmon.step``, ``tfmon.epoch_end``.
The ``tf.summary`` scalars appear in tfmon with no call at all.

The data is made here (no download): points of 4 classes around 4 centres.
"""

import argparse
import json

import numpy as np
import tensorflow as tf

import tfmon


def make_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = np.array([[2, 2], [-2, 2], [-2, -2], [2, -2]], dtype=np.float32)
    y = rng.integers(0, 4, size=n).astype(np.int32)
    x = centres[y] + rng.normal(0, 1.0, size=(n, 2)).astype(np.float32)
    return x, y


def main() -> None:
    parser = argparse.ArgumentParser(description="a custom training loop under tfmon")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--samples", type=int, default=4096)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--logdir", default="logs/custom_loop", help="TensorBoard logs")
    parser.add_argument("--ckpt-dir", default="checkpoints/custom_loop", help="the script's own checkpoints")
    parser.add_argument("--results", help="write the final figures here (JSON), for tests")
    args = parser.parse_args()

    tf.random.set_seed(0)
    x, y = make_data(args.samples, seed=0)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(args.samples, seed=0).batch(args.batch_size)

    model = tf.keras.Sequential(
        [tf.keras.Input(shape=(2,)), tf.keras.layers.Dense(32, activation="relu"), tf.keras.layers.Dense(4)]
    )
    optimizer = tf.keras.optimizers.Adam(1e-2)
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    epoch_loss = tf.keras.metrics.Mean()
    epoch_accuracy = tf.keras.metrics.SparseCategoricalAccuracy()

    # The script's own checkpoints; tfmon's checkpoint key saves the same object
    # into the run directory (ckpt-N, readable with ckpt.restore).
    ckpt = tfmon.checkpointable(tf.train.Checkpoint(model=model, optimizer=optimizer))
    manager = tf.train.CheckpointManager(ckpt, args.ckpt_dir, max_to_keep=2)

    writer = tf.summary.create_file_writer(args.logdir)

    @tf.function
    def train_step(xb, yb):
        with tf.GradientTape() as tape:
            logits = model(xb, training=True)
            loss = loss_fn(yb, logits)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        epoch_loss.update_state(loss)
        epoch_accuracy.update_state(yb, logits)
        # Written from inside the tf.function through the default writer.
        tf.summary.scalar("batch_loss", loss, step=optimizer.iterations)
        return loss

    stopped = False
    with writer.as_default():
        for epoch in range(1, args.epochs + 1):
            epoch_loss.reset_state()
            epoch_accuracy.reset_state()
            for xb, yb in dataset:
                loss = train_step(xb, yb)
                # One call per step: metrics for tfmon, and the batch boundary
                # where its pause blocks; True when the user pressed stop.
                if tfmon.step(step=optimizer.iterations, epoch=epoch, loss=loss):
                    stopped = True
                    break
            # Epoch-level scalars, written eagerly.
            tf.summary.scalar("epoch_loss", epoch_loss.result(), step=epoch)
            tf.summary.scalar("epoch_accuracy", epoch_accuracy.result(), step=epoch)
            tfmon.epoch_end(epoch, loss=epoch_loss.result(), accuracy=epoch_accuracy.result())
            manager.save()
            print(f"epoch {epoch}: loss {float(epoch_loss.result()):.4f}, accuracy {float(epoch_accuracy.result()):.3f}")
            if stopped:
                break
    writer.flush()

    if args.results:
        with open(args.results, "w") as f:
            json.dump(
                {
                    "stopped": stopped,
                    "steps": int(optimizer.iterations),
                    "loss": float(epoch_loss.result()),
                    "accuracy": float(epoch_accuracy.result()),
                    "logdir": args.logdir,
                },
                f,
            )


if __name__ == "__main__":
    main()
