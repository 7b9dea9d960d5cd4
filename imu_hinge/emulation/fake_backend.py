"""A pure-Python bleak backend (no bumble) for faults that are hard to provoke on a real stack.

:class:`FakeWorld` holds emulated sensors (the same :class:`~.emulated_sensor.SensorFirmware` the
bumble emulator runs) behind ``FakeBleakClient`` / ``FakeBleakScanner``: GATT reads, writes and
notifications are plain calls. :class:`FakeFaults` per sensor: connect attempts that hang until
the caller's timeout, ``BleakDBusError("org.bluez.Error.NotPermitted", ["Notify acquired"])`` from
``start_notify`` (BlueZ after an abrupt drop), a disconnect mid-stream after N notifications, and
(world-wide) "no Bluetooth here" raised by the scanner. ``calls`` logs what the client did.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from bleak.args import SizedBuffer
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDBusError, BleakError

from imu_hinge.emulation.emulated_clock import EmulationClock
from imu_hinge.emulation.emulated_sensor import SensorFirmware, run_stream
from imu_hinge.protocol import (
    CONTROL_CHAR_UUID,
    DATA_CHAR_UUID,
    INFO_CHAR_UUID,
    SERVICE_UUID,
    AdvertisementInfo,
    encode_adv_payload,
    encode_info,
)
from imu_hinge.protocol.spec import (
    ADV_COMPANY_ID,
    BATTERY_LEVEL_CHAR_UUID,
    BATTERY_SERVICE_UUID,
    DEVICE_INFORMATION_SERVICE_UUID,
    FIRMWARE_REVISION_CHAR_UUID,
)
from imu_hinge.sources.backend import LinkBackend

_GATT = ((SERVICE_UUID, ((DATA_CHAR_UUID, ["notify"]),
                         (CONTROL_CHAR_UUID, ["write", "write-without-response", "notify"]),
                         (INFO_CHAR_UUID, ["read"]))),
         (BATTERY_SERVICE_UUID, ((BATTERY_LEVEL_CHAR_UUID, ["read", "notify"]),)),
         (DEVICE_INFORMATION_SERVICE_UUID, ((FIRMWARE_REVISION_CHAR_UUID, ["read"]),)))


@dataclass
class FakeFaults:
    """Faults of one fake sensor; counters go down as the faults fire."""

    connect_timeouts: int = 0
    notify_acquired: int = 0
    disconnect_after_notifications: int | None = None


class FakeSensor:
    """One fake sensor: firmware, faults, whether it is in range, and the client connected to it."""

    def __init__(self, firmware: SensorFirmware, address: str, faults: FakeFaults | None = None) -> None:
        self.firmware = firmware
        self.address = address
        self.faults = faults or FakeFaults()
        self.present = True
        self.client: FakeBleakClient | None = None
        self.notifications = 0


class FakeWorld:
    """Fake sensors and the clock they run on. ``calls``: (sensor address, client method) in order."""

    def __init__(self, firmwares: list[SensorFirmware], *, clock: EmulationClock | None = None, mtu: int = 247,
                 faults: dict[str, FakeFaults] | None = None, no_bluetooth: BaseException | None = None) -> None:
        self.clock = clock or EmulationClock()
        self.mtu = mtu
        self.no_bluetooth = no_bluetooth
        self.sensors = {f"FA:KE:00:00:00:{k:02X}": FakeSensor(fw, f"FA:KE:00:00:00:{k:02X}",
                                                            (faults or {}).get(fw.role))
                        for k, fw in enumerate(firmwares, start=1)}
        self.calls: list[tuple[str, str]] = []

    def by_role(self, role: str) -> FakeSensor:
        return next(s for s in self.sensors.values() if s.firmware.role == role)

    def backend(self) -> LinkBackend:
        client = type("FakeBleakClient", (FakeBleakClient,), {"world": self})
        scanner = type("FakeBleakScanner", (FakeBleakScanner,), {"world": self})
        return LinkBackend(client=client, scanner=scanner, name="fake")


class FakeBleakScanner(BaseBleakScanner):
    """Reports every present fake sensor's advertisement every 20 ms of real time."""

    world: ClassVar[FakeWorld]

    def __init__(self, detection_callback: Any = None, service_uuids: list[str] | None = None,
                 scanning_mode: str = "active", **kwargs: Any) -> None:
        super().__init__(detection_callback, service_uuids)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.world.no_bluetooth is not None:
            raise self.world.no_bluetooth
        self.seen_devices = {}
        self._task = asyncio.create_task(self._advertise())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _advertise(self) -> None:
        while True:
            for sensor in self.world.sensors.values():
                if sensor.present and sensor.client is None:
                    fw = sensor.firmware
                    payload = encode_adv_payload(AdvertisementInfo(fw.role, fw.battery_percent, fw.streaming))
                    adv = AdvertisementData(None, {ADV_COMPANY_ID: payload}, {}, [SERVICE_UUID], None, -40, ())
                    if self.is_allowed_uuid(adv.service_uuids):
                        device = self.create_or_update_device(sensor.address, sensor.address, None, sensor, adv)
                        self.call_detection_callbacks(device, adv)
            await asyncio.sleep(0.02)


