"""``--memory-growth``: let TensorFlow grow GPU memory on demand instead of taking it all.

Must run after ``import tensorflow`` and before the script creates any tensor:
once TF has initialised its devices, ``set_memory_growth`` raises RuntimeError.
``list_physical_devices`` does not initialise them, so it is safe here.
"""

from __future__ import annotations

from typing import Any


def apply_memory_growth(tf: Any) -> str:
    """Enable memory growth on every physical GPU; return one line for the log."""
    try:
        gpus = tf.config.list_physical_devices("GPU")
    except Exception as exc:  # a broken build must not stop the run
        return f"--memory-growth: could not list GPUs ({type(exc).__name__}: {exc}); nothing changed"
    if not gpus:
        return "--memory-growth: no GPU visible to TensorFlow; nothing to do (no-op)"
    done, failed = [], []
    for gpu in gpus:
        name = getattr(gpu, "name", str(gpu)).replace("/physical_device:", "")
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
            done.append(name)
        except Exception as exc:  # RuntimeError once devices are initialised
            failed.append(f"{name} ({type(exc).__name__}: {exc})")
    parts = []
    if done:
        parts.append(f"memory growth enabled on {', '.join(done)}")
    if failed:
        parts.append(f"could not enable it on {', '.join(failed)}")
    return "--memory-growth: " + "; ".join(parts)
