"""Finding sensors: scan for the imu-hinge service UUID and read each sensor's role from its advertisement.

macOS hides MAC addresses, so sensors are told apart by the role they advertise (manufacturer
data, spec §7), never by address. Scans stop as soon as every wanted role has been seen.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from dataclasses import dataclass

from bleak import BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from ..errors import DecodeError, SensorLinkError
from ..protocol import SERVICE_UUID, decode_advertisement
from .backend import LinkBackend, bluetooth_unavailable


@dataclass(frozen=True)
class FoundSensor:
    """One advertising sensor: its bleak device, role, battery (% or None), streaming flag, RSSI (dBm)."""

    device: BLEDevice
    role: str
    battery_percent: int | None
    streaming: bool
    rssi: int
    name: str | None = None

    @property
    def address(self) -> str:
        return self.device.address


async def scan(timeout_s: float = 5.0, *, backend: LinkBackend | None = None,
               until_roles: Collection[str] = ()) -> list[FoundSensor]:
    """Sensors advertising within ``timeout_s`` s (strongest first per role), sooner if every role
    in ``until_roles`` was seen. Raises :class:`SensorLinkError` when there is no Bluetooth."""
    backend = backend or LinkBackend()
    found: dict[str, FoundSensor] = {}
    done = asyncio.Event()

    def on_advertisement(device: BLEDevice, adv: AdvertisementData) -> None:
        try:
            info = decode_advertisement(adv.service_uuids, adv.manufacturer_data)
        except DecodeError:
            return  # not one of ours, or a version we do not speak
        found[device.address] = FoundSensor(device, info.role, info.battery_percent, info.streaming, adv.rssi,
                                            adv.local_name or device.name)
        if until_roles and set(until_roles) <= {f.role for f in found.values()}:
            done.set()

    try:
        async with BleakScanner(on_advertisement, service_uuids=[SERVICE_UUID], **backend.scanner_kwargs()):
            try:
                await asyncio.wait_for(done.wait(), timeout_s)
            except TimeoutError:
                pass
    except Exception as exc:
        unavailable = bluetooth_unavailable(exc)
        if unavailable is not None:
            raise unavailable from exc
        raise
    return sorted(found.values(), key=lambda f: (f.role, -f.rssi, f.address))


async def find_sensor(role: str, timeout_s: float, *, backend: LinkBackend | None = None) -> FoundSensor | None:
    """The strongest sensor advertising ``role`` seen within ``timeout_s`` s, or ``None``."""
    return next((f for f in await scan(timeout_s, backend=backend, until_roles=(role,)) if f.role == role), None)


def pick_roles(found: list[FoundSensor], roles: Collection[str]) -> dict[str, FoundSensor]:
    """One sensor per wanted role (the strongest); :class:`SensorLinkError` naming what is missing."""
    picked: dict[str, FoundSensor] = {}
    for f in found:
        if f.role in roles and f.role in picked and picked[f.role].address != f.address:
            raise SensorLinkError(f"two sensors advertise the {f.role} role ({picked[f.role].address} and "
                                  f"{f.address}): switch one off, or give it the other role",
                                  role=f.role, address=f.address)
        picked.setdefault(f.role, f)
    missing = [r for r in roles if r not in picked]
    if missing:
        seen = ", ".join(f"{f.role} ({f.address})" for f in found) or "no imu-hinge sensor at all"
        raise SensorLinkError(f"no {' or '.join(missing)} sensor found (seen: {seen}); switch it on and bring it "
                              "closer (a new sensor advertises role 'unassigned' until it is given one)",
                              role=missing[0] if len(missing) == 1 else None)
    return {r: picked[r] for r in roles}
