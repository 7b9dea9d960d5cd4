"""A bleak backend on Google's bumble stack, in-process: the unmodified ``BleakClient`` /
``BleakScanner`` talk to emulated sensors over a bumble ``LocalLink`` (no radio, no BlueZ).

A :class:`BumbleWorld` is one ``LocalLink`` plus a central bumble ``Device`` (the host's
"adapter"); emulated sensors (:mod:`imu_hinge.emulation.emulator`) join it with their own
controllers. ``world.backend()`` returns a :class:`~imu_hinge.sources.backend.LinkBackend`
whose client and scanner classes are bound to that world. The client requests ``world.mtu``
after connecting (23: no exchange, so longer values are cut to 20 bytes, as on air).

Written against bumble 0.0.236 (pinned exactly in pyproject: its API moves). LocalLink has
no radio timing: throughput and latency measured through it mean nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from bleak.args import SizedBuffer
from bleak.assigned_numbers import CHARACTERISTIC_PROPERTIES
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakError
from bleak.uuids import normalize_uuid_str
from bumble import core
from bumble.controller import Controller
from bumble.device import Advertisement, Connection, Device, Peer
from bumble.hci import HCI_REMOTE_USER_TERMINATED_CONNECTION_ERROR, Address
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

from imu_hinge.sources.backend import LinkBackend

BUMBLE_VERSION = "0.0.236"
"""The bumble release this module is written against (pinned in pyproject)."""
_AD = core.AdvertisingData


def bleak_uuid(u: core.UUID) -> str:
    """A bumble UUID as bleak writes it (lower case, 128-bit)."""
    return normalize_uuid_str(u.to_hex_str("-"))


def advertisement_data(adv: Advertisement) -> AdvertisementData:
    """bleak's view of a bumble advertisement report."""
    uuids: list[str] = []
    mfr: dict[int, bytes] = {}
    name = None
    tx_power = None
    for ad_type, value in adv.data.ad_structures:
        if ad_type in (_AD.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
                       _AD.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS):
            uuids += [str(uuid.UUID(bytes=value[i:i + 16][::-1])) for i in range(0, len(value) - 15, 16)]
        elif ad_type in (_AD.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
                         _AD.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS):
            uuids += [normalize_uuid_str(value[i:i + 2][::-1].hex()) for i in range(0, len(value) - 1, 2)]
        elif ad_type == _AD.MANUFACTURER_SPECIFIC_DATA and len(value) >= 2:
            mfr[int.from_bytes(value[:2], "little")] = bytes(value[2:])
        elif ad_type in (_AD.COMPLETE_LOCAL_NAME, _AD.SHORTENED_LOCAL_NAME):
            name = bytes(value).decode("utf-8", "replace")
        elif ad_type == _AD.TX_POWER_LEVEL and value:
            tx_power = int.from_bytes(value[:1], "little", signed=True)
    return AdvertisementData(name, mfr, {}, uuids, tx_power, adv.rssi, (adv,))


@contextlib.contextmanager
def _as_bleak_errors(what: str) -> Iterator[None]:
    """bumble's exceptions as bleak callers expect them: ``TimeoutError`` or ``BleakError``."""
    try:
        yield
    except core.TimeoutError as exc:
        raise TimeoutError(f"{what}: {exc}") from exc
    except core.BaseBumbleError as exc:
        raise BleakError(f"{what}: {exc}") from exc


