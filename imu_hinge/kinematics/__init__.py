"""Kinematics: segment angles from orientations, on one time base.

- :mod:`.sagittal` — sagittal inclination of a segment from its sensor's "up" vector, and the axis search.
- :mod:`.alignment` — two unsynchronised sensor streams on one time base.
"""

__all__ = ["alignment", "sagittal"]