class FakeBleakClient(BaseBleakClient):
    """GATT on a :class:`FakeSensor` by direct calls, with its faults."""

    world: ClassVar[FakeWorld]

    def __init__(self, address_or_ble_device: BLEDevice | str, *,
                 disconnected_callback: Callable[[], None] | None = None, timeout: float = 10.0, **kwargs: Any) -> None:
        super().__init__(address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout)
        self.sensor = self.world.sensors[self.address]
        self._connected = False
        self._callbacks: dict[str, NotifyCallback] = {}
        self._stream: asyncio.Task[None] | None = None

    def _log(self, what: str) -> None:
        self.world.calls.append((self.address, what))

    @property
    def mtu_size(self) -> int:
        return self.world.mtu

    @property
    def is_connected(self) -> bool:
        return self._connected

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        self._log("connect")
        if not self.sensor.present or self.sensor.client is not None:
            raise BleakError(f"device {self.address} not found")
        if self.sensor.faults.connect_timeouts > 0:
            self.sensor.faults.connect_timeouts -= 1
            await asyncio.sleep(self._timeout + 1.0)  # the caller's timeout fires first
        self.services = _services()
        self._connected = True
        self.sensor.client = self

    async def disconnect(self) -> None:
        self._log("disconnect")
        self._drop()

    def _drop(self) -> None:
        self._connected = False
        self._callbacks.clear()
        if self.sensor.client is self:
            self.sensor.client = None
        self.sensor.firmware.stop()
        if self._stream is not None:
            self._stream.cancel()
            self._stream = None

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        raise BleakError("pairing is not emulated")

    async def unpair(self) -> None:
        raise BleakError("pairing is not emulated")

    def _check(self) -> None:
        if not self._connected:
            raise BleakError("Not connected")

    async def read_gatt_char(self, characteristic: BleakGATTCharacteristic, **kwargs: Any) -> bytearray:
        self._check()
        fw = self.sensor.firmware
        values = {INFO_CHAR_UUID: encode_info(fw.info), BATTERY_LEVEL_CHAR_UUID: bytes([fw.battery_percent]),
                  FIRMWARE_REVISION_CHAR_UUID: ".".join(map(str, fw.firmware_version)).encode()}
        return bytearray(values[characteristic.uuid])

    async def read_gatt_descriptor(self, descriptor: BleakGATTDescriptor, **kwargs: Any) -> bytearray:
        raise BleakError("no descriptors here")

    async def write_gatt_char(self, characteristic: BleakGATTCharacteristic, data: SizedBuffer,
                              response: bool) -> None:
        self._check()
        if characteristic.uuid != CONTROL_CHAR_UUID:
            raise BleakError(f"{characteristic.uuid} is not writable")
        fw = self.sensor.firmware
        answer = fw.handle_command(bytes(data), self.world.clock.now())
        if fw.streaming and (self._stream is None or self._stream.done()):
            self._stream = asyncio.create_task(run_stream(fw, self.world.clock, self._send, lambda: self.world.mtu))
        if (callback := self._callbacks.get(CONTROL_CHAR_UUID)) is not None:
            asyncio.get_running_loop().call_soon(callback, bytearray(answer))

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: SizedBuffer) -> None:
        raise BleakError("no descriptors here")

    async def start_notify(self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback,
                           **kwargs: Any) -> None:
        self._check()
        self._log(f"start_notify {characteristic.uuid[4:8]}")
        if self.sensor.faults.notify_acquired > 0:
            self.sensor.faults.notify_acquired -= 1
            raise BleakDBusError("org.bluez.Error.NotPermitted", ["Notify acquired"])
        self._callbacks[characteristic.uuid] = callback

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        self._log(f"stop_notify {characteristic.uuid[4:8]}")
        self._callbacks.pop(characteristic.uuid, None)

    async def _send(self, payload: bytes) -> None:
        if (callback := self._callbacks.get(DATA_CHAR_UUID)) is not None:
            callback(bytearray(payload))
        self.sensor.notifications += 1
        limit = self.sensor.faults.disconnect_after_notifications
        if limit is not None and self.sensor.notifications >= limit:
            self.sensor.faults.disconnect_after_notifications = None
            self._log("dropped mid-stream")
            self._drop()
            if self._disconnected_callback is not None:
                self._disconnected_callback()


def _services() -> BleakGATTServiceCollection:
    coll = BleakGATTServiceCollection()
    handle = 1
    for service_uuid, chars in _GATT:
        service = BleakGATTService(None, handle, service_uuid)
        coll.add_service(service)
        for char_uuid, props in chars:
            handle += 2
            coll.add_characteristic(BleakGATTCharacteristic(None, handle, char_uuid, props,  # type: ignore[arg-type]
                                                            lambda: 244, service))
        handle += 1
    return coll
