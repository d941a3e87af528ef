"""tfmon: a live terminal monitor for TensorFlow training."""

__version__ = "0.1.0"
