"""Feedback: what the lifter and the physio get from the core's events.

- :mod:`.policy` — feedback policy (mode, schedule, bandwidth, hold, hysteresis) and the pure
  :class:`~.policy.FeedbackScheduler` that turns events + angle rows into cues;
- :mod:`.haptic`, :mod:`.audio`, :mod:`.terminal` — sinks (BLE haptic command, tone, text lines);
- :mod:`.live_window` — the pyqtgraph window (the only module importing Qt; import it lazily);
- :mod:`.session_runner` — the async live loop (source -> core -> policy -> sinks), the row ring
  the window reads, and the time-order merger for packet sources;
- :mod:`.guidance` — calibration guidance and live warnings; :mod:`.qt_probe` — can Qt open a window here?

- :mod:`.live_ble_source` — the BLE source (:mod:`imu_hinge.sources`) as a session source, recording as it
  goes (``train``); :mod:`.replay_source` — a recording played back as a paced live source.

Nothing here imports Qt except :mod:`.live_window`.
"""

__all__ = [
    "audio",
    "guidance",
    "haptic",
    "live_ble_source",
    "live_window",
    "policy",
    "qt_probe",
    "replay_source",
    "session_runner",
    "terminal",
]
