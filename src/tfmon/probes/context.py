"""What the probes running next to the user's code share: one object per run."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from tfmon.events import Emit
from tfmon.probes.control import Control


@dataclass
class ProbeContext:
    emit: Emit
    control: Control
    run_dir: Path
    #: Set once the script has initialised TensorFlow's devices (at the start of
    #: fit): only then may tfmon read devices or allocator figures.
    devices_ready: threading.Event = field(default_factory=threading.Event)
    #: Called in the training thread at every epoch end (memory per epoch, leaks).
    on_epoch_end: list[Callable[[int], None]] = field(default_factory=list)
    #: Called once when devices are ready, in the training thread.
    on_devices_ready: list[Callable[[Any], None]] = field(default_factory=list)
    #: Minimum seconds between two ``batch`` events: per-batch work stays O(1).
    batch_event_interval: float = 0.1
    fit_count: int = 0

    @property
    def checkpoints_dir(self) -> Path:
        return self.run_dir / "checkpoints"

    def mark_devices_ready(self, tf_module: Any) -> None:
        if self.devices_ready.is_set():
            return
        self.devices_ready.set()
        for hook in self.on_devices_ready:
            try:
                hook(tf_module)
            except Exception:
                pass
