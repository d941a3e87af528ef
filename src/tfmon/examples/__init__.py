"""Training scripts shipped with tfmon (``tfmon demo``)."""

from pathlib import Path


def demo_path() -> Path:
    return Path(__file__).with_name("demo.py")
