"""Six-pose calibration of one sensor (offset, sensitivity, misalignment), and using it.

- :mod:`.imu_model` — the sensor model as one pure function ``misalignment @ ((raw - offset) * sensitivity)``.
- :mod:`.procedure` — the guided steps; :mod:`.capture` — recording them over BLE;
  :mod:`.recorded` — uncalibrated streams from a recording file.
- :mod:`.six_pose` — still holds -> poses -> fit -> verdict; :mod:`.six_pose_fit` — the fit.
- :mod:`.calibration_files` — versioned JSON files under ``calibration/<sensor_id>/``;
  :mod:`.applying` — the latest calibration per sensor, applied live or to a recording.
"""

__all__ = ["applying", "calibration_files", "capture", "imu_model", "procedure", "recorded", "six_pose", "six_pose_fit"]
