"""The physiotherapist's tools around the core: exercises, range, progressions and trends.

- :mod:`.exercise_catalogue` — the exercise catalogue (``imu_hinge/data/exercises.toml``).
- :mod:`.range_calibration` — a person's maximum lumbar flexion and extension from a recording.
- :mod:`.progression` — progression advice from a person's sets (rules in ``data/progression.toml``).
- :mod:`.trend` — sparklines and weekly slopes for the history.
"""

__all__ = ["exercise_catalogue", "progression", "range_calibration", "trend"]
