"""The emulated sensor firmware: protocol v1 (SPEC.md 1.1) behaviour without any BLE (shared by both emulators).

:class:`SensorFirmware` is what the reference firmware does, on an emulated clock: a device
clock in µs that drifts by ``clock_ppm`` against the host clock, sampling at the rate ``start``
picked, batching samples into notifications per the negotiated MTU (or after 20 ms), answering
commands (start, stop, haptic, time ping, identify, set role). Faults to inject
(:class:`SensorFaults`): dropped samples (index gaps + ``tx_overflow``, counted in
``injected_drops``) and a random delay per notification and per command (order kept, as BLE does).

Times are "true" host-clock seconds from the world's clock (:mod:`.emulated_clock`: real time
scaled by ``speed``, or discrete events): the whole world (device clocks, delays, the host clock
handed to the BLE source) agrees on it, so a 60 s session can run in seconds.
:func:`run_stream` is the asyncio loop that sends what is due through a transport's ``send``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from imu_hinge.emulation.emulated_clock import EmulationClock, VirtualClock
from imu_hinge.emulation.sensor_motion import MotionTrack
from imu_hinge.protocol import (
    CommandResponse,
    DataPacket,
    HapticCommand,
    IdentifyCommand,
    SensorInfo,
    SetRoleCommand,
    StartCommand,
    StopCommand,
    TimePingCommand,
    decode_command,
    encode_notification,
    encode_response,
    error_answer,
    pick_rate_millihz,
    samples_per_notification,
)
from imu_hinge.protocol.info import quantise_values
from imu_hinge.protocol.spec import ACC_MG_PER_LSB, GYR_MDPS_PER_LSB

SUPPORTED_RATES_HZ = (12.5, 26.0, 52.0, 104.0, 208.0, 416.0)
"""The reference sensor's rates (``firmware_protocol/protocol.json``: scale_factors.supported_rates_hz)."""
IDENTIFY_BUZZ_MS = 100
"""identify buzzes once for min(duration_ms, this) at full intensity (SPEC.md §5)."""
BATCH_WAIT_US = 20_000
"""A notification goes out when the oldest waiting sample is this old (spec §3)."""


@dataclass(frozen=True)
class SensorFaults:
    """Faults an emulated sensor injects. Delays are ``(low, high)`` seconds, drawn uniformly."""

    drop_fraction: float = 0.0
    drop_burst: int = 1
    notify_delay_s: tuple[float, float] = (0.0, 0.0)
    command_delay_s: tuple[float, float] | None = None
    """Delay of a command's arrival at the sensor; ``None``: as ``notify_delay_s`` (a symmetric link)."""
    seed: int = 0
    drop_indices: frozenset[int] = frozenset()
    """Stream sample indices to lose on purpose (besides ``drop_fraction``), e.g. from the overflow vectors."""


class MotionOrigin:
    """The true host time (s) at which the motion plays its first row; one per emulated world.

    The sensors worn by one person measure one motion: every sample takes the motion at the true
    time it is taken, counted from this origin. The first sensor to start streaming sets it (the
    lifter does not wait for the second sensor); a sensor that restarts rejoins the motion where
    it is by then.
    """

    def __init__(self, time_s: float | None = None) -> None:
        self.time_s = time_s


def _at_least(value: float, choices: tuple[float, ...] | list[int]) -> float | None:
    return next((float(c) for c in sorted(choices) if c >= value), None)


class LinkDelays:
    """The radio delays an emulated device draws (every brand's firmware): ``faults.notify_delay_s`` and
    ``faults.command_delay_s`` are (low, high) spans in s, drawn with ``_rng``."""

    faults: Any
    _rng: np.random.Generator

    def _delay(self, span: tuple[float, float]) -> float:
        lo, hi = span
        return float(self._rng.uniform(lo, hi)) if hi > lo else lo

    def command_delay_s(self) -> float:
        return self._delay(self.faults.command_delay_s or self.faults.notify_delay_s)

    def notify_delay_s(self) -> float:
        return self._delay(self.faults.notify_delay_s)


