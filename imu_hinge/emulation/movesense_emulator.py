"""An emulated Movesense on bumble, from the public description of its GATT SensorData app.

:class:`MovesenseFirmware` is :class:`~.emulated_sensor.SensorFirmware` (device clock with drift,
motion, injected drops and delays, batching) speaking Movesense: HELLO, SUBSCRIBE
``/Meas/IMU6/{rate}`` (200; 404 for an unknown resource; 400 for a rate it does not take; 507
when its subscription slot is taken), UNSUBSCRIBE (no answer), IMU6 data as float32 with the
first sample's ms timestamp, sampled at the path's LSM6DS3 rate (104 Hz for ``/Meas/IMU6/104``, 12.5 Hz
for 13; a played recording of another rate gives each sample its nearest row), ``rate / 13`` samples
per notification (8 at 104 Hz, 198 bytes: DATA + DATA_PART2). :class:`BumbleMovesense` is
:class:`~.emulator.BumbleSensor` with Movesense's GATT layout (SensorData service, Battery, Device
Information) and its advertisement (``Movesense <serial>``, no role).

Variants for bad input: ``sensordata_service=False`` (a Movesense without the app),
``supported_rates_hz`` (a sensor that refuses a rate), ``imu6=False`` (a firmware without the IMU
resource: SUBSCRIBE answers 404), ``busy=True`` (another app holds its subscription slot: 507),
``answers_subscribe=False`` (older firmware: a subscribe is answered by the data alone), ``mangle``
(rewrite the notifications of a message: unknown types, truncated packets).

Factory for the brand registry: :func:`emulate_movesense` (one sensor on a world), or
:func:`use_movesense` (replace one role of an :class:`~.emulator.Emulator` before entering it).
:func:`movesense_session` runs one through :class:`~.ble.BleSource` (tests and
``benchmarks/movesense_link.py``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np
from bumble import gatt
from bumble.profiles.battery_service import BatteryService
from bumble.profiles.device_information_service import DeviceInformationService

from imu_hinge.emulation.bumble_backend import BumbleWorld
from imu_hinge.emulation.emulated_clock import EmulationClock, VirtualClock
from imu_hinge.emulation.emulated_sensor import MotionOrigin, SensorFaults, SensorFirmware
from imu_hinge.emulation.emulator import BumbleSensor, Emulator
from imu_hinge.emulation.sensor_motion import MotionTrack
from imu_hinge.protocol import SensorInfo, StartCommand
from imu_hinge.samples import Recording
from imu_hinge.sources.movesense_protocol import (
    DEG,
    HELLO,
    MAX_NOTIFICATION_BYTES,
    NOTIFY_CHAR_UUID,
    ODR_HZ,
    SERVICE_UUID,
    STATUS_BAD_REQUEST,
    STATUS_INSUFFICIENT_STORAGE,
    STATUS_NOT_FOUND,
    STATUS_OK,
    SUBSCRIBE,
    SUPPORTED_RATES_HZ,
    UNSUBSCRIBE,
    WRITE_CHAR_UUID,
    decode_command,
    encode_hello_result,
    encode_imu6_body,
    encode_result,
    split_notifications,
)

_PROPS = gatt.Characteristic.Properties
_IMU6 = re.compile(r"^/Meas/IMU6/(\d+)$")
Mangle = Callable[[int, list[bytes]], list[bytes]]
"""``mangle(message_number, notifications) -> notifications`` sent instead (0-based message number)."""


class MovesenseFirmware(SensorFirmware):
    """A Movesense running gatt_sensordata_app. Logs: ``commands`` [(time_s, movesense_protocol.Command)],
    plus everything :class:`SensorFirmware` keeps (``injected_drops``, ``sent_samples``)."""

    def __init__(self, role: str, motion: MotionTrack, *, serial: str = "000000000000",
                 supported_rates_hz: tuple[int, ...] = SUPPORTED_RATES_HZ, answers_subscribe: bool = True,
                 mangle: Mangle | None = None, imu6: bool = True, busy: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("firmware_version", (2, 2, 1))
        super().__init__(role, motion, **kwargs)
        self.serial = serial
        self.supported_rates_hz = supported_rates_hz
        self.answers_subscribe = answers_subscribe
        self.mangle = mangle
        self.imu6 = imu6
        self.busy = busy
        self.batch_wait_us = 10**12  # a notification goes when its samples are in, never on a timer
        self.subscription: int | None = None
        self.path_rate_hz = 104
        self.messages = 0
        self.dropped_indices: list[int] = []
        """Stream indices of the samples dropped on purpose (a drop after the last sample sent is seen by nobody)."""
        self._max_bytes = MAX_NOTIFICATION_BYTES

    def handle_command(self, data: bytes, now_s: float) -> bytes:
        """Apply one command; the COMMAND_RESULT to notify (empty: no answer)."""
        if len(data) < 2:
            return b""  # the firmware reads two bytes; shorter writes are not answered
        cmd = decode_command(data)
        self.commands.append((now_s, cmd))
        if cmd.command == HELLO:
            return encode_hello_result(cmd.reference)
        if cmd.command == SUBSCRIBE:
            status = self._subscribe(cmd.reference, cmd.path, now_s)
            return encode_result(cmd.reference, status) if status != STATUS_OK or self.answers_subscribe else b""
        if cmd.command == UNSUBSCRIBE and cmd.reference == self.subscription:
            self.stop(motor=False)
        return b""  # UNSUBSCRIBE and unknown commands are not answered

    def _subscribe(self, reference: int, path: str, now_s: float) -> int:
        match = _IMU6.match(path)
        if match is None or not self.imu6:
            return STATUS_NOT_FOUND
        rate = int(match.group(1))
        if rate not in self.supported_rates_hz:
            return STATUS_BAD_REQUEST
        if self.subscription is not None or self.busy:
            return STATUS_INSUFFICIENT_STORAGE
        self._start(StartCommand(rate_hz=rate), now_s)
        self.subscription = reference
        self.path_rate_hz = rate
        return STATUS_OK

    def _start(self, cmd: StartCommand, now_s: float) -> str:
        """Sample at the LSM6DS3's rate for the path (104 Hz for ``/Meas/IMU6/104``, 12.5 for 13) whatever the
        played recording's rate: each sample measures the recording's row nearest its true time, as a real
        Movesense strapped on the person who made the recording would (the project's own emulated sensor plays a
        recording at its recorded rate instead)."""
        origin_before = self.motion_origin.time_s
        status = super()._start(cmd, now_s)
        if status != "ok":
            return status
        self.info = SensorInfo.lsm6ds3(role=self.role, rate_hz=ODR_HZ[int(cmd.rate_hz)], acc_range_g=16,
                                       gyr_range_dps=2000, firmware_version=self.firmware_version)
        self._period_us = 1e9 / self.info.rate_millihz
        self._start_us = self.device_time_us(now_s) + self._period_us  # first sample one period after the subscribe
        if origin_before is None:
            self.motion_origin.time_s = self._sample_time_s(0)
        return status

    def stop(self, *, motor: bool = True) -> None:
        super().stop(motor=motor)
        self.subscription = None  # the firmware drops every subscription on disconnect

    def _dropped(self, k: int) -> bool:
        dropped = super()._dropped(k)
        if dropped:
            self.dropped_indices.append(k)
        return dropped

    def samples_per_packet(self, mtu: int) -> int:
        """``rate / 13`` samples (8 at 104 Hz), fewer if three notifications of this MTU cannot hold them."""
        room = 3 * (min(MAX_NOTIFICATION_BYTES, mtu - 3) - 2) - 4
        return max(1, min(round(self.path_rate_hz / 13), room // 24))

    def poll(self, now_s: float, mtu: int) -> None:
        self._max_bytes = min(MAX_NOTIFICATION_BYTES, mtu - 3)
        super().poll(now_s, mtu)

    def timestamp_ms(self, k: int) -> int:
        """The ms timestamp of stream sample ``k``: the device clock, truncated to whole ms."""
        return math.floor((self._start_us + k * self._period_us) / 1000.0) % (1 << 32)

    def values_at(self, stream_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(acc m/s^2, gyro deg/s), each (n, 3) float32, that the stream sends for these samples."""
        assert self.motion_origin.time_s is not None
        row = (self._sample_times_s(np.asarray(stream_index)) - self.motion_origin.time_s) * self.motion.rate_hz
        acc, gyr = self.motion.at_rows(row)
        return acc.astype(np.float32), (gyr / DEG).astype(np.float32)

    def _emit(self, ready_s: float) -> None:
        ks = np.asarray(self._pending)
        self._pending = []
        acc, gyr = self.values_at(ks)
        assert self.subscription is not None
        parts = split_notifications(self.subscription, encode_imu6_body(self.timestamp_ms(int(ks[0])), acc, gyr),
                                    self._max_bytes)
        if self.mangle is not None:
            parts = self.mangle(self.messages, parts)
        self.messages += 1
        send_s = max(self._last_send_s, ready_s + self.notify_delay_s())
        self._last_send_s = send_s
        for i, payload in enumerate(parts):
            self._outbox.append((send_s, payload, len(ks) if i == 0 else 0))


