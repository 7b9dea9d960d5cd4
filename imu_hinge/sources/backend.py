"""Which bleak backend the BLE source uses, and "this machine has no Bluetooth" as one clear error.

``LinkBackend()`` is the platform's own (BlueZ, CoreBluetooth, WinRT). Tests and ``--emulate``
pass the project's bumble backend (:mod:`imu_hinge.emulation.bumble_backend`) or the fake one
(:mod:`imu_hinge.emulation.fake_backend`): both are ordinary ``BaseBleakClient`` /
``BaseBleakScanner`` subclasses handed to the unmodified ``BleakClient`` / ``BleakScanner``.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Protocol

from bleak.backends.client import BaseBleakClient
from bleak.backends.scanner import BaseBleakScanner
from bleak.exc import BleakBluetoothNotAvailableError, BleakDBusError, BleakError

from imu_hinge.errors import SensorLinkError

NO_BLUETOOTH_HINT = "try `--emulate` to run on emulated sensors"
_DBUS_UNAVAILABLE = ("org.freedesktop.DBus.Error.ServiceUnknown", "org.freedesktop.DBus.Error.NoReply",
                     "org.freedesktop.DBus.Error.AccessDenied", "org.bluez.Error.NotReady",
                     "org.freedesktop.DBus.Error.Spawn.ServiceNotFound")


class HostClock(Protocol):
    """The host clock the BLE source stamps arrivals with: ``now()`` in s; ``speed`` host-clock
    seconds per real second (1 for the system clock; an emulation clock may run faster)."""

    speed: float

    def now(self) -> float: ...

    async def sleep(self, duration_s: float) -> None: ...


class SystemClock:
    """``time.monotonic``: the host clock of a real session."""

    speed = 1.0

    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, duration_s: float) -> None:
        await asyncio.sleep(duration_s)


@dataclass(frozen=True)
class LinkBackend:
    """bleak backend classes for ``BleakClient(backend=...)`` / ``BleakScanner(backend=...)``
    (``None``: the platform's), and keyword arguments passed to both constructors."""

    client: type[BaseBleakClient] | None = None
    scanner: type[BaseBleakScanner] | None = None
    name: str = "platform"

    def client_kwargs(self) -> dict[str, Any]:
        return {} if self.client is None else {"backend": self.client}

    def scanner_kwargs(self) -> dict[str, Any]:
        return {} if self.scanner is None else {"backend": self.scanner}


def is_notify_acquired(exc: BaseException) -> bool:
    """BlueZ's "Notify acquired" after an abrupt drop: stop_notify, disconnect, then retry."""
    return isinstance(exc, BleakDBusError) and any("Notify acquired" in str(a) for a in exc.args)


def bluetooth_unavailable(exc: BaseException) -> SensorLinkError | None:
    """A one-line :class:`SensorLinkError` if ``exc`` means "no usable Bluetooth here", else ``None``.

    bleak on Linux raises ``FileNotFoundError`` when there is no system D-Bus socket,
    ``BleakDBusError`` when BlueZ is not running or the adapter is off, and
    ``BleakBluetoothNotAvailableError`` (with a reason) when there is no adapter.
    """
    if isinstance(exc, BleakBluetoothNotAvailableError):
        reason = getattr(exc.reason, "name", "unknown").lower().replace("_", " ")
        return SensorLinkError(f"Bluetooth is not available on this machine ({reason}: {exc.args[0]}); "
                               f"{NO_BLUETOOTH_HINT}")
    if isinstance(exc, FileNotFoundError):
        return SensorLinkError("no Bluetooth on this machine (no system D-Bus to reach BlueZ); "
                               f"start bluetoothd or {NO_BLUETOOTH_HINT}")
    if isinstance(exc, BleakDBusError) and exc.dbus_error in _DBUS_UNAVAILABLE:
        return SensorLinkError(f"Bluetooth is not available ({exc.dbus_error}): check that bluetoothd runs and "
                               f"the adapter is powered on, or {NO_BLUETOOTH_HINT}")
    if isinstance(exc, BleakError) and "adapter" in str(exc).lower() and "not" in str(exc).lower():
        return SensorLinkError(f"Bluetooth is not available ({exc}); {NO_BLUETOOTH_HINT}")
    return None
