"""Unified memory: the sampler thread, its readers, leak detection and the pane's state.

Event types and fields: docs/events.md, section "Memory events".
"""

from tfmon.memory.growth import apply_memory_growth
from tfmon.memory.leak import DEFAULT_THRESHOLD_MB
from tfmon.memory.sampler import MemorySampler
from tfmon.memory.state import MemoryState

__all__ = ["DEFAULT_THRESHOLD_MB", "MemorySampler", "MemoryState", "apply_memory_growth"]