class BumbleMovesense(BumbleSensor):
    """A :class:`MovesenseFirmware` on a bumble world, with Movesense's GATT layout and advertisement."""

    firmware: MovesenseFirmware

    def __init__(self, world: BumbleWorld, firmware: MovesenseFirmware, clock: EmulationClock | VirtualClock, *,
                 sensordata_service: bool = True, **kwargs: Any) -> None:
        self.sensordata_service = sensordata_service
        super().__init__(world, firmware, clock, **kwargs)

    @property
    def name(self) -> str:
        return f"Movesense {self.firmware.serial}"

    def _add_services(self) -> None:
        fw = self.firmware
        self.control_char: gatt.Characteristic[bytes] = gatt.Characteristic(
            WRITE_CHAR_UUID, _PROPS.WRITE | _PROPS.WRITE_WITHOUT_RESPONSE, gatt.Characteristic.WRITEABLE,
            gatt.CharacteristicValue(write=self._on_control_write))
        self.data_char = gatt.Characteristic(NOTIFY_CHAR_UUID, _PROPS.NOTIFY, gatt.Characteristic.READABLE, b"")
        self.response_char = self.data_char  # results and data share the notify characteristic
        services: list[gatt.Service] = []
        if self.sensordata_service:
            services.append(gatt.Service(SERVICE_UUID, [self.control_char, self.data_char]))
        services += [
            BatteryService(lambda _c: self.firmware.battery_percent),
            DeviceInformationService(manufacturer_name="Movesense", model_number="Movesense MD",
                                     serial_number=fw.serial, hardware_revision="emulated",
                                     firmware_revision=".".join(str(v) for v in fw.firmware_version)),
        ]
        self.device.add_services(services)

    def advertising_data(self) -> bytes:
        """Flags and the complete local name ``Movesense <serial>`` (no service UUID, no role)."""
        name = self.name.encode()
        return bytes([2, 0x01, 0x06, len(name) + 1, 0x09]) + name

    def scan_response_data(self) -> bytes:
        return b""

    @classmethod
    def emulate(cls, world: BumbleWorld, role: str, motion: MotionTrack, clock: EmulationClock | VirtualClock, *,
                index: int, clock_ppm: float = 0.0, faults: SensorFaults | None = None, battery_percent: int = 87,
                motion_origin: MotionOrigin | None = None, seed: int = 0,
                advertising_interval_ms: float = 20.0) -> BumbleMovesense:
        """One emulated Movesense for ``role`` of an :class:`~.emulator.Emulator` (the brand registry's entry point,
        ``--emulate-kind movesense``)."""
        return emulate_movesense(world, role, motion, clock, motion_origin=motion_origin,
                                 faults=faults or SensorFaults(seed=seed + index), clock_ppm=clock_ppm,
                                 device_clock_offset_us=5_000_000 + index * 7_654_321, battery_percent=battery_percent,
                                 advertising_interval_ms=advertising_interval_ms)

