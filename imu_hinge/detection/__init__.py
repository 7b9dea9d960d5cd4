"""Detection: the rep state machine, fault rules and per-rep metrics (``docs`` of contracts §4).

- :mod:`.detector` — :class:`~.detector.HingeDetector`, one output row at a time or a block of rows.
- :mod:`.rep_events` — the events the core emits (reps, faults, sensor lost/back).
- :mod:`.detector_params` — the detector's parameters (no state).
- :mod:`.role_check` — sensor roles swapped? told from the motion alone.
- :mod:`.mount_check` — a sensor moved on the body mid-session? told from the standing posture between reps.
- :mod:`.sync_check` — both sensors on one clock? told from the hinges (pelvis and trunk turn together).
- :mod:`.session_checks` — the warnings those two add at a session's end.
- :mod:`.rep_estimates` — offline: estimated peaks for a rep the pelvis sensor missed.
"""

__all__ = ["detector", "detector_params", "mount_check", "rep_events", "role_check", "session_checks", "sync_check"]
