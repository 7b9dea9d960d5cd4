"""Finding sensors: scan for every registered brand (:mod:`.brands`) and tell each sensor's role.

The project's own sensors advertise their role (manufacturer data, spec §7): macOS hides MAC
addresses, so they are told apart by that role, never by address. Sensors of other brands do not
advertise a role: it comes from ``assignments`` (address -> role, what ``imu-hinge sensors assign``
remembered), else they are ``unassigned``. Scans stop as soon as every wanted role has been seen.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from bleak import BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from imu_hinge.errors import DecodeError, SensorLinkError
from imu_hinge.protocol import SERVICE_UUID, decode_advertisement
from imu_hinge.sources.backend import LinkBackend, bluetooth_unavailable


@dataclass(frozen=True)
class FoundSensor:
    """One advertising sensor: its bleak device, role, battery (% or None), streaming flag, RSSI (dBm)."""

    device: BLEDevice
    role: str
    battery_percent: int | None
    streaming: bool
    rssi: int
    name: str | None = None
    brand: str = "imu-hinge"
    """The :data:`~.brands.BRANDS` key of this sensor."""

    @property
    def address(self) -> str:
        return self.device.address


async def scan(timeout_s: float = 5.0, *, backend: LinkBackend | None = None,
               until_roles: Collection[str] = (), assignments: Mapping[str, str] | None = None,
               until_count: int | None = None) -> list[FoundSensor]:
    """Sensors advertising within ``timeout_s`` s (strongest first per role), sooner if every role
    in ``until_roles`` was seen (or ``until_count`` sensors of any role). ``assignments``: address -> role for
    brands that do not advertise one; other brands are looked for only when it is given (``{}``: none assigned).
    Raises :class:`SensorLinkError` when there is no Bluetooth."""
    from imu_hinge.sources.brands import OWN, recognise

    backend = backend or LinkBackend()
    roles_by_address = {a.upper(): r for a, r in (assignments or {}).items()}
    found: dict[str, FoundSensor] = {}
    done = asyncio.Event()

    def on_advertisement(device: BLEDevice, adv: AdvertisementData) -> None:
        name = adv.local_name or device.name
        b = recognise(name, adv.service_uuids)
        if b is None:
            return  # no brand we know
        if b.key == OWN:
            try:
                info = decode_advertisement(adv.service_uuids, adv.manufacturer_data)
            except DecodeError:
                return  # not one of ours, or a version we do not speak
            found[device.address] = FoundSensor(device, info.role, info.battery_percent, info.streaming, adv.rssi,
                                                name)
        else:
            role = roles_by_address.get(device.address.upper(), "unassigned")
            found[device.address] = FoundSensor(device, role, None, False, adv.rssi, name, b.key)
        if until_roles and set(until_roles) <= {f.role for f in found.values()}:
            done.set()
        if until_count is not None and len(found) >= until_count:
            done.set()

    # other brands advertise other UUIDs (or only a name): scan unfiltered when more than ours is registered
    uuids = [SERVICE_UUID] if assignments is None else None
    await listen(on_advertisement, done, timeout_s, backend, uuids)
    return sorted(found.values(), key=lambda f: (f.role, -f.rssi, f.address))


async def listen(on_advertisement: Callable[[BLEDevice, AdvertisementData], None], done: asyncio.Event,
                 timeout_s: float, backend: LinkBackend, service_uuids: list[str] | None = None) -> None:
    """Pass advertisements to ``on_advertisement`` for ``timeout_s`` s, or until ``done`` is set (every brand's scan).
    Raises :class:`SensorLinkError` when there is no Bluetooth."""
    try:
        async with BleakScanner(on_advertisement, service_uuids=service_uuids, **backend.scanner_kwargs()):
            try:
                await asyncio.wait_for(done.wait(), timeout_s)
            except TimeoutError:
                pass
    except Exception as exc:
        unavailable = bluetooth_unavailable(exc)
        if unavailable is not None:
            raise unavailable from exc
        raise


async def find_sensor(role: str, timeout_s: float, *, backend: LinkBackend | None = None,
                      assignments: Mapping[str, str] | None = None) -> FoundSensor | None:
    """The strongest sensor advertising (or assigned) ``role`` seen within ``timeout_s`` s, or ``None``."""
    found = await scan(timeout_s, backend=backend, until_roles=(role,), assignments=assignments)
    return next((f for f in found if f.role == role), None)


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
        hint = ("; give a sensor its role with `imu-hinge sensors assign ADDRESS sacrum|thoracic`"
                if any(f.role == "unassigned" and f.brand != "imu-hinge" for f in found) else "")
        raise SensorLinkError(f"no {' or '.join(missing)} sensor found (seen: {seen}); switch it on and bring it "
                              f"closer (a new sensor advertises role 'unassigned' until it is given one){hint}",
                              role=missing[0] if len(missing) == 1 else None)
    return {r: picked[r] for r in roles}
