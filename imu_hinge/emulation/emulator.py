"""Emulated sensors on bumble, in-process: real GATT servers speaking firmware protocol v1 (SPEC.md 1.1).

Each :class:`BumbleSensor` is a bumble ``Device`` on a :class:`~.bumble_backend.BumbleWorld`'s
LocalLink: it advertises the imu-hinge service UUID and its role (manufacturer data), serves the
data / control / info characteristics plus the standard Battery and Device Information services,
and runs :class:`~.emulated_sensor.SensorFirmware` (commands, batching to the negotiated MTU,
device clock, injected faults). :meth:`BumbleSensor.disappear` / :meth:`BumbleSensor.reappear`
take it out of range and back. :class:`Emulator` sets up a world with both sensors::

    async with Emulator("session.csv", mtu=23, speed=20) as emu:     # or Emulator() for simulated hinges
        async with BleSource(backend=emu.backend, clock=emu.clock.now) as source:
            ...
        emu.sensors["thoracic"].firmware.haptic_log                   # [(time_s, HapticCommand)]
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Mapping
from pathlib import Path
from typing import Any

from bumble import gatt
from bumble.device import Connection
from bumble.hci import HCI_CONNECTION_TIMEOUT_ERROR
from bumble.profiles.battery_service import BatteryService
from bumble.profiles.device_information_service import DeviceInformationService

from imu_hinge.emulation.bumble_backend import BumbleWorld
from imu_hinge.emulation.emulated_clock import EmulationClock, VirtualClock
from imu_hinge.emulation.emulated_sensor import MotionOrigin, SensorFaults, SensorFirmware, run_stream
from imu_hinge.emulation.sensor_motion import MotionTrack, load_motion
from imu_hinge.protocol import (
    CONTROL_CHAR_UUID,
    DATA_CHAR_UUID,
    INFO_CHAR_UUID,
    SERVICE_UUID,
    AdvertisementInfo,
    encode_advertising_data,
    encode_info,
)
from imu_hinge.samples import SENSOR_ROLES, Recording
from imu_hinge.sources.backend import LinkBackend

_PROPS = gatt.Characteristic.Properties


class BumbleSensor:
    """One emulated sensor on a bumble world. ``firmware`` holds its state and logs."""

    def __init__(self, world: BumbleWorld, firmware: SensorFirmware, clock: EmulationClock | VirtualClock, *,
                 advertising_interval_ms: float = 20.0, max_mtu: int = 247, max_in_flight: int = 4) -> None:
        self.world = world
        self.max_in_flight = max_in_flight
        self.firmware = firmware
        self.clock = clock
        self.advertising_interval_ms = advertising_interval_ms
        self.device = world.new_device(f"imu-hinge {firmware.role}")
        self.device.gatt_server.max_mtu = max_mtu
        self.connection: Connection | None = None
        self.present = True
        self.connections = 0
        self._stream_task: asyncio.Task[None] | None = None
        self._answering = 0  # commands applied but not answered yet: data waits (answer first, SPEC.md §5)
        self._answered = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()  # cancellable (sleeping in emulated delays, streaming)
        self._hci_tasks: set[asyncio.Task[Any]] = set()  # HCI commands: awaited, never cancelled mid-command
        self._add_services()
        self.device.on(self.device.EVENT_CONNECTION, self._on_connection)

    def _add_services(self) -> None:
        """The GATT layout: ``data_char`` (data notifications), ``response_char`` (command answers) and
        a write handler calling :meth:`_on_control_write`."""
        firmware = self.firmware
        self.data_char = gatt.Characteristic(DATA_CHAR_UUID, _PROPS.NOTIFY, gatt.Characteristic.READABLE, b"")
        self.control_char: gatt.Characteristic[bytes] = gatt.Characteristic(
            CONTROL_CHAR_UUID, _PROPS.WRITE | _PROPS.WRITE_WITHOUT_RESPONSE | _PROPS.NOTIFY,
            gatt.Characteristic.READABLE | gatt.Characteristic.WRITEABLE,
            gatt.CharacteristicValue(read=lambda _c: b"", write=self._on_control_write))
        info_char: gatt.Characteristic[bytes] = gatt.Characteristic(
            INFO_CHAR_UUID, _PROPS.READ, gatt.Characteristic.READABLE,
                                        gatt.CharacteristicValue(read=lambda _c: encode_info(self.firmware.info)))
        version = ".".join(str(v) for v in firmware.firmware_version)
        self.device.add_services([
            gatt.Service(SERVICE_UUID, [self.data_char, self.control_char, info_char]),
            BatteryService(lambda _c: self.firmware.battery_percent),
            DeviceInformationService(manufacturer_name="imu-hinge", model_number="imu-hinge emulated sensor",
                                     serial_number=str(self.device.random_address), hardware_revision="emulated",
                                     firmware_revision=version),
        ])
        self.response_char = self.control_char

    brand = "imu-hinge"

    @property
    def role(self) -> str:
        return self.firmware.role

    @property
    def address(self) -> str:
        return str(self.device.public_address).split("/")[0]

    def _spawn(self, coro: Coroutine[Any, Any, Any], *, hci: bool = False) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        tasks = self._hci_tasks if hci else self._tasks
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return task

    async def power_on(self) -> None:
        await self.device.power_on()
        await self.advertise()

    async def advertise(self) -> None:
        interval_ms = self.advertising_interval_ms
        await self.device.start_advertising(advertising_data=self.advertising_data(),
                                            scan_response_data=self.scan_response_data(),
                                            advertising_interval_min=interval_ms,
                                            advertising_interval_max=interval_ms)

    def advertising_data(self) -> bytes:
        """The 29-byte advertising data: flags, service UUID, manufacturer data (SPEC.md §7)."""
        fw = self.firmware
        return encode_advertising_data(AdvertisementInfo(fw.role, fw.battery_percent, fw.streaming))

    def scan_response_data(self) -> bytes:
        """The scan response: Complete Local Name ``imu-hinge <role>``, for every role (SPEC.md 1.1 §7)."""
        name = f"imu-hinge {self.firmware.role}".encode()
        return bytes([len(name) + 1, 0x09]) + name

    async def disappear(self) -> None:
        """Go out of range: the link drops (supervision timeout) and nothing is advertised."""
        self.present = False
        await self.device.stop_advertising()
        if self.connection is not None:
            await self.device.disconnect(self.connection, HCI_CONNECTION_TIMEOUT_ERROR)

    async def reappear(self) -> None:
        """Come back in range: advertise again (the host reconnects)."""
        self.present = True
        if self.connection is None:
            await self.advertise()

    def _on_connection(self, connection: Connection) -> None:
        self.connection = connection
        self.connections += 1
        connection.on(connection.EVENT_DISCONNECTION, self._on_disconnection)

    def _on_disconnection(self, reason: int) -> None:
        self.connection = None
        self.firmware.stop()  # a disconnect stops streaming and the motor
        if self._stream_task is not None:
            self._stream_task.cancel()
            self._stream_task = None
        if self.present:
            self._spawn(self.advertise(), hci=True)

    def _on_control_write(self, connection: Connection, value: bytes) -> None:
        self.world.note_delivered()
        delay_s = self.firmware.command_delay_s()
        self._spawn(self._command(connection, bytes(value), delay_s))

    async def _command(self, connection: Connection, value: bytes, delay_s: float) -> None:
        await self.clock.sleep(delay_s)
        if self.connection is not connection:
            return
        hold = value[:1] == b"\x01"  # a start: its stream's data waits for the answer
        self._answering += hold
        try:
            response = self.firmware.handle_command(value, self.clock.now())
            if self.firmware.streaming and (self._stream_task is None or self._stream_task.done()):
                self._stream_task = self._spawn(run_stream(self.firmware, self.clock, self._send_data,
                                                           lambda: connection.att_mtu, throttle=self._throttle))
            await self.clock.sleep(self.firmware.notify_delay_s())
            if self.connection is connection and response:
                self.world.sent += 1
                await self.device.notify_subscriber(connection, self.response_char, response)
        finally:
            self._answering -= hold
            self._answered.set()

    async def _send_data(self, payload: bytes) -> None:
        while self._answering:  # a start's answer goes out before the data of its stream
            self._answered.clear()
            await self._answered.wait()
        connection = self.connection
        if connection is None:
            self.firmware.stop()
            return
        self.world.sent += 1
        await self.device.notify_subscriber(connection, self.data_char, payload)

    async def _throttle(self) -> None:
        """Hold the clock while more than ``max_in_flight`` notifications are on their way."""
        if self.world.in_flight <= self.max_in_flight:
            return
        self.clock.hold()
        try:
            await self.world.wait_drained(0.2)
        finally:
            self.clock.release()

    async def close(self) -> None:
        """Stop advertising and every task of this sensor (the link itself needs no closing). The controller's
        advertising timer would otherwise fire after the session's event loop has stopped (under a Qt window its
        timers still run while the window closes: "no running event loop" tracebacks)."""
        self.present = False
        self.firmware.stop()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        # HCI tasks finish (a disconnect just before may have spawned one that starts advertising again) ...
        await asyncio.gather(*tasks, *list(self._hci_tasks), return_exceptions=True)
        self._stream_task = None
        if self.device.is_advertising:  # ... and then nothing is advertised any more
            await self.device.stop_advertising()


MotionSource = str | Path | Recording | Mapping[str, MotionTrack] | None


class Emulator:
    """Both emulated sensors on one bumble world; an async context manager.

    ``motion``: an interchange CSV path or ``Recording`` (played as recorded), a mapping role ->
    :class:`MotionTrack`, or ``None`` (simulated hinges of ``duration_s`` from ``seed``).
    ``mtu``: what the host requests; ``speed``: emulated seconds per real second (``None``: discrete
    events, as fast as the link takes them, see :class:`~.emulated_clock.VirtualClock`);
    ``faults`` / ``clock_ppm``: one value for both sensors or a mapping per role. Each sensor's
    device clock starts at its own offset; the thoracic one wraps 2**32 µs about 20 s in.
    Attributes: ``clock`` (the host clock to hand the BLE source), ``backend``, ``sensors``.
    """

    def __init__(self, motion: MotionSource = None, *, mtu: int = 247, speed: float | None = 1.0,
                 faults: SensorFaults | Mapping[str, SensorFaults] | None = None,
                 clock_ppm: float | Mapping[str, float] = 0.0, battery_percent: int = 87, seed: int = 0,
                 duration_s: float = 120.0, advertising_interval_ms: float = 20.0,
                 kinds: Mapping[str, str] | None = None) -> None:
        from imu_hinge.sources.brands import OWN, brand

        self.motion = motion if isinstance(motion, Mapping) else load_motion(motion, seed=seed, duration_s=duration_s)
        self.kinds = {role: (kinds or {}).get(role, OWN) for role in SENSOR_ROLES}
        classes = {role: brand(kind).emulator_class() for role, kind in self.kinds.items()}
        self.world = BumbleWorld(mtu=mtu)
        self.clock: EmulationClock | VirtualClock = (
            VirtualClock(lambda: self.world.wait_drained(0.2)) if speed is None else EmulationClock(speed))
        self.backend: LinkBackend = self.world.backend()
        offsets = {"sacrum": 1_000_000, "thoracic": (1 << 32) - 20_000_000}
        self.motion_origin = MotionOrigin()  # one person: both sensors measure the same motion
        self.sensors: dict[str, BumbleSensor] = {}
        for k, role in enumerate(SENSOR_ROLES):
            f = faults.get(role) if isinstance(faults, Mapping) else faults
            ppm = clock_ppm.get(role, 0.0) if isinstance(clock_ppm, Mapping) else clock_ppm
            if classes[role] is not BumbleSensor:  # another brand's emulation (brands.BRANDS[kind].emulator)
                self.sensors[role] = classes[role].emulate(
                    self.world, role, self.motion[role], self.clock, index=k, clock_ppm=ppm, faults=f,
                    battery_percent=battery_percent, motion_origin=self.motion_origin, seed=seed,
                    advertising_interval_ms=advertising_interval_ms)
                continue
            fw = SensorFirmware(role, self.motion[role], battery_percent=battery_percent, clock_ppm=ppm,
                                device_clock_offset_us=offsets.get(role, 0), faults=f or SensorFaults(seed=seed + k),
                                motion_origin=self.motion_origin)
            self.sensors[role] = BumbleSensor(self.world, fw, self.clock,
                                              advertising_interval_ms=advertising_interval_ms)

    @property
    def assignments(self) -> dict[str, str]:
        """Address -> role of the emulated sensors that do not advertise a role (what ``sensors assign`` would
        have remembered for them)."""
        from imu_hinge.sources.brands import BRANDS

        return {s.address: role for role, s in self.sensors.items()
                if not BRANDS[self.kinds[role]].advertises_role}

    async def __aenter__(self) -> Emulator:
        self.clock.now()  # time 0 is now
        await self.clock.start()
        await self.world.power_on()
        for sensor in self.sensors.values():
            await sensor.power_on()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        for sensor in self.sensors.values():
            await sensor.close()
        await self.clock.close()
