"""imu-hinge: a hip-hinge trainer on two wearable IMUs (sacrum + thoracic spine).

The Python API (:mod:`imu_hinge.api`) is available from the package itself::

    import imu_hinge as ih
    analysis = ih.run(ih.load("session.csv"), threshold_deg=18)

It is imported on first use, so ``import imu_hinge`` alone stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_API = ("Analysis", "SimConfig", "analyze_batch", "load", "run", "simulate")

if TYPE_CHECKING:
    from imu_hinge import api as api
    from imu_hinge.api import Analysis as Analysis
    from imu_hinge.api import SimConfig as SimConfig
    from imu_hinge.api import analyze_batch as analyze_batch
    from imu_hinge.api import load as load
    from imu_hinge.api import run as run
    from imu_hinge.api import simulate as simulate


def __getattr__(name: str) -> Any:
    if name == "api" or name in _API:
        module = importlib.import_module(".api", __name__)
        return module if name == "api" else getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Analysis", "SimConfig", "__version__", "analyze_batch", "api", "load", "run", "simulate"]
