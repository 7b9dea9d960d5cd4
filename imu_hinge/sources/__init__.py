"""Live sources: the BLE link to the two sensors, whatever their brand.

Modules (asyncio lives here only; the decoding core below it is synchronous):

- :mod:`.ble` — :class:`~.ble.BleSource`: both sensors over bleak (scan by role, connect one after
  the other, bounded notify channels, decode, gaps, clock fit, reconnect, haptic, battery).
- :mod:`.sensor_link` (one sensor's link), :mod:`.discovery` (scan by service UUID, name and role),
  :mod:`.channel` (callback -> bounded channel), :mod:`.backend` (backend choice, "no Bluetooth").
- :mod:`.decoder` (notifications -> :class:`~.link_events.SampleBatch`), :mod:`.clock_fit` (device -> host
  clock), :mod:`.link_events` (what a live source hands out).
- :mod:`.brands`: the sensor brands (how a scan recognises each, its link and emulator classes, motor or
  not); :mod:`.sensor_roles` (roles the user gave sensors that do not advertise one).
- Polar Verity Sense: :mod:`.polar_pmd` (Polar Measurement Data bytes), :mod:`.polar` (its link and decoder).
- Movesense: :mod:`.movesense_protocol` (GATT SensorData bytes), :mod:`.movesense` (its link and decoder).

The live session's adapters over these sources (recording as it goes, a recording played back as a live
source) are in :mod:`imu_hinge.feedback` beside the session loop they serve.

Emulated sensors of every brand (bumble, a fake backend) live in :mod:`imu_hinge.emulation`.

Import the submodule you need (``from imu_hinge.sources.ble import BleSource``): this package
imports nothing, so the core never pulls in bleak or bumble.
"""

from __future__ import annotations

__all__: list[str] = []
