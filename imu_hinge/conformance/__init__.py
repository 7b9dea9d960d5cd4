"""Conformance kit: check one sensor over BLE against ``firmware_protocol/SPEC.md`` clause by clause.

``imu-hinge conformance ADDRESS`` (or ``--emulate`` for the project's emulated sensor, optionally
with a planted fault). See ``docs/conformance.md``.

Modules: :mod:`.kit` (the clauses and the checks). The emulated sensor with planted faults is
:mod:`imu_hinge.emulation.conformance_faults`.
"""

from imu_hinge.conformance.kit import CLAUSES, SPEC_VERSION, ClauseResult, check_sensor, summary

__all__ = ["CLAUSES", "SPEC_VERSION", "ClauseResult", "check_sensor", "summary"]
