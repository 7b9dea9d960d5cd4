"""An emulated Polar Verity Sense on bumble, from Polar's public PMD description (:mod:`.polar_pmd`).

:class:`PolarFirmware` (synchronous) is what the device does on the emulated clock: a PMD feature
read, get-settings / start / stop answers with their error codes (a rate it does not offer or
refuses, a measurement its firmware lacks, an MTU too small, a stream already running), an
accelerometer and a gyroscope sampled on one 52 Hz timer, frames of up to ``frame_samples``
samples (delta-compressed by default: ACC type 0x81, GYRO type 0x80; raw ACC type 0x01 on request)
cut to the negotiated MTU, stamped in ns since 2000-01-01 on a device clock that drifts by
``clock_ppm``, and the faults of :class:`PolarFaults` (frames dropped, corrupted, delays).

:class:`BumblePolar` serves it on a :class:`~.bumble_backend.BumbleWorld`: advertised as
``Polar Sense XXXXXXXX`` (heart rate and Polar 16-bit UUIDs, as the device does: the PMD service is
found after connecting), the PMD service (control point, data), Battery and Device Information.
It behaves like the project's own :class:`~.emulator.BumbleSensor` for the emulator and tests
(``disappear`` / ``reappear`` / ``firmware``). The 52 Hz rate, the factors and the 9-sample frames are
this emulation's choices, taken from the SDK's documented Verity Sense settings; the real device's
frame length may differ.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
from bumble import gatt
from bumble.device import Connection
from bumble.profiles.battery_service import BatteryService
from bumble.profiles.device_information_service import DeviceInformationService

from imu_hinge.emulation.bumble_backend import BumbleWorld
from imu_hinge.emulation.emulated_clock import EmulationClock, VirtualClock
from imu_hinge.emulation.emulated_sensor import LinkDelays, MotionOrigin, SensorFaults
from imu_hinge.emulation.emulator import BumbleSensor
from imu_hinge.emulation.sensor_motion import MotionTrack
from imu_hinge.sources import polar_pmd as pmd

_PROPS = gatt.Characteristic.Properties
GYRO_FACTOR = 2000.0 / 32768.0
"""deg/s per LSB the emulated gyroscope reports in its start answer (±2000 deg/s over int16)."""
ACC_FACTOR = 1.0
"""The accelerometer's factor: its integers are mG."""
MIN_MTU = 70
"""Below this MTU the emulated device answers start with "invalid MTU" (its own threshold)."""
POLAR_EPOCH_OFFSET_NS = 849_000_000 * 10**9
"""Device clock at boot: about 2026-11 in ns since 2000-01-01."""


@dataclass(frozen=True)
class PolarFaults:
    """Faults an emulated Polar injects. ``drop_frames``: (measurement, frame number) pairs never sent;
    ``drop_fraction``: share of frames dropped at random; ``corrupt_frames``: {(measurement, frame number):
    "unknown_type" | "truncated"}; ``refuse_rates``: rates it lists but refuses; ``gyro``: False for a
    firmware without gyroscope streaming; ``pmd``: False for a device without the PMD service."""

    notify_delay_s: tuple[float, float] = (0.0, 0.0)
    command_delay_s: tuple[float, float] | None = None
    seed: int = 0
    drop_frames: frozenset[tuple[int, int]] = frozenset()
    drop_fraction: float = 0.0
    corrupt_frames: tuple[tuple[tuple[int, int], str], ...] = ()
    refuse_rates: frozenset[int] = frozenset()
    gyro: bool = True
    pmd: bool = True

    @classmethod
    def from_sensor_faults(cls, f: SensorFaults) -> PolarFaults:
        return cls(notify_delay_s=f.notify_delay_s, command_delay_s=f.command_delay_s, seed=f.seed)


class _Stream:
    def __init__(self, measurement: int) -> None:
        self.measurement = measurement
        self.on = False
        self.first_slot = 0
        self.next_slot = 0
        self.pending: list[int] = []
        self.frames = 0
        self.sent_slots: list[int] = []
        self.dropped_slots: list[int] = []


