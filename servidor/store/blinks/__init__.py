"""Per-blink points of pulse meters (blipserver's `(stamp, ms)`), in compressed blocks."""
from .codec import HOUR_MS, Hour, Point
from .store import BLOCK_POINTS, BlinksDamaged, BlinkStore

__all__ = ["BLOCK_POINTS", "BlinkStore", "BlinksDamaged", "HOUR_MS", "Hour", "Point"]
