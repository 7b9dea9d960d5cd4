"""Feedback: what the lifter and the physio get from the core's events.

- :mod:`.policy` — feedback policy (mode, schedule, bandwidth, hold, hysteresis) and the pure
  :class:`~.policy.FeedbackScheduler` that turns events + angle rows into cues;
- :mod:`.haptic`, :mod:`.audio`, :mod:`.terminal` — sinks (BLE haptic command, tone, text lines);
- :mod:`.live_window` — the pyqtgraph window (the only module importing Qt; import it lazily);
- :mod:`.session_runner` — the async live loop (source -> core -> policy -> sinks), the row ring
  the window reads, and the time-order merger for packet sources;
- :mod:`.replay_source` — a recording as a paced live source.

Nothing here imports Qt except :mod:`.live_window`.
"""
