"""The sensor brands imu-hinge can stream from: one :class:`Brand` entry each in :data:`BRANDS`.

A brand says how to recognise it in a scan (advertised service UUIDs, local-name prefixes), how to
open its link (the class :class:`~.ble.BleSource` builds for each role: the same interface as the
project's own :class:`~.sensor_link.SensorLink`), how to emulate it on bumble (``--emulate-kind``),
whether it advertises its role itself, and whether the host can drive a vibration motor on it.

Adding a brand is one entry here plus its link (and, for tests and ``--emulate``, its emulator)::

    BRANDS["acme"] = Brand("acme", "Acme Motion", name_prefixes=("Acme",), service_uuids=(ACME_UUID,),
                           link="imu_hinge.sources.acme:AcmeLink",
                           emulator="imu_hinge.sources.acme_emulated:AcmeSensor", has_motor=False, rates_hz=(50.0,))

Classes are named as ``"module:Class"`` strings and imported when used, so importing this registry
pulls in neither bleak nor bumble.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from imu_hinge.errors import UsageError
from imu_hinge.protocol import SERVICE_UUID
from imu_hinge.sources.polar_pmd import PMD_SERVICE_UUID


@dataclass(frozen=True)
class Brand:
    """One sensor brand. ``key`` is what ``--emulate-kind`` and the sensor-roles file say."""

    key: str
    label: str
    service_uuids: tuple[str, ...] = ()
    name_prefixes: tuple[str, ...] = ()
    link: str | None = None
    """``"module:Class"`` of its link (``SensorLink``'s interface); ``None``: not streamable yet."""
    emulator: str | None = None
    """``"module:Class"`` of its bumble emulation (``BumbleSensor``'s interface); ``None``: none yet."""
    has_motor: bool = False
    advertises_role: bool = False
    rates_hz: tuple[float, ...] = ()
    note: str = ""

    def matches(self, name: str | None, service_uuids: Iterable[str]) -> bool:
        """Whether an advertisement (local name, service UUIDs) is this brand's."""
        uuids = {u.lower() for u in service_uuids}
        if any(u in uuids for u in self.service_uuids):
            return True
        return bool(name) and any(str(name).startswith(p) for p in self.name_prefixes)

    def link_class(self) -> Any:
        if self.link is None:
            raise UsageError(f"{self.label} sensors cannot stream in this imu-hinge yet (no link registered)")
        return _load(self.link)

    def emulator_class(self) -> Any:
        if self.emulator is None:
            raise UsageError(f"no {self.label} emulator is registered yet (--emulate-kind {self.key}); "
                             f"emulated kinds: {', '.join(emulated_kinds())}")
        return _load(self.emulator)


def _load(spec: str) -> Any:
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


OWN = "imu-hinge"
BRANDS: dict[str, Brand] = {
    OWN: Brand(OWN, "imu-hinge sensor", service_uuids=(SERVICE_UUID.lower(),), name_prefixes=("imu-hinge",),
               link="imu_hinge.sources.sensor_link:SensorLink", emulator="imu_hinge.emulation.emulator:BumbleSensor",
               has_motor=True, advertises_role=True, rates_hz=(12.5, 26.0, 52.0, 104.0, 208.0, 416.0),
               note="the project's own firmware (firmware_protocol/): role in its advertisement, vibration motor"),
    "polar": Brand("polar", "Polar Verity Sense", service_uuids=(PMD_SERVICE_UUID,), name_prefixes=("Polar Sense",),
                   link="imu_hinge.sources.polar:PolarLink", emulator="imu_hinge.emulation.polar_emulated:BumblePolar",
                   has_motor=False, rates_hz=(52.0,),
                   note="Polar Measurement Data: accelerometer + gyroscope at 52 Hz; no motor the host can drive"),
    "movesense": Brand("movesense", "Movesense", name_prefixes=("Movesense",),
                       link="imu_hinge.sources.movesense:MovesenseLink",
                       emulator="imu_hinge.emulation.movesense_emulator:BumbleMovesense",
                       has_motor=False, rates_hz=(13.0, 26.0, 52.0, 104.0, 208.0),
                       note="GATT SensorData (gatt_sensordata_app): accelerometer + gyroscope 13-208 Hz; "
                            "no motor the host can drive"),
}


def brand(key: str) -> Brand:
    try:
        return BRANDS[key]
    except KeyError:
        raise UsageError(f"unknown sensor brand {key!r}; known: {', '.join(BRANDS)}") from None


def recognise(name: str | None, service_uuids: Iterable[str]) -> Brand | None:
    """The brand an advertisement belongs to (the project's own first), or ``None``."""
    uuids = list(service_uuids)
    for b in BRANDS.values():
        if b.matches(name, uuids):
            return b
    return None


def scan_uuids() -> list[str]:
    """Every registered brand's advertised service UUIDs (what a filtered scan would ask for)."""
    return [u for b in BRANDS.values() for u in b.service_uuids]


def emulated_kinds() -> list[str]:
    return [k for k, b in BRANDS.items() if b.emulator is not None]


def parse_kinds(text: str | None, roles: tuple[str, ...]) -> dict[str, str]:
    """``--emulate-kind polar,movesense`` -> ``{"sacrum": "polar", "thoracic": "movesense"}`` (one value: both;
    ``None``: the project's own). Unknown or not-yet-emulated brands are one :class:`UsageError` line."""
    if text is None:
        return {r: OWN for r in roles}
    parts = [p.strip().lower() for p in text.split(",")]
    if len(parts) == 1:
        parts = parts * len(roles)
    if len(parts) != len(roles) or not all(parts):
        raise UsageError(f"--emulate-kind takes one brand or one per role ({','.join(roles)}), got {text!r}")
    for p in parts:
        brand(p).emulator_class() if p in BRANDS else brand(p)
    return dict(zip(roles, parts, strict=True))


def motorless(kinds: Mapping[str, str]) -> dict[str, Brand]:
    """The roles whose brand has no motor the host can drive."""
    return {r: BRANDS[k] for r, k in kinds.items() if k in BRANDS and not BRANDS[k].has_motor}
