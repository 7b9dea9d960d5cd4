"""Conformance kit: check one sensor over BLE against ``firmware_protocol/SPEC.md`` clause by clause.

``imu-hinge conformance ADDRESS`` (or ``--emulate`` for the project's emulated sensor, optionally
with a planted fault). See ``docs/conformance.md``.
"""

from .kit import CLAUSES, SPEC_VERSION, ClauseResult, check_sensor, summary

__all__ = ["CLAUSES", "SPEC_VERSION", "ClauseResult", "check_sensor", "summary"]