def emulate_movesense(world: BumbleWorld, role: str, motion: MotionTrack, clock: EmulationClock | VirtualClock, *,
                      motion_origin: MotionOrigin | None = None, faults: SensorFaults | None = None,
                      clock_ppm: float = 0.0, device_clock_offset_us: int = 5_000_000, battery_percent: int = 87,
                      serial: str | None = None, sensordata_service: bool = True,
                      advertising_interval_ms: float = 20.0, **firmware: Any) -> BumbleMovesense:
    """One emulated Movesense measuring ``motion`` on ``world`` (not powered on yet), for the role
    ``role`` (which the sensor itself does not know: the host assigns it)."""
    serial = serial or {"sacrum": "224630000101", "thoracic": "224630000102"}.get(role, "224630000100")
    fw = MovesenseFirmware(role, motion, serial=serial,
                           battery_percent=battery_percent, clock_ppm=clock_ppm,
                           device_clock_offset_us=device_clock_offset_us, faults=faults or SensorFaults(),
                           motion_origin=motion_origin, **firmware)
    return BumbleMovesense(world, fw, clock, sensordata_service=sensordata_service,
                           advertising_interval_ms=advertising_interval_ms)


def use_movesense(emu: Emulator, role: str, **kwargs: Any) -> BumbleMovesense:
    """Make ``emu``'s sensor of ``role`` a Movesense (call before ``async with emu``): same world,
    clock and motion (one person) as the others."""
    kwargs.setdefault("motion_origin", emu.motion_origin)
    kwargs.setdefault("battery_percent", emu.sensors[role].firmware.battery_percent)
    sensor = emulate_movesense(emu.world, role, emu.motion[role], emu.clock, **kwargs)
    emu.sensors[role] = sensor
    return sensor


