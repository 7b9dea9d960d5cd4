"""One emulated sensor for the conformance kit (``--emulate``), optionally with a planted fault.

The sensor is the project's emulated firmware (:class:`~imu_hinge.emulation.emulated_sensor.SensorFirmware`)
on a bumble GATT server (:class:`~imu_hinge.emulation.emulator.BumbleSensor`), reached through the
real bleak path. Its transmit queue loses ~1 % of samples in pairs, as a busy radio would, so the
``tx_overflow`` clause is exercised. The world runs on discrete events (:class:`VirtualClock`): the
whole kit takes seconds, and nothing depends on wall-clock timing.

:data:`FAULTS` maps a fault name to the clause it must (alone) fail: each is a way a firmware author
could misread SPEC.md, several of them what 1.0 implementations actually did.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator

import numpy as np

from imu_hinge.emulation.bumble_backend import BumbleWorld
from imu_hinge.emulation.emulated_clock import VirtualClock
from imu_hinge.emulation.emulated_sensor import SensorFaults, SensorFirmware
from imu_hinge.emulation.emulator import BumbleSensor
from imu_hinge.emulation.sensor_motion import load_motion
from imu_hinge.protocol import (
    CommandResponse,
    IdentifyCommand,
    StartCommand,
    TimePingCommand,
    decode_command,
    decode_notification,
    encode_command,
    encode_notification,
    encode_response,
    pick_rate_millihz,
)
from imu_hinge.sources.backend import LinkBackend

FAULTS: dict[str, tuple[str, str]] = {
    "adv_battery_150": ("adv.payload", "advertises battery 150 %"),
    "adv_no_name": ("adv.name", "sends no scan-response name (what the 1.0 emulator did)"),
    "echo_high_opcode": ("cmd.no_opcode", "answers 81 01 to 81 00 (1.0 behaviour)"),
    "bad_length_as_invalid": ("cmd.errors", "answers a short command invalid_value instead of bad_length"),
    "rate_13_to_26": ("start.rates", "start(13) streams at 26 Hz (1.0 emulator rounding)"),
    "accepts_500": ("start.rates", "start(500) streams at 833 Hz"),
    "index_continues": ("start.restart", "start does not restart the index at 0"),
    "rejected_start_restarts": ("start.rejected", "a rejected start restarts the running stream"),
    "reserved_flag": ("data.packing", "sets the reserved flag bit"),
    "flush_late": ("data.flush", "flushes partial batches after 40 ms instead of 20 ms"),
    "overflow_flag_late": ("data.overflow", "puts tx_overflow on the notification after the one after the gap"),
    "data_after_stop": ("stop", "keeps streaming 100 ms after answering stop"),
    "clock_reset_on_start": ("clock.continuity", "restarts the device clock at every start"),
    "ping_stale_clock": ("time_ping", "answers pings with the clock of 50 ms earlier"),
    "haptic_flag_off_phase": ("haptic.states", "keeps haptic_active through the off phases"),
    "identify_no_buzz": ("identify", "identify does not buzz (no haptic_active)"),
}


class FaultyFirmware(SensorFirmware):
    """The emulated firmware with one planted fault (``fault``: a key of :data:`FAULTS`, or None)."""

    def __init__(self, *args: object, fault: str | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fault = fault
        self._index_base = 0
        self._late_flag = False
        self._stop_at_s: float | None = None
        self._stopped_s: float | None = None
        if fault == "flush_late":
            self.batch_wait_us = 40_000

    def handle_command(self, data: bytes, now_s: float) -> bytes:
        f = self.fault
        if f == "echo_high_opcode" and data and data[0] & 0x80:
            return encode_response(CommandResponse(data[0] & 0x7F, "unknown_opcode"))
        if f == "bad_length_as_invalid" and len(data) == 5 and data[0] == 1:
            return encode_response(CommandResponse(1, "invalid_value"))
        try:
            cmd = decode_command(data)
        except Exception:
            return super().handle_command(data, now_s)
        if isinstance(cmd, StartCommand):
            return self._faulty_start(cmd, data, now_s)
        if f == "data_after_stop" and data == b"\x02" and self.streaming:
            self._stop_at_s = now_s + 0.1
            return encode_response(CommandResponse(2, "ok"))
        if f == "ping_stale_clock" and isinstance(cmd, TimePingCommand):
            return super().handle_command(data, now_s - 0.05)
        if f == "identify_no_buzz" and isinstance(cmd, IdentifyCommand):
            return encode_response(CommandResponse(5, "ok"))
        return super().handle_command(data, now_s)

    def _faulty_start(self, cmd: StartCommand, data: bytes, now_s: float) -> bytes:
        f = self.fault
        self._stop_at_s = self._stopped_s = None
        if f == "rate_13_to_26" and cmd.rate_hz == 13:
            data = bytes([1]) + (26).to_bytes(2, "little") + data[3:]
        if f == "accepts_500" and 416 < cmd.rate_hz <= 833:
            answer = super().handle_command(bytes([1]) + (416).to_bytes(2, "little") + data[3:], now_s)
            self.info = dataclasses.replace(self.info, rate_millihz=833_000)
            self._period_us = 1e9 / 833_000
            return answer
        if f == "clock_reset_on_start" and pick_rate_millihz(cmd.rate_hz) is not None:  # device clock reads 0 now
            self.device_clock_offset_us, self.boot_time_s = 0, now_s
        was_streaming, old_next = self.streaming, getattr(self, "_next", 0)
        answer = super().handle_command(data, now_s)
        if f == "index_continues" and answer[1] == 0:  # the new stream's index carries on from the last
            self._index_base += old_next
        if f == "rejected_start_restarts" and answer[1] != 0 and was_streaming:
            super().handle_command(encode_command(StartCommand(104, 8, 1000)), now_s)
        return answer

    def poll(self, now_s: float, mtu: int) -> None:
        if self._stop_at_s is not None and now_s >= self._stop_at_s:
            self._stop_at_s = None
            self.stop()
            self._stopped_s = now_s
            return
        super().poll(now_s, mtu)

    def next_event_s(self) -> float:
        if not self.streaming and self._stopped_s is not None:  # stopped inside the stream loop: let it end now
            return self._stopped_s
        t = super().next_event_s()
        return t if self._stop_at_s is None else min(t, self._stop_at_s)

    def motor_driven(self, time_s: np.ndarray) -> np.ndarray:
        if self.fault == "haptic_flag_off_phase" and self._haptic is not None:
            start_s, cmd = self._haptic
            t = np.asarray(time_s, dtype=np.float64) - start_s
            return (t >= 0) & (t < cmd.repeats * (cmd.on_ms + cmd.off_ms) * 1e-3)
        return super().motor_driven(time_s)

    def pop_due(self, now_s: float) -> list[bytes]:
        out = super().pop_due(now_s)
        if self.fault not in ("index_continues", "reserved_flag", "overflow_flag_late"):
            return out
        fixed = []
        for payload in out:
            p = decode_notification(payload)
            if self.fault == "index_continues":
                p = dataclasses.replace(p, first_index=(p.first_index + self._index_base) % 65536)
            elif self.fault == "reserved_flag":
                p = dataclasses.replace(p, flags=p.flags | 0x8)
            else:  # the flag one notification late
                late, self._late_flag = self._late_flag, p.tx_overflow
                p = dataclasses.replace(p, flags=(p.flags & ~0x1) | (0x1 if late else 0))
            fixed.append(encode_notification(p))
        return fixed


class FaultySensor(BumbleSensor):
    """The bumble sensor with the advertising faults."""

    fault: str | None = None

    def advertising_data(self) -> bytes:
        data = super().advertising_data()
        if self.fault == "adv_battery_150":
            data = data[:-2] + bytes([150]) + data[-1:]
        return data

    def scan_response_data(self) -> bytes:
        return b"" if self.fault == "adv_no_name" else super().scan_response_data()


@dataclasses.dataclass
class EmulatedTarget:
    backend: LinkBackend
    clock: VirtualClock
    sensor: FaultySensor


@contextlib.asynccontextmanager
async def emulated_sensor(fault: str | None = None, *, mtu: int = 247, seed: int = 1) -> AsyncIterator[EmulatedTarget]:
    """One emulated sacrum sensor (with ``fault`` planted) on its own bumble world."""
    if fault is not None and fault not in FAULTS:
        raise ValueError(f"unknown fault {fault!r}; one of {', '.join(FAULTS)}")
    world = BumbleWorld(mtu=mtu)
    clock = VirtualClock(lambda: world.wait_drained(0.2))
    motion = load_motion(None, seed=seed, duration_s=60.0)["sacrum"]
    fw = FaultyFirmware("sacrum", motion, fault=fault, faults=SensorFaults(drop_fraction=0.01, drop_burst=2,
                                                                            seed=seed))
    sensor = FaultySensor(world, fw, clock)
    sensor.fault = fault
    clock.now()
    await clock.start()
    await world.power_on()
    await sensor.power_on()
    try:
        yield EmulatedTarget(world.backend(), clock, sensor)
    finally:
        await sensor.close()
        await clock.close()


__all__ = ["FAULTS", "EmulatedTarget", "FaultyFirmware", "emulated_sensor"]
