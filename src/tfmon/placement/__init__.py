"""Device placement: log parsing, layer attribution, CPU-fallback rules and their state.

Pure modules (no Textual; TensorFlow only through an injected registry or module),
reading TensorFlow's log lines with ``tfmon.tflog``: ``banners`` (device banners), ``layers`` (node name ->
layer, phase), ``rules`` (host-side ops, weights, fallback reasons),
``warnings`` (known TF messages), ``probe`` (PlacementProbe: lines -> events),
``state`` (PlacementState: events -> pane views), ``devices`` (read_tf_devices).
"""

from tfmon.placement.devices import read_tf_devices
from tfmon.placement.probe import PlacementProbe
from tfmon.placement.state import PlacementState

__all__ = ["PlacementProbe", "PlacementState", "read_tf_devices"]
