"""Emulated sensors and test doubles, shipped with the package (tests, ``--emulate`` and benchmarks use them).

Nothing in the runtime path imports this package unless the user asks for an emulation.

- :mod:`.emulator` — emulated sensors on bumble, in-process: real GATT servers speaking protocol v1.
- :mod:`.bumble_backend` — a bleak backend on bumble's in-process link; :mod:`.fake_backend` — a
  pure-Python bleak backend for faults that are hard to provoke on a real stack.
- :mod:`.emulated_sensor` — the firmware's behaviour without BLE; :mod:`.emulated_clock` — the
  clocks an emulated world runs on; :mod:`.sensor_motion` — what an emulated sensor measures.
- :mod:`.polar_emulated` and :mod:`.movesense_emulator` — other brands' sensors on bumble, from their public
  protocol descriptions (``--emulate-kind polar,movesense``).
- :mod:`.conformance_faults` — the emulated sensor with planted faults for the conformance kit.
- :mod:`.six_pose_session` — a simulated six-pose session with KNOWN sensor errors.
- :mod:`.link_testing` — helpers for BLE link tests; :mod:`.protocol_vectors` — running
  ``firmware_protocol/vectors.json`` against a codec.
"""

__all__ = [
    "bumble_backend",
    "conformance_faults",
    "emulated_clock",
    "emulated_sensor",
    "emulator",
    "fake_backend",
    "link_testing",
    "movesense_emulator",
    "polar_emulated",
    "protocol_vectors",
    "sensor_motion",
    "six_pose_session",
]
