"""The emulated sensor firmware: protocol v1 behaviour without any BLE (shared by both emulators).

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

import numpy as np

from ..protocol import (
    CommandResponse,
    DataPacket,
    HapticCommand,
    ProtocolDecodeError,
    SensorInfo,
    SetRoleCommand,
    StartCommand,
    StopCommand,
    TimePingCommand,
    decode_command,
    encode_notification,
    encode_response,
    samples_per_notification,
)
from ..protocol.spec import ACC_MG_PER_LSB, GYR_MDPS_PER_LSB
from .emulated_clock import EmulationClock, VirtualClock
from .motion import MotionTrack, quantise_values

SUPPORTED_RATES_HZ = (12.5, 26.0, 52.0, 104.0, 208.0, 416.0, 833.0, 1666.0)
"""The LSM6DS3TR-C output data rates (``firmware_protocol/protocol.json``: scale_factors.supported_rates_hz)."""
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


class SensorFirmware:
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
        self._haptic_until_s = -math.inf
        self._burst_left = 0

    # --- clocks ---------------------------------------------------------------------------
    def device_time_us(self, time_s: float) -> float:
        """The device clock (µs, unwrapped) at host time ``time_s``."""
        return self.device_clock_offset_us + (time_s - self.boot_time_s) * 1e6 * (1.0 + self.clock_ppm * 1e-6)

    def host_time_s(self, device_time_us: float | np.ndarray) -> np.ndarray:
        """The true host time (s) at which the device clock read ``device_time_us``: the truth for clock fits."""
        dev = np.asarray(device_time_us, dtype=np.float64)
        return self.boot_time_s + (dev - self.device_clock_offset_us) * 1e-6 / (1.0 + self.clock_ppm * 1e-6)

    def _delay(self, span: tuple[float, float]) -> float:
        lo, hi = span
        return float(self._rng.uniform(lo, hi)) if hi > lo else lo

    def command_delay_s(self) -> float:
        return self._delay(self.faults.command_delay_s or self.faults.notify_delay_s)

    def notify_delay_s(self) -> float:
        return self._delay(self.faults.notify_delay_s)

    # --- commands -------------------------------------------------------------------------
    def handle_command(self, data: bytes, now_s: float) -> bytes:
        """Apply one command written at (arriving at) ``now_s``; the response bytes to notify."""
        opcode = data[0] & 0x7F if data else 0
        try:
            cmd = decode_command(data)
        except ProtocolDecodeError as exc:
            status = {"unknown_opcode": "unknown_opcode", "truncated": "bad_length",
                      "length_mismatch": "bad_length"}.get(exc.kind, "invalid_value")
            return encode_response(CommandResponse(opcode, status))
        self.commands.append((now_s, cmd))
        if isinstance(cmd, StartCommand):
            return encode_response(CommandResponse(opcode, self._start(cmd, now_s)))
        if isinstance(cmd, StopCommand):
            self.stop()
        elif isinstance(cmd, HapticCommand):
            self.haptic_log.append((now_s, cmd))
            on_s = cmd.repeats * (cmd.on_ms + cmd.off_ms) * 1e-3 if cmd.intensity else 0.0
            self._haptic_until_s = now_s + on_s
        elif isinstance(cmd, TimePingCommand):
            dev = int(self.device_time_us(now_s)) % (1 << 32)
            return encode_response(CommandResponse(opcode, "ok", cmd.token, dev))
        elif isinstance(cmd, SetRoleCommand):
            self.role = cmd.role
            self.info = SensorInfo(**{**self.info.__dict__, "role": cmd.role})
        return encode_response(CommandResponse(opcode, "ok"))

    def _start(self, cmd: StartCommand, now_s: float) -> str:
        rate = self.motion.rate_hz if self.motion.fixed_rate else _at_least(cmd.rate_hz, SUPPORTED_RATES_HZ)
        acc = _at_least(cmd.acc_range_g, list(ACC_MG_PER_LSB))
        gyr = _at_least(cmd.gyr_range_dps, list(GYR_MDPS_PER_LSB))
        if rate is None or acc is None or gyr is None:
            return "invalid_value"
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
        self._overflow = False
        self._outbox.clear()
        self.streaming = True
        return "ok"

    def stop(self) -> None:
        """Stop sampling, drop queued samples (a ``stop`` command or a disconnect)."""
        self.streaming = False
        self._outbox.clear()
        self._haptic_until_s = -math.inf

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
        per_packet = samples_per_notification(mtu)
        while True:
            t_sample = self._sample_time_s(self._next)
            t_flush = self._sample_time_s(self._pending[0]) + BATCH_WAIT_US * 1e-6 if self._pending else math.inf
            if min(t_sample, t_flush) > now_s:
                return
            if t_flush <= t_sample:
                self._emit(t_flush)
                continue
            k = self._next
            self._next += 1
            if self._dropped():
                self.injected_drops += 1
                self._overflow = True
                if self._pending:
                    self._emit(t_sample)
                continue
            self._pending.append(k)
            if len(self._pending) >= per_packet:
                self._emit(t_sample)

    def _dropped(self) -> bool:
        f = self.faults
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
        t_first = self._sample_time_s(ks[0])
        haptic = t_first <= self._haptic_until_s
        packet = DataPacket.build(ks[0], int(self._start_us + ks[0] * self._period_us), self.raw_at(np.asarray(ks)),
                                  tx_overflow=self._overflow, haptic_active=haptic)
        self._overflow = False
        send_s = max(self._last_send_s, ready_s + self.notify_delay_s())
        self._last_send_s = send_s
        self._outbox.append((send_s, encode_notification(packet), len(ks)))

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
