"""Kinematics: segment angles from orientations, on one time base.

- :mod:`.sagittal` — sagittal inclination of a segment from its sensor's "up" vector, and the axis search.
- :mod:`.alignment` — two unsynchronised sensor streams on one time base.
- :mod:`.axis_params` — the sagittal axis' parameters (no state).

Their per-sample loops are C: ``_kinematics_loops`` (built from ``_kinematics_loops.c`` at install; private).
"""

__all__ = ["alignment", "axis_params", "sagittal"]
