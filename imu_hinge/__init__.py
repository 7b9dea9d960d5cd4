"""imu-hinge: a hip-hinge trainer on two wearable IMUs (sacrum + thoracic spine)."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
