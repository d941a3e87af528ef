"""tfmon: a live terminal monitor for TensorFlow training."""

__version__ = "0.1.0"

# The custom-loop API (docs/custom-loops.md); no-ops when the script runs without tfmon.
from tfmon.api import checkpointable, epoch_end, should_stop, step  # noqa: E402

__all__ = ["__version__", "checkpointable", "epoch_end", "should_stop", "step"]