class PolarFirmware(LinkDelays):
    """One emulated Verity Sense. Logs: ``commands`` [(time_s, bytes)], ``haptic_log`` (always empty: no motor)."""

    def __init__(self, role: str, motion: MotionTrack, *, battery_percent: int = 87, clock_ppm: float = 0.0,
                 device_clock_offset_ns: int = POLAR_EPOCH_OFFSET_NS, faults: PolarFaults | None = None,
                 boot_time_s: float = 0.0, motion_origin: MotionOrigin | None = None, rates_hz: tuple[int, ...] = (52,),
                 frame_samples: int = 9, acc_frame_type: int = 0x81, firmware_version: str = "2.1.0") -> None:
        self.role = role
        self.motion = motion
        self.battery_percent = battery_percent
        self.clock_ppm = clock_ppm
        self.device_clock_offset_ns = device_clock_offset_ns
        self.faults = faults or PolarFaults()
        self.boot_time_s = boot_time_s
        self.motion_origin = motion_origin or MotionOrigin()
        self.rates_hz = rates_hz
        self.frame_samples = frame_samples
        self.frame_types = {pmd.ACC: acc_frame_type, pmd.GYRO: 0x80}
        self.firmware_version = firmware_version
        self.features = {pmd.ACC, pmd.PPG, pmd.PPI, pmd.MAG} | ({pmd.GYRO} if self.faults.gyro else set())
        self._rng = np.random.default_rng(self.faults.seed)
        self.streams = {m: _Stream(m) for m in (pmd.ACC, pmd.GYRO)}
        self.rate_hz = float(rates_hz[0])
        self._grid0_ns: float | None = None  # device time of slot 0 of the shared sampling timer
        self._outbox: deque[tuple[float, bytes, int]] = deque()
        self._last_send_s = -math.inf
        self.commands: list[tuple[float, bytes]] = []
        self.haptic_log: list[tuple[float, Any]] = []
        self.injected_drops = 0
        self._corrupt = dict(self.faults.corrupt_frames)

    # --- clocks -------------------------------------------------------------------------------
    def device_time_ns(self, time_s: float) -> float:
        return self.device_clock_offset_ns + (time_s - self.boot_time_s) * 1e9 * (1.0 + self.clock_ppm * 1e-6)

    def host_time_s(self, device_time_ns: float | np.ndarray) -> np.ndarray:
        """True host time (s) at which the device clock read ``device_time_ns`` (ns): the truth for clock fits."""
        dev = np.asarray(device_time_ns, dtype=np.float64)
        return self.boot_time_s + (dev - self.device_clock_offset_ns) * 1e-9 / (1.0 + self.clock_ppm * 1e-6)

    @property
    def period_ns(self) -> float:
        return 1e9 / self.rate_hz

    def slot_device_ns(self, slot: int | np.ndarray) -> np.ndarray:
        assert self._grid0_ns is not None
        return self._grid0_ns + np.asarray(slot, dtype=np.float64) * self.period_ns

    def slot_time_s(self, slot: int | np.ndarray) -> np.ndarray:
        return self.host_time_s(self.slot_device_ns(slot))

    @property
    def streaming(self) -> bool:
        return any(s.on for s in self.streams.values())

    @property
    def sent_samples(self) -> int:
        """Rows the host can pair: slots both streams sent."""
        return len(set(self.streams[pmd.ACC].sent_slots) & set(self.streams[pmd.GYRO].sent_slots))

    def missing_slots(self) -> set[int]:
        """Slots lost on purpose (either stream) between the first and last slot both streams sent."""
        acc, gyr = (set(self.streams[m].sent_slots) for m in (pmd.ACC, pmd.GYRO))
        both = acc & gyr
        if not both:
            return set()
        lo, hi = min(both), max(both)
        lost = set(self.streams[pmd.ACC].dropped_slots) | set(self.streams[pmd.GYRO].dropped_slots)
        return {s for s in lost if lo <= s <= hi}

    # --- control point ------------------------------------------------------------------------
    def settings(self, measurement: int) -> dict[int, tuple[int | float, ...]]:
        rng = (8,) if measurement == pmd.ACC else (2000,)
        return {pmd.SAMPLE_RATE: tuple(self.rates_hz), pmd.RESOLUTION: (16,), pmd.RANGE: rng, pmd.CHANNELS: (3,)}

    def handle_command(self, data: bytes, now_s: float, mtu: int = 247) -> bytes:
        """Apply one control point write at ``now_s``; the answer to indicate."""
        self.commands.append((now_s, bytes(data)))
        op = data[0] if data else 0
        if len(data) < 2:
            return pmd.encode_response(pmd.PmdResponse(op, 0, 4))  # invalid length
        m = data[1]
        if op not in (pmd.GET_SETTINGS, pmd.START, pmd.STOP):
            return pmd.encode_response(pmd.PmdResponse(op, m, 1))
        if m not in pmd.MEASUREMENT_NAMES:
            return pmd.encode_response(pmd.PmdResponse(op, m, 2))
        if m not in self.features or m not in self.streams:
            return pmd.encode_response(pmd.PmdResponse(op, m, pmd.ERROR_NOT_SUPPORTED))
        if op == pmd.GET_SETTINGS:
            return pmd.encode_response(pmd.PmdResponse(op, m, 0, False, pmd.encode_settings(self.settings(m))))
        stream = self.streams[m]
        if op == pmd.STOP:
            self._stop_stream(stream)
            return pmd.encode_response(pmd.PmdResponse(op, m, 0))
        try:
            chosen = pmd.decode_settings(data[2:])
        except Exception:
            return pmd.encode_response(pmd.PmdResponse(op, m, 5))
        rate = int(chosen.get(pmd.SAMPLE_RATE, (0,))[0])
        if rate not in self.rates_hz or rate in self.faults.refuse_rates:
            return pmd.encode_response(pmd.PmdResponse(op, m, pmd.ERROR_INVALID_SAMPLE_RATE))
        if int(chosen.get(pmd.RESOLUTION, (16,))[0]) != 16:
            return pmd.encode_response(pmd.PmdResponse(op, m, 7))
        if mtu < MIN_MTU:
            return pmd.encode_response(pmd.PmdResponse(op, m, pmd.ERROR_INVALID_MTU))
        if stream.on:
            return pmd.encode_response(pmd.PmdResponse(op, m, 6))
        if self.streaming and rate != self.rate_hz:
            return pmd.encode_response(pmd.PmdResponse(op, m, pmd.ERROR_INVALID_SAMPLE_RATE))
        self.rate_hz = float(rate)
        self._start_stream(stream, now_s)
        factor = ACC_FACTOR if m == pmd.ACC else GYRO_FACTOR
        return pmd.encode_response(pmd.PmdResponse(op, m, 0, False, pmd.encode_settings({pmd.FACTOR: (factor,)})))

    def _start_stream(self, stream: _Stream, now_s: float) -> None:
        dev_now = self.device_time_ns(now_s)
        if self._grid0_ns is None or not self.streaming:  # the timer starts with the first stream
            self._grid0_ns = dev_now + self.period_ns
            if self.motion_origin.time_s is None:
                self.motion_origin.time_s = float(self.slot_time_s(0))
            elif self.motion.fixed_rate:  # a played recording: sample on its rows' times
                origin = self.motion_origin.time_s
                rows = math.ceil((float(self.slot_time_s(0)) - origin) * self.motion.rate_hz - 1e-6)
                self._grid0_ns = self.device_time_ns(origin + rows / self.motion.rate_hz)
            first = 0
        else:
            first = math.ceil((dev_now - self._grid0_ns) / self.period_ns) + 1
        stream.on = True
        stream.first_slot = stream.next_slot = first
        stream.pending = []

    def _stop_stream(self, stream: _Stream) -> None:
        stream.on = False
        stream.pending = []

    def stop(self, *, motor: bool = True) -> None:
        """Stop both streams (a disconnect)."""
        for s in self.streams.values():
            self._stop_stream(s)
        self._outbox.clear()

    # --- sampling ---------------------------------------------------------------------------
    def values_at(self, measurement: int, slots: np.ndarray) -> np.ndarray:
        """(n, 3) device integers of one stream at these slots: mG, or gyro LSB of :data:`GYRO_FACTOR`."""
        assert self.motion_origin.time_s is not None
        row = (self.slot_time_s(np.asarray(slots)) - self.motion_origin.time_s) * self.motion.rate_hz
        acc, gyr = self.motion.at_rows(row)
        if measurement == pmd.ACC:
            return np.rint(acc / (pmd.G_M_S2 * 1e-3 * ACC_FACTOR)).astype(np.int64)
        return np.rint(np.degrees(gyr) / np.float32(GYRO_FACTOR)).astype(np.int64)

    def poll(self, now_s: float, mtu: int) -> None:
        """Take every sample due by ``now_s``, queue the frames they fill."""
        for stream in self.streams.values():
            while stream.on and float(self.slot_time_s(stream.next_slot)) <= now_s:
                stream.pending.append(stream.next_slot)
                stream.next_slot += 1
                if len(stream.pending) >= self.frame_samples:
                    self._emit(stream, mtu)

    def _emit(self, stream: _Stream, mtu: int) -> None:
        slots = list(stream.pending)
        m = stream.measurement
        values = self.values_at(m, np.asarray(slots))
        frame_type = self.frame_types[m]
        n = len(slots)
        while True:
            payload = pmd.encode_frame(m, int(round(float(self.slot_device_ns(slots[n - 1])))), frame_type,
                                       values[:n])
            if len(payload) <= mtu - 3 or n == 1:
                break
            n -= 1
        stream.pending = slots[n:]
        sent = slots[:n]
        number = stream.frames
        stream.frames += 1
        f = self.faults
        if (m, number) in f.drop_frames or (f.drop_fraction > 0 and self._rng.random() < f.drop_fraction):
            stream.dropped_slots += sent
            self.injected_drops += n
            return
        corrupt = self._corrupt.get((m, number))
        if corrupt == "unknown_type":
            payload = payload[:9] + bytes([0x7E]) + payload[10:]
            stream.dropped_slots += sent
        elif corrupt == "truncated":
            payload = payload[:12]
            stream.dropped_slots += sent
        else:
            stream.sent_slots += sent
        ready_s = float(self.slot_time_s(sent[-1]))
        send_s = max(self._last_send_s, ready_s + self.notify_delay_s())
        self._last_send_s = send_s
        self._outbox.append((send_s, payload, n))

    def pop_due(self, now_s: float) -> list[bytes]:
        out = []
        while self._outbox and self._outbox[0][0] <= now_s:
            out.append(self._outbox.popleft()[1])
        return out

    def next_event_s(self) -> float:
        if not self.streaming:
            return math.inf
        t = min(float(self.slot_time_s(s.next_slot)) for s in self.streams.values() if s.on)
        if self._outbox:
            t = min(t, self._outbox[0][0])
        return t


