"""Live sources: the BLE link to the two sensors, and emulated sensors to test it without radio.

Modules (asyncio lives here only; the decoding core below it is synchronous):

- :mod:`.ble` — :class:`~.ble.BleSource`: both sensors over bleak (scan by role, connect one after
  the other, bounded notify channels, decode, gaps, clock fit, reconnect, haptic, battery).
- :mod:`.sensor_link` (one sensor's link), :mod:`.discovery` (scan by service UUID + role),
  :mod:`.channel` (callback -> bounded channel), :mod:`.backend` (backend choice, "no Bluetooth").
- :mod:`.decoder` (notifications -> :class:`~.events.SampleBatch`), :mod:`.clock_fit` (device -> host clock).
- :mod:`.emulator` + :mod:`.bumble_backend`: emulated sensors on bumble, in-process, and a bleak
  backend over bumble's LocalLink; :mod:`.fake_backend`: a pure-Python backend for hard faults;
  :mod:`.emulated_sensor` (firmware behaviour shared by both) and :mod:`.motion` (what they measure).
- :mod:`.brands`: the sensor brands (how a scan recognises each, its link and emulator classes, motor or
  not); :mod:`.sensor_roles` (roles of sensors that do not advertise one); Polar Verity Sense:
  :mod:`.polar_pmd` (PMD bytes), :mod:`.polar` (its link and decoder), :mod:`.polar_emulated` (on bumble).

Import the submodule you need (``from imu_hinge.sources.ble import BleSource``): this package
imports nothing, so the core never pulls in bleak or bumble.
"""

from __future__ import annotations

__all__: list[str] = []
