"""Bytes of one sensor's data notifications -> :class:`SampleBatch` es (synchronous, no BLE).

One :class:`PacketDecoder` per sensor: decode (protocol codec), unwrap the 16-bit sample index
and the 32-bit device clock, detect gaps (kept as gaps, reported as ``gap`` events), keep a
session sample index that continues across reconnects, fit the device clock to the host clock
(:class:`~imu_hinge.sources.clock_fit.ClockFit`) and convert raw LSB to SI with the info
characteristic's scale factors.

A ``start`` command restarts the sensor's index at 0 (after every reconnect): call
:meth:`PacketDecoder.restart`. The first packet after it is placed by the device clock, which
keeps running across a disconnect (by the host clock if the sensor rebooted), so the samples
lost while the link was down show as one gap of the right length.

``tx_overflow`` (SPEC.md 1.1 §3) rides on the notification whose first sample follows the gap the
sensor itself caused: a gap is labelled "sensor transmit buffer" by the flag of the packet after
it. A flag without a gap (a sensor before SPEC 1.1 put it on the packet *before* the gap) is
counted in ``misplaced_overflow_flags`` and reported once as a ``note``.
"""

from __future__ import annotations

import math

import numpy as np

from imu_hinge.errors import DecodeError
from imu_hinge.protocol import DataPacket, SensorInfo, decode_notification, raw_to_si
from imu_hinge.protocol.unwrap import DeviceClockUnwrapper, SampleIndexUnwrapper
from imu_hinge.sources.clock_fit import ClockFit
from imu_hinge.sources.link_events import LinkEvent, SampleBatch

_REBOOT_TOLERANCE_S = 2.0
"""A device clock step this far from the host clock's step across a restart means the clock restarted."""