class BumblePolar(BumbleSensor):
    """An emulated Verity Sense on a bumble world (the own sensor's emulation, with Polar's GATT)."""

    brand = "polar"

    def __init__(self, world: BumbleWorld, firmware: PolarFirmware, clock: EmulationClock | VirtualClock, *,
                 advertising_interval_ms: float = 20.0, max_mtu: int = 247, max_in_flight: int = 4,
                 device_id: str = "0A1B2C3D") -> None:
        import asyncio

        self.world = world
        self.max_in_flight = max_in_flight
        self.firmware = firmware  # type: ignore[assignment]  # the interface BumbleSensor uses
        self.polar_firmware = firmware
        self.clock = clock
        self.advertising_interval_ms = advertising_interval_ms
        self.name = f"Polar Sense {device_id}"
        self.device = world.new_device(self.name)
        self.device.gatt_server.max_mtu = max_mtu
        self.connection: Connection | None = None
        self.present = True
        self.connections = 0
        self._stream_task = None
        self._answering = 0
        self._answered = asyncio.Event()
        self._tasks = set()
        self._hci_tasks = set()
        self.data_char = gatt.Characteristic(pmd.PMD_DATA_UUID, _PROPS.NOTIFY, gatt.Characteristic.READABLE, b"")
        self.control_char = gatt.Characteristic(
            pmd.PMD_CONTROL_UUID, _PROPS.READ | _PROPS.WRITE | _PROPS.NOTIFY | _PROPS.INDICATE,
            gatt.Characteristic.READABLE | gatt.Characteristic.WRITEABLE,
            gatt.CharacteristicValue(read=lambda _c: pmd.encode_features(firmware.features),
                                     write=self._on_control_write))
        services: list[gatt.Service] = []
        if firmware.faults.pmd:
            services.append(gatt.Service(pmd.PMD_SERVICE_UUID, [self.data_char, self.control_char]))
        services += [BatteryService(lambda _c: self.firmware.battery_percent),
                     DeviceInformationService(manufacturer_name="Polar Electro Oy", model_number="Polar Verity Sense",
                                              serial_number=device_id, hardware_revision="emulated",
                                              firmware_revision=firmware.firmware_version)]
        self.device.add_services(services)
        self.device.on(self.device.EVENT_CONNECTION, self._on_connection)

    @property
    def address(self) -> str:
        return str(self.device.public_address).split("/")[0]

    def advertising_data(self) -> bytes:
        """Flags, 16-bit UUIDs heart rate (0x180D) and Polar (0xFEEE), the complete local name."""
        name = self.name.encode()
        return bytes([2, 0x01, 0x06, 5, 0x03, 0x0D, 0x18, 0xEE, 0xFE, len(name) + 1, 0x09]) + name

    def scan_response_data(self) -> bytes:
        return b""

    async def _command(self, connection: Connection, value: bytes, delay_s: float) -> None:
        from imu_hinge.emulation.emulated_sensor import run_stream

        await self.clock.sleep(delay_s)
        if self.connection is not connection:
            return
        hold = value[:1] == bytes([pmd.START])
        self._answering += hold
        try:
            fw = self.polar_firmware
            response = fw.handle_command(value, self.clock.now(), connection.att_mtu)
            if fw.streaming and (self._stream_task is None or self._stream_task.done()):
                self._stream_task = self._spawn(run_stream(self.firmware, self.clock, self._send_data,
                                                           lambda: connection.att_mtu, throttle=self._throttle))
            await self.clock.sleep(self.firmware.notify_delay_s())
            if self.connection is connection:
                self.world.sent += 1
                await self.device.notify_subscriber(connection, self.control_char, response)
        finally:
            self._answering -= hold
            self._answered.set()

    @classmethod
    def emulate(cls, world: BumbleWorld, role: str, motion: MotionTrack, clock: EmulationClock | VirtualClock, *,
                index: int, clock_ppm: float = 0.0, faults: Any = None, battery_percent: int = 87,
                motion_origin: MotionOrigin | None = None, seed: int = 0,
                advertising_interval_ms: float = 20.0) -> BumblePolar:
        """One emulated Verity Sense for ``role`` of an :class:`~.emulator.Emulator`."""
        if isinstance(faults, SensorFaults):
            faults = PolarFaults.from_sensor_faults(faults)
        fw = PolarFirmware(role, motion, battery_percent=battery_percent, clock_ppm=clock_ppm,
                           device_clock_offset_ns=POLAR_EPOCH_OFFSET_NS + index * 7_654_321_000,
                           faults=faults or PolarFaults(seed=seed + index), motion_origin=motion_origin)
        return cls(world, fw, clock, advertising_interval_ms=advertising_interval_ms,
                   device_id=f"{0x0A1B2C3D + index:08X}")
