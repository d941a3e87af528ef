"""A GAN-like model: its own train_step with two optimizers at 3e-4 of its own.

compile() is given no optimizer for the model itself, so Keras leaves its
default (rmsprop at 1e-3) there, unused. argv: "mirrored" trains under
tf.distribute.MirroredStrategy (one CPU replica).
"""
import sys

import keras
import numpy as np
import tensorflow as tf


class TwoPlayers(keras.Model):
    def __init__(self):
        super().__init__()
        self.generator = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4)])
        self.discriminator = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])

    def call(self, x):
        return self.discriminator(self.generator(x))

    def compile(self, d_optimizer, g_optimizer):
        super().compile()
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer

    def train_step(self, data):
        real = data
        noise = tf.random.normal(tf.shape(real))
        with tf.GradientTape() as tape:
            fake = self.generator(noise)
            d_loss = tf.reduce_mean(self.discriminator(fake)) - tf.reduce_mean(self.discriminator(real))
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))
        with tf.GradientTape() as tape:
            g_loss = -tf.reduce_mean(self.discriminator(self.generator(noise)))
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
        return {"d_loss": d_loss, "g_loss": g_loss}


def build():
    model = TwoPlayers()
    model.compile(d_optimizer=keras.optimizers.Adam(3e-4), g_optimizer=keras.optimizers.Adam(3e-4))
    return model


data = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
if sys.argv[1:] == ["mirrored"]:
    with tf.distribute.MirroredStrategy(["/cpu:0"]).scope():
        model = build()
else:
    model = build()
model.fit(data, batch_size=16, epochs=2, verbose=0)
print("unused default optimizer at", float(np.asarray(model.optimizer.learning_rate)))