class BumbleWorld:
    """A LocalLink, the host's central device on it, and the addresses handed out to peripherals."""

    def __init__(self, *, mtu: int = 247) -> None:
        if not 23 <= mtu <= 517:
            raise ValueError(f"ATT MTU must be 23..517, got {mtu}")
        self.mtu = mtu
        self.link = LocalLink()
        self._count = 0
        self._controllers: dict[str, Controller] = {}
        self.central = self.new_device("imu-hinge host")
        self._scanners: set[BumbleBleakScanner] = set()
        self.sent = self.delivered = 0  # messages in flight either way, for emulators running as fast as the link
        self._drained = asyncio.Event()
        self._scan_lock = asyncio.Lock()
        self._connect_lock = asyncio.Lock()
        self.central.on(self.central.EVENT_ADVERTISEMENT, self._on_advertisement)

    @property
    def in_flight(self) -> int:
        """Notifications from emulated sensors not yet handed to a bleak callback, plus writes not yet handed
        to a sensor."""
        return self.sent - self.delivered

    def note_delivered(self) -> None:
        self.delivered += 1
        if self.delivered >= self.sent:
            self._drained.set()

    async def wait_drained(self, timeout_s: float) -> None:
        """Until everything sent was delivered (or ``timeout_s`` real s: then forget the rest)."""
        self._drained.clear()
        if self.delivered >= self.sent:
            return
        try:
            await asyncio.wait_for(self._drained.wait(), timeout_s)
        except TimeoutError:
            self.delivered = self.sent  # sent to nobody (unsubscribed, disconnected): not in flight

    def new_device(self, name: str) -> Device:
        """A bumble device with its own controller on this world's link (a static random address)."""
        self._count += 1
        address = f"C0:00:00:00:{self._count >> 8:02X}:{self._count & 0xFF:02X}"
        controller = Controller(name, link=self.link, public_address=address)
        self._controllers[address] = controller
        return Device(name=name, address=Address(address), host=Host(controller, AsyncPipeSink(controller)))

    async def power_on(self) -> None:
        await self.central.power_on()

    def backend(self) -> LinkBackend:
        """Client and scanner classes bound to this world, for ``BleakClient`` / ``BleakScanner``."""
        client = type("BumbleBleakClient", (BumbleBleakClient,), {"world": self})
        scanner = type("BumbleBleakScanner", (BumbleBleakScanner,), {"world": self})
        return LinkBackend(client=client, scanner=scanner, name="bumble")

    def _on_advertisement(self, adv: Advertisement) -> None:
        if adv.is_scan_response:  # LocalLink's controller repeats the advertising data as the scan response:
            controller = self._controllers.get(str(adv.address).split("/")[0])  # add the real one, as on air
            sets = [] if controller is None else [a for a in controller.advertising_sets.values() if a.enabled]
            if sets and sets[0].scan_response_data:
                adv.data = _AD.from_bytes(bytes(sets[0].data) + bytes(sets[0].scan_response_data))
        for scanner in list(self._scanners):
            scanner.on_advertisement(adv)

    async def add_scanner(self, scanner: BumbleBleakScanner) -> None:
        async with self._scan_lock:
            if not self._scanners:
                await self.central.start_scanning(filter_duplicates=False)
            self._scanners.add(scanner)

    async def remove_scanner(self, scanner: BumbleBleakScanner) -> None:
        async with self._scan_lock:
            if scanner in self._scanners:
                self._scanners.discard(scanner)
                if not self._scanners:
                    await self.central.stop_scanning()

    async def connect(self, address: Address, timeout_s: float) -> Connection:
        """One LE connection at a time (bumble allows a single pending connection)."""
        async with self._connect_lock:
            return await self.central.connect(address, timeout=timeout_s)


class BumbleBleakScanner(BaseBleakScanner):
    """``BaseBleakScanner`` over a :class:`BumbleWorld` (bound by ``world.backend()``)."""

    world: ClassVar[BumbleWorld]

    def __init__(self, detection_callback: Any = None, service_uuids: list[str] | None = None,
                 scanning_mode: str = "active", **kwargs: Any) -> None:
        super().__init__(detection_callback, service_uuids)

    async def start(self) -> None:
        self.seen_devices = {}
        await self.world.add_scanner(self)

    async def stop(self) -> None:
        await self.world.remove_scanner(self)

    def on_advertisement(self, adv: Advertisement) -> None:
        data = advertisement_data(adv)
        if not self.is_allowed_uuid(data.service_uuids):
            return
        address = str(adv.address).split("/")[0]
        device = self.create_or_update_device(address, address, data.local_name, adv.address, data)
        self.call_detection_callbacks(device, data)


