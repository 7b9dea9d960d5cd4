"""The analysis core's driver: the one causal pipeline and what it needs beside its stages.

Data flow: samples -> :mod:`imu_hinge.fusion` (orientation per sensor) -> :mod:`imu_hinge.kinematics`
(segment angles on one time base) -> :mod:`imu_hinge.detection` (reps, faults, events).

- :mod:`.pipeline` — :class:`~.pipeline.HingePipeline`: ``push`` one sample (live) or a whole
  recording (replay, analyze), through the same stages; :func:`~.pipeline.analyze`.
- :mod:`.stance` and :mod:`.stance_search` — the zero of every angle: the quiet stance (live: at the
  start; a recording: wherever the person stood still), gyro bias, and the sagittal axis; their
  parameters (no state) in :mod:`.stance_params`.
- :mod:`.analysis_params` — every analysis parameter in one frozen tree; :mod:`.param_overrides`
  changes a few by name (``threshold_deg=18``).
- :mod:`.data_quality` — a recording's rate, drops, gaps, clipping and clock drift per sensor.
"""

__all__ = ["analysis_params", "data_quality", "param_overrides", "pipeline", "stance", "stance_params", "stance_search"]