class PacketDecoder:
    """Decoder state of one sensor. ``feed(data, arrival_s)`` -> ``(batch or None, events)``.

    ``t0_s`` is the host-clock instant that becomes ``time_s = 0``. Counters: ``packets``,
    ``samples``, ``missing`` (samples lost in gaps), ``duplicates`` (packets dropped as
    repeated or late), ``decode_errors``, ``gaps`` (number of gaps).
    """

    fit_at_last_sample = False
    """Fit the clock to each notification's last sample (sent as soon as it is taken) rather than its
    first: for sensors without time pings, whose fit is the arrivals' lower envelope alone."""

    def __init__(self, sensor: str, info: SensorInfo, *, t0_s: float = 0.0, clock_fit: ClockFit | None = None) -> None:
        self.sensor = sensor
        self.info = info
        self.t0_s = t0_s
        self.clock_fit = clock_fit or ClockFit()
        self._index = SampleIndexUnwrapper()
        self._clock = DeviceClockUnwrapper()
        self._segment_offset = 0  # session seq of unwrapped index 0 in the current segment
        self._segment_start: tuple[int, int] | None = None  # (seq, device_us) of the segment's first packet
        self._last: tuple[int, int, float] | None = None  # (seq, device_us, arrival_s) of the latest sample
        self._restarted = False
        self._last_time_s = -np.inf
        self.packets = self.samples = self.missing = self.duplicates = self.decode_errors = self.gaps = 0
        self.misplaced_overflow_flags = 0

    def set_info(self, info: SensorInfo) -> None:
        """New scale factors / rate (read after every ``start``)."""
        self.info = info

    def add_ping(self, device_time_us: int, send_s: float, recv_s: float) -> None:
        """A time-ping answer (wrapped device clock, µs) for the clock fit."""
        self.clock_fit.add_ping(self._clock.update(device_time_us), send_s, recv_s)

    def restart(self) -> None:
        """The sensor was (re)started: its sample index begins again at 0."""
        self._index.reset()
        self._restarted = self._last is not None

    @property
    def period_us(self) -> float:
        """Sample period estimated from index and device clock over the current segment (nominal until 1 s)."""
        nominal = 1e9 / self.info.rate_millihz
        if self._segment_start is None or self._last is None:
            return nominal
        seq0, dev0 = self._segment_start
        seq1, dev1, _ = self._last
        if seq1 - seq0 < 2 or dev1 - dev0 < 1_000_000:
            return nominal
        est = (dev1 - dev0) / (seq1 - seq0)
        return est if abs(est / nominal - 1.0) < 0.2 else nominal

    def feed(self, data: bytes | bytearray, arrival_s: float) -> tuple[SampleBatch | None, list[LinkEvent]]:
        """Decode one notification that arrived at host time ``arrival_s``."""
        try:
            packet = decode_notification(data)
        except DecodeError as exc:
            self.decode_errors += 1
            return None, [LinkEvent("error", self.sensor, arrival_s - self.t0_s, f"{self.sensor}: {exc}",
                                    {"kind": getattr(exc, "kind", type(exc).__name__)})]
        return self.feed_packet(packet, arrival_s)

    def feed_packet(self, packet: DataPacket, arrival_s: float) -> tuple[SampleBatch | None, list[LinkEvent]]:
        """As :meth:`feed`, for an already decoded packet."""
        events: list[LinkEvent] = []
        dev_us = self._clock.update(packet.device_time_us)
        if self._restarted:
            self._place_segment(packet.first_index, dev_us, arrival_s, events)
        step = self._index.update(packet.first_index, packet.count)
        if step.kind in ("duplicate", "out_of_order"):
            self.duplicates += 1
            return None, events
        seq0 = self._segment_offset + step.unwrapped_index
        if self._segment_start is None:
            self._segment_start = (seq0, dev_us)
        if self._last is not None and seq0 > self._last[0] + 1:
            self._gap(seq0 - self._last[0] - 1, self._last[0] + 1, arrival_s, events, packet.tx_overflow)
        elif self._last is not None and packet.tx_overflow:
            self.misplaced_overflow_flags += 1
            if self.misplaced_overflow_flags == 1:
                events.append(LinkEvent(
                    "note", self.sensor, arrival_s - self.t0_s,
                    f"{self.sensor}: tx_overflow without an index gap (sensor firmware before protocol SPEC 1.1?): "
                    "gaps from its transmit buffer may be labelled 'link'", {"first_index": packet.first_index}))
        n = packet.count
        period = self.period_us
        self.clock_fit.add_arrival(dev_us + (round((n - 1) * period) if self.fit_at_last_sample else 0), arrival_s)
        dev = dev_us + np.rint(np.arange(n) * period).astype(np.int64)
        seq = seq0 + np.arange(n, dtype=np.int64)
        time_s = self._monotonic(self.clock_fit.host_time_s(dev) - self.t0_s, 0.5 * period * 1e-6)
        acc, gyr = raw_to_si(packet.raw, self.info)
        self._last = (int(seq[-1]), int(dev[-1]), arrival_s)
        self.packets += 1
        self.samples += n
        batch = SampleBatch(self.sensor, seq, dev, time_s, arrival_s - self.t0_s, packet.flags, packet.raw, acc, gyr)
        return batch, events

    def _monotonic(self, time_s: np.ndarray, min_step_s: float) -> np.ndarray:
        """Keep each sensor's times strictly increasing while the early fit still moves (by >= ``min_step_s``)."""
        lower = self._last_time_s + min_step_s * np.arange(1, len(time_s) + 1)
        out = np.maximum(time_s, lower)
        self._last_time_s = float(out[-1])
        return out

    def _place_segment(self, first_index: int, dev_us: int, arrival_s: float, events: list[LinkEvent]) -> None:
        """First packet after a restart: continue the session index across the pause."""
        assert self._last is not None
        self._restarted = False
        last_seq, last_dev, last_arrival = self._last
        host_step_s = arrival_s - last_arrival
        dev_step_s = (dev_us - last_dev) * 1e-6
        period_s = self.period_us * 1e-6
        if dev_step_s <= 0 or abs(dev_step_s - host_step_s) > _REBOOT_TOLERANCE_S + 0.01 * host_step_s:
            events.append(LinkEvent("note", self.sensor, arrival_s - self.t0_s,
                                    f"{self.sensor}: device clock restarted; timing refitted from the host clock",
                                    {"device_step_s": dev_step_s, "host_step_s": host_step_s}))
            self.clock_fit.reset()
            self._clock.reset()
            self._clock.update(dev_us)
            steps = max(1, round(host_step_s / period_s))
        else:
            steps = max(1, round(dev_step_s / period_s))
        self._segment_offset = last_seq + steps - first_index  # session seq of the restarted index 0
        self._segment_start = None

    def _gap(self, missing: int, first_seq: int, arrival_s: float, events: list[LinkEvent], overflow: bool) -> None:
        self.missing += missing
        self.gaps += 1
        period_s = self.period_us * 1e-6
        where = "sensor transmit buffer" if overflow else "link"
        events.append(LinkEvent(
            "gap", self.sensor, arrival_s - self.t0_s,
            f"{self.sensor}: {missing} sample(s) missing ({missing * period_s:.3f} s) from seq {first_seq} ({where})",
            {"missing": missing, "first_seq": first_seq, "duration_s": missing * period_s, "tx_overflow": overflow}))

    def stats(self) -> dict[str, float | int]:
        """Counters and the clock fit, JSON-ready."""
        return {"packets": self.packets, "samples": self.samples, "missing": self.missing, "gaps": self.gaps,
                "duplicates": self.duplicates, "decode_errors": self.decode_errors,
                "clock_slope_ppm": (self.clock_fit.slope_ - 1.0) * 1e6 if self.clock_fit.ready else math.nan,
                "period_us": self.period_us}