class SensorFirmware(LinkDelays):
    """One emulated sensor's firmware state. Times in host-clock seconds (``now_s``).

    Results/logs: ``haptic_log`` [(time_s, HapticCommand)], ``commands`` [(time_s, command)],
    ``injected_drops`` (samples dropped on purpose), ``sent_samples`` (samples handed to the link),
    ``streaming``.
    """

    def __init__(self, role: str, motion: MotionTrack, *, battery_percent: int = 87,
                 firmware_version: tuple[int, int, int] = (1, 0, 0), clock_ppm: float = 0.0,
                 device_clock_offset_us: int = 1_000_000, faults: SensorFaults | None = None,
                 boot_time_s: float = 0.0, motion_origin: MotionOrigin | None = None) -> None:
        self.role = role
        self.motion = motion
        self.battery_percent = battery_percent
        self.firmware_version = firmware_version
        self.clock_ppm = clock_ppm
        self.device_clock_offset_us = device_clock_offset_us
        self.faults = faults or SensorFaults()
        self.boot_time_s = boot_time_s
        self._rng = np.random.default_rng(self.faults.seed)
        self.info = SensorInfo.lsm6ds3(role=role, rate_hz=motion.rate_hz if motion.fixed_rate else 104,
                                       firmware_version=firmware_version)
        self.streaming = False
        self.haptic_log: list[tuple[float, HapticCommand]] = []
        self.commands: list[tuple[float, object]] = []
        self.injected_drops = 0
        self.sent_samples = 0
        self.motion_origin = motion_origin or MotionOrigin()
        self._outbox: deque[tuple[float, bytes, int]] = deque()  # (send time, payload, samples)
        self._last_send_s = -math.inf
        self.batch_wait_us = BATCH_WAIT_US
        self._haptic: tuple[float, HapticCommand] | None = None  # (start time, pattern) running or last
        self._burst_left = 0

    # --- clocks ---------------------------------------------------------------------------
    def device_time_us(self, time_s: float) -> float:
        """The device clock (µs, unwrapped) at host time ``time_s``."""
        return self.device_clock_offset_us + (time_s - self.boot_time_s) * 1e6 * (1.0 + self.clock_ppm * 1e-6)

    def host_time_s(self, device_time_us: float | np.ndarray) -> np.ndarray:
        """The true host time (s) at which the device clock read ``device_time_us``: the truth for clock fits."""
        dev = np.asarray(device_time_us, dtype=np.float64)
        return self.boot_time_s + (dev - self.device_clock_offset_us) * 1e-6 / (1.0 + self.clock_ppm * 1e-6)

    # --- commands -------------------------------------------------------------------------
    def handle_command(self, data: bytes, now_s: float) -> bytes:
        """Apply one command written at (arriving at) ``now_s``; the response bytes to notify (empty: none)."""
        error = error_answer(data)  # empty / 0x80..0xFF writes are answered with opcode 0 (SPEC.md 1.1 §6)
        if error is not None:
            return encode_response(error)
        cmd = decode_command(data)
        opcode = data[0]
        self.commands.append((now_s, cmd))
        if isinstance(cmd, StartCommand):
            return encode_response(CommandResponse(opcode, self._start(cmd, now_s)))
        if isinstance(cmd, StopCommand):
            self.stop(motor=False)  # stop ends the stream, not a running haptic pattern (SPEC.md 1.1 §5)
        elif isinstance(cmd, HapticCommand):
            self.haptic_log.append((now_s, cmd))
            self._haptic = (now_s, cmd) if cmd.intensity else None
        elif isinstance(cmd, IdentifyCommand):  # one full-intensity buzz, a pattern like any other
            buzz_ms = min(cmd.duration_ms, IDENTIFY_BUZZ_MS)
            self._haptic = (now_s, HapticCommand(255, buzz_ms, 0, 1)) if buzz_ms else None
        elif isinstance(cmd, TimePingCommand):
            dev = int(self.device_time_us(now_s)) % (1 << 32)
            return encode_response(CommandResponse(opcode, "ok", cmd.token, dev))
        elif isinstance(cmd, SetRoleCommand):
            self.role = cmd.role
            self.info = SensorInfo(**{**self.info.__dict__, "role": cmd.role})
        return encode_response(CommandResponse(opcode, "ok"))

    def _start(self, cmd: StartCommand, now_s: float) -> str:
        rate_millihz = pick_rate_millihz(cmd.rate_hz, tuple(round(r * 1000) for r in SUPPORTED_RATES_HZ))
        rate = self.motion.rate_hz if self.motion.fixed_rate else (
            None if rate_millihz is None else rate_millihz / 1000)
        acc = _at_least(cmd.acc_range_g, list(ACC_MG_PER_LSB))
        gyr = _at_least(cmd.gyr_range_dps, list(GYR_MDPS_PER_LSB))
        if rate is None or acc is None or gyr is None:
            return "invalid_value"  # a rejected start changes nothing (SPEC.md 1.1 §5)
        self.info = SensorInfo.lsm6ds3(role=self.role, rate_hz=rate, acc_range_g=int(acc), gyr_range_dps=int(gyr),
                                       firmware_version=self.firmware_version)
        self._period_us = 1e9 / self.info.rate_millihz
        self._start_us = self.device_time_us(now_s) + self._period_us  # first sample one period after the command
        origin_s = self.motion_origin.time_s
        if origin_s is None:
            self.motion_origin.time_s = self._sample_time_s(0)
        elif self.motion.fixed_rate:  # a played recording: sample on its rows' times (the next one)
            rows = math.ceil((self._sample_time_s(0) - origin_s) * self.motion.rate_hz - 1e-6)
            self._start_us = self.device_time_us(origin_s + rows / self.motion.rate_hz)
        self._next = 0  # index of the next sample to take
        self._pending: list[int] = []
        self._overflow = False  # samples lost since the last one queued: flags the next notification
        self._pending_overflow = False  # the flag of the notification being filled
        self._outbox.clear()
        self.streaming = True
        return "ok"

    def stop(self, *, motor: bool = True) -> None:
        """Stop sampling, drop queued samples (a ``stop`` command, ``motor=False``, or a disconnect)."""
        self.streaming = False
        self._outbox.clear()
        if motor:
            self._haptic = None

    # --- sampling and batching --------------------------------------------------------------
    def _sample_time_s(self, k: int) -> float:
        dev_us = self._start_us + k * self._period_us
        return self.boot_time_s + (dev_us - self.device_clock_offset_us) * 1e-6 / (1.0 + self.clock_ppm * 1e-6)

    def _sample_times_s(self, k: np.ndarray) -> np.ndarray:
        """The true host times (s) at which stream samples ``k`` are taken (as :meth:`_sample_time_s`)."""
        return self.host_time_s(self._start_us + np.asarray(k, dtype=np.float64) * self._period_us)

    def poll(self, now_s: float, mtu: int) -> None:
        """Take every sample due by ``now_s`` and queue the notifications they fill."""
        if not self.streaming:
            return
        per_packet = self.samples_per_packet(mtu)
        while True:
            t_sample = self._sample_time_s(self._next)
            t_flush = self._sample_time_s(self._pending[0]) + self.batch_wait_us * 1e-6 if self._pending else math.inf
            if min(t_sample, t_flush) > now_s:
                return
            if t_flush <= t_sample:
                self._emit(t_flush)
                continue
            k = self._next
            self._next += 1
            if self._dropped(k):
                self.injected_drops += 1
                self._overflow = True
                if self._pending:  # a notification never has a hole: the batch so far goes out unflagged
                    self._emit(t_sample)
                continue
            if not self._pending:  # tx_overflow goes on the notification whose first sample follows the gap
                self._pending_overflow, self._overflow = self._overflow, False
            self._pending.append(k)
            if len(self._pending) >= per_packet:
                self._emit(t_sample)

    def samples_per_packet(self, mtu: int) -> int:
        """Samples per notification (the reference firmware fills the MTU)."""
        return samples_per_notification(mtu)

    def _dropped(self, k: int) -> bool:
        f = self.faults
        if k in f.drop_indices:
            return True
        if self._burst_left > 0:
            self._burst_left -= 1
            return True
        if f.drop_fraction > 0 and self._rng.random() < f.drop_fraction / max(1, f.drop_burst):
            self._burst_left = f.drop_burst - 1
            return True
        return False

    def _emit(self, ready_s: float) -> None:
        ks = self._pending
        self._pending = []
        haptic = bool(np.any(self.motor_driven(self._sample_times_s(np.asarray(ks)))))
        packet = DataPacket.build(ks[0], int(self._start_us + ks[0] * self._period_us), self.raw_at(np.asarray(ks)),
                                  tx_overflow=self._pending_overflow, haptic_active=haptic)
        self._pending_overflow = False
        send_s = max(self._last_send_s, ready_s + self.notify_delay_s())
        self._last_send_s = send_s
        self._outbox.append((send_s, encode_notification(packet), len(ks)))

    def motor_driven(self, time_s: np.ndarray) -> np.ndarray:
        """Whether the motor is driven (an on phase of the running pattern) at each host time: what
        ``haptic_active`` reports. Off phases and the time after the last on phase do not count."""
        t = np.asarray(time_s, dtype=np.float64)
        if self._haptic is None:
            return np.zeros(t.shape, dtype=bool)
        start_s, cmd = self._haptic
        period_s = (cmd.on_ms + cmd.off_ms) * 1e-3
        since_s = t - start_s
        phase_s = np.mod(since_s, period_s) if period_s > 0 else since_s
        return (since_s >= 0) & (since_s < cmd.repeats * period_s) & (phase_s < cmd.on_ms * 1e-3)

    def pop_due(self, now_s: float) -> list[bytes]:
        """Notifications whose (delayed) send time has come, in order."""
        out = []
        while self._outbox and self._outbox[0][0] <= now_s:
            _, payload, n = self._outbox.popleft()
            out.append(payload)
            self.sent_samples += n
        return out

    def raw_at(self, stream_index: np.ndarray) -> np.ndarray:
        """(n, 6) int16 LSB the current stream sends for these sample indices (0 = first after ``start``).

        Each sample measures the motion at the true host time it is taken (:class:`MotionOrigin`),
        between the track's rows if the sampling grids differ, as a real sensor would."""
        assert self.motion_origin.time_s is not None
        row = (self._sample_times_s(np.asarray(stream_index)) - self.motion_origin.time_s) * self.motion.rate_hz
        return quantise_values(*self.motion.at_rows(row), self.info)

    def next_event_s(self) -> float:
        """When something is next due (a sample, a batch timeout or a delayed notification)."""
        if not self.streaming:
            return math.inf
        t = self._sample_time_s(self._next)
        if self._outbox:
            t = min(t, self._outbox[0][0])
        return t


async def run_stream(fw: SensorFirmware, clock: EmulationClock | VirtualClock, send: Callable[[bytes], Awaitable[None]],
                     mtu: Callable[[], int], *, throttle: Callable[[], Awaitable[None]] | None = None,
                     max_sleep_s: float = 0.05) -> None:
    """Send ``fw``'s notifications as they fall due until it stops streaming (``throttle``, awaited
    after each round, may hold the clock while the link catches up)."""
    while fw.streaming:
        now = clock.now()
        fw.poll(now, mtu())
        for payload in fw.pop_due(now):
            await send(payload)
        if throttle is not None:
            await throttle()
        now = clock.now()
        await clock.sleep_until(min(fw.next_event_s(), now + max_sleep_s * clock.speed))