class BumbleBleakClient(BaseBleakClient):
    """``BaseBleakClient`` over a :class:`BumbleWorld` (bound by ``world.backend()``)."""

    world: ClassVar[BumbleWorld]

    def __init__(self, address_or_ble_device: BLEDevice | str, *,
                 disconnected_callback: Callable[[], None] | None = None, timeout: float = 10.0, **kwargs: Any) -> None:
        super().__init__(address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout)
        details = address_or_ble_device.details if isinstance(address_or_ble_device, BLEDevice) else None
        self._peer_address = details if isinstance(details, Address) else Address(self.address)
        self._connection: Connection | None = None
        self._peer: Peer | None = None
        self._callbacks: dict[int, Callable[[bytes], None]] = {}

    @property
    def name(self) -> str:
        return self.address

    @property
    def mtu_size(self) -> int:
        return self._connection.att_mtu if self._connection is not None else 23

    @property
    def is_connected(self) -> bool:
        return self._connection is not None

    def _require_peer(self) -> Peer:
        if self._peer is None:
            raise BleakError("Not connected")
        return self._peer

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        with _as_bleak_errors(f"connecting to {self.address}"):
            conn = await self.world.connect(self._peer_address, self._timeout)
        self._connection = conn
        conn.on(conn.EVENT_DISCONNECTION, self._on_disconnection)
        self._peer = Peer(conn)
        try:
            with _as_bleak_errors(f"setting up {self.address}"):
                if self.world.mtu > 23:
                    await self._peer.request_mtu(self.world.mtu)
                self.services = await self._discover(self._peer)
        except BaseException:
            await self.disconnect()
            raise

    async def _discover(self, peer: Peer) -> BleakGATTServiceCollection:
        coll = BleakGATTServiceCollection()
        for s in await peer.discover_services():
            service = BleakGATTService(s, s.handle, bleak_uuid(s.uuid))
            coll.add_service(service)
            for c in await peer.discover_characteristics(service=s):
                props = [name for bit, name in CHARACTERISTIC_PROPERTIES.items() if int(c.properties) & bit]
                char = BleakGATTCharacteristic(c, c.handle, bleak_uuid(c.uuid), props, lambda: self.mtu_size - 3,
                                               service)
                coll.add_characteristic(char)
                for d in await peer.discover_descriptors(c):
                    coll.add_descriptor(BleakGATTDescriptor(d, d.handle, bleak_uuid(d.type), char))
        return coll

    def _on_disconnection(self, reason: int) -> None:
        self._connection = None
        self._peer = None
        self._callbacks.clear()
        if self._disconnected_callback is not None:
            self._disconnected_callback()

    async def disconnect(self) -> None:
        conn = self._connection
        if conn is None:
            return
        callback, self._disconnected_callback = self._disconnected_callback, None  # solicited: no callback
        try:
            await conn.disconnect(HCI_REMOTE_USER_TERMINATED_CONNECTION_ERROR)
        except (TimeoutError, core.BaseBumbleError):
            pass
        finally:
            self._connection = self._peer = None
            self._disconnected_callback = callback

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        raise BleakError("pairing is not emulated")

    async def unpair(self) -> None:
        raise BleakError("pairing is not emulated")

    async def read_gatt_char(self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False,
                             **kwargs: Any) -> bytearray:
        with _as_bleak_errors(f"reading {characteristic.uuid}"):
            return bytearray(await self._require_peer().read_value(characteristic.obj))

    async def read_gatt_descriptor(self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False,
                                   **kwargs: Any) -> bytearray:
        with _as_bleak_errors(f"reading descriptor {descriptor.handle}"):
            return bytearray(await self._require_peer().read_value(descriptor.obj))

    async def write_gatt_char(self, characteristic: BleakGATTCharacteristic, data: SizedBuffer,
                              response: bool) -> None:
        peer = self._require_peer()
        self.world.sent += 1  # delivered when the emulated sensor's write handler runs
        with _as_bleak_errors(f"writing {characteristic.uuid}"):
            await peer.write_value(characteristic.obj, bytes(data), with_response=response)

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: SizedBuffer) -> None:
        with _as_bleak_errors(f"writing descriptor {descriptor.handle}"):
            await self._require_peer().write_value(descriptor.obj, bytes(data), with_response=True)

    async def start_notify(self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback,
                           **kwargs: Any) -> None:
        world = self.world

        def on_value(value: bytes) -> None:
            world.note_delivered()
            callback(bytearray(value))

        self._callbacks[characteristic.handle] = on_value
        with _as_bleak_errors(f"subscribing to {characteristic.uuid}"):
            await self._require_peer().subscribe(characteristic.obj, on_value)

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        on_value = self._callbacks.pop(characteristic.handle, None)
        with _as_bleak_errors(f"unsubscribing from {characteristic.uuid}"):
            await self._require_peer().unsubscribe(characteristic.obj, on_value)