async def movesense_session(motion: Recording, duration_s: float, *, role: str = "thoracic", speed: float | None = None,
                            drain_s: float | None = 20.0, options: Any = None, mtu: int = 247,
                            during: Callable[..., Any] | None = None, **movesense: Any) -> dict[str, Any]:
    """Play ``motion`` with the sensor of ``role`` a Movesense (the other one the project's own) through
    the real bleak client for ``duration_s``; then stop the sensors and read what is left (``drain_s``
    real s at most; ``None``: do not). ``during(emu, src, got, sensor)``, if given, is awaited instead of
    the plain collection (it collects itself). Returns ``got`` (:class:`~.testing.Collected`),
    ``stats``, ``sensor`` (the :class:`BumbleMovesense`) and ``t0_s``."""
    from dataclasses import replace

    from imu_hinge.emulation.link_testing import collect, drain
    from imu_hinge.sources.ble import BleSource
    from imu_hinge.sources.discovery import pick_roles, scan
    from imu_hinge.sources.movesense import MovesenseLink, scan_movesense

    emu = Emulator(motion, mtu=mtu, speed=speed)
    sensor = use_movesense(emu, role, **movesense)
    async with emu:
        others = [r for r in emu.sensors if r != role]
        found = pick_roles(await scan(5.0, backend=emu.backend, until_roles=others), others)
        seen = await scan_movesense(5.0, backend=emu.backend, until=sensor.name)
        found[role] = replace(next(f for f in seen if f.name == sensor.name), role=role)
        async with BleSource(backend=emu.backend, clock=emu.clock, found=found, options=options,
                             link_types={role: MovesenseLink}) as src:
            if during is None:
                got = await collect(src, duration_s)
            else:
                got = await during(emu, src, sensor)
            if drain_s is not None:
                await drain(src, emu, got, drain_s)
            return {"got": got, "stats": src.stats(), "sensor": sensor, "t0_s": src.t0_s}
