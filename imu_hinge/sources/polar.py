"""A Polar Verity Sense as a sensor of the BLE source: PMD accelerometer + gyroscope, paired into samples.

:class:`PolarLink` has the interface of the project's own :class:`~.sensor_link.SensorLink` (the
:class:`~.ble.BleSource` builds one per role from the brand registry, :mod:`.brands`): connect on a
fresh client, refuse a device that is not an IMU (no PMD service, no accelerometer) or whose
firmware cannot stream the gyroscope, read battery / model / firmware, ask each stream's settings,
start both at the rate the device offers nearest the one asked for (52 Hz on a Verity Sense), and
come back after a drop (the supervisor of :class:`~.ble.BleSource` reconnects it like any sensor).
Every refusal is one :class:`~imu_hinge.errors.SensorLinkError` line naming the device.

:class:`PolarDecoder` (synchronous) turns the two streams' frames into :class:`~.events.SampleBatch`
es: PMD has no sample counter, so each sample's slot is derived from the frames' own timestamps
(ns of the last sample, :mod:`.polar_pmd`) and the sample period estimated from them; a slot one
stream lacks is a missing sample, counted exactly and reported as a ``gap`` like the own sensor's.
Accelerometer and gyroscope samples of one slot form one row. Device time (the last sample of each
frame, which the device stamps) goes to the existing :class:`~.clock_fit.ClockFit`; PMD has no
time ping, so the fit is the posterior mean of the arrivals' lower envelope (``no_ping_fit="posterior"``).
"""

from __future__ import annotations

import asyncio
import math
import re
from collections import defaultdict, deque
from typing import Any

import numpy as np
from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.exc import BleakError

from imu_hinge.errors import DecodeError, SensorLinkError
from imu_hinge.protocol import Command, CommandResponse, HapticCommand, SensorInfo
from imu_hinge.protocol.spec import MODEL_NUMBER_CHAR_UUID
from imu_hinge.sources import polar_pmd as pmd
from imu_hinge.sources.backend import HostClock, LinkBackend
from imu_hinge.sources.clock_fit import ClockFit
from imu_hinge.sources.discovery import FoundSensor
from imu_hinge.sources.link_events import LinkEvent, LinkItem, SampleBatch
from imu_hinge.sources.sensor_link import LinkOptions, Retry, SensorLink

POLAR_RATES_HZ = (52,)
_REBOOT_TOLERANCE_S = 2.0
_MAX_LAG_S = 2.0
"""One stream this far (device time) ahead of the other: the other's slots behind that are missing."""
_INT16 = (-32768, 32767)


def polar_info(role: str, rate_hz: float, acc_scale: float, gyr_scale: float, acc_range_g: int = 8,
               gyr_range_dps: int = 2000, version: tuple[int, int, int] = (0, 0, 0)) -> SensorInfo:
    """The :class:`SensorInfo` a Polar stream amounts to (scale factors of its device integers)."""
    return SensorInfo(round(rate_hz * 1000), acc_scale, gyr_scale, acc_range_g, gyr_range_dps, role, version)


def firmware_version(text: str | None) -> tuple[int, int, int]:
    """``"2.1.0"`` (Device Information's firmware revision) -> (2, 1, 0); (0, 0, 0) when unreadable."""
    parts = [int(p) for p in re.findall(r"\d+", text or "")[:3]]
    return (parts + [0, 0, 0])[0], (parts + [0, 0, 0])[1], (parts + [0, 0, 0])[2]


class PolarDecoder:
    """Frames of one Polar's ACC and GYRO streams -> rows. ``feed(data, arrival_s)`` -> ``(batch | None, events)``.

    Counters as :class:`~.decoder.PacketDecoder`: ``packets``, ``samples``, ``missing``, ``gaps``,
    ``duplicates``, ``decode_errors``. ``device`` names the sensor in messages.
    """

    def __init__(self, sensor: str, info: SensorInfo, *, t0_s: float = 0.0, clock_fit: ClockFit | None = None,
                 device: str = "Polar sensor") -> None:
        self.sensor = sensor
        self.info = info
        self.t0_s = t0_s
        self.device = device
        self.clock_fit = clock_fit or ClockFit(no_ping_fit="posterior")
        self.factors: dict[int, float] = {pmd.ACC: 1.0, pmd.GYRO: 1.0}
        self._last: dict[int, tuple[int, int]] = {}  # stream -> (slot, ts_ns) of its latest sample this segment
        self._seg0: dict[int, tuple[int, int]] = {}  # stream -> (slot, ts_ns) of its first sample this segment
        self._pending: dict[int, dict[int, tuple[int, np.ndarray, float]]] = {pmd.ACC: {}, pmd.GYRO: {}}
        self._ref: tuple[int, int, float] | None = None  # (slot, ts_ns, arrival_s) placing a segment's first frame
        self._emitted: int | None = None  # last slot emitted or counted missing
        self._origin: int | None = None  # slot of session seq 0
        self._period_ns = 1e9 / info.rate_hz
        self._restarted = False
        self._last_time_s = -math.inf
        self._last_arrival_s = 0.0
        self.packets = self.samples = self.missing = self.duplicates = self.decode_errors = self.gaps = 0

    # --- the SensorLink decoder interface --------------------------------------------------
    def set_info(self, info: SensorInfo) -> None:
        self.info = info
        if not self._last:
            self._period_ns = 1e9 / info.rate_hz

    def restart(self) -> None:
        """Both streams were (re)started: a new segment, placed by the device clock."""
        self._last.clear()
        self._seg0.clear()
        for p in self._pending.values():
            p.clear()
        self._restarted = self._emitted is not None

    def add_ping(self, device_time_us: int, send_s: float, recv_s: float) -> None:
        """PMD has no time ping (kept for the interface)."""

    @property
    def period_us(self) -> float:
        return self._period_ns / 1000.0

    def stats(self) -> dict[str, float | int]:
        return {"packets": self.packets, "samples": self.samples, "missing": self.missing, "gaps": self.gaps,
                "duplicates": self.duplicates, "decode_errors": self.decode_errors,
                "clock_slope_ppm": (self.clock_fit.slope_ - 1.0) * 1e6 if self.clock_fit.ready else math.nan,
                "period_us": self.period_us}

    # --- decoding -------------------------------------------------------------------------
    def _event(self, event_kind: str, arrival_s: float, message: str, **detail: Any) -> LinkEvent:
        return LinkEvent(event_kind, self.sensor, arrival_s - self.t0_s, f"{self.sensor}: {message}", detail)

    def feed(self, data: bytes | bytearray, arrival_s: float) -> tuple[SampleBatch | None, list[LinkEvent]]:
        try:
            frame = pmd.decode_frame(data)
        except DecodeError as exc:
            self.decode_errors += 1
            kind = getattr(exc, "kind", type(exc).__name__)
            events = []
            if self.decode_errors <= 3 or self.decode_errors % 100 == 0:
                events.append(self._event("error", arrival_s, f"{self.device}: {exc} (frame {self.decode_errors} "
                                          "unreadable; its samples count as missing, the set goes on; if this "
                                          "repeats, update the sensor's firmware in Polar Flow)", kind=kind))
            return None, events
        if frame.measurement not in self._pending or len(frame) == 0:
            return None, []
        return self.feed_frame(frame, arrival_s)

    def feed_frame(self, frame: pmd.PmdFrame, arrival_s: float) -> tuple[SampleBatch | None, list[LinkEvent]]:
        events: list[LinkEvent] = []
        m, n, ts = frame.measurement, len(frame), frame.timestamp_ns
        if self._restarted:
            self._place_segment(ts, arrival_s, events)
        period = self._period_ns
        last = self._last.get(m)
        if last is not None:
            steps = round((ts - last[1]) / period)
            if steps <= 0:
                self.duplicates += 1
                return None, events
            slot_last = last[0] + steps
        elif self._ref is not None:
            slot_last = self._ref[0] + round((ts - self._ref[1]) / period)
        else:
            slot_last = n - 1
        if m not in self._seg0:
            self._seg0[m] = (slot_last - n + 1, ts - round((n - 1) * period))
        self._last[m] = (slot_last, ts)
        if self._ref is None or slot_last > self._ref[0]:
            self._ref = (slot_last, ts, arrival_s)
        self._update_period(m)
        self.packets += 1
        self.clock_fit.add_arrival(ts // 1000, arrival_s)
        self._last_arrival_s = arrival_s
        scale = pmd.si_scale(m, frame.frame_type, self.factors.get(m, 1.0))
        pending = self._pending[m]
        floor = -1 << 62 if self._emitted is None else self._emitted
        for i in range(n):
            slot = slot_last - (n - 1 - i)
            if slot > floor:
                pending[slot] = (ts - round((n - 1 - i) * period), frame.values[i], scale)
        return self._emit(arrival_s, events), events

    def _update_period(self, m: int) -> None:
        first, last = self._seg0[m], self._last[m]
        slots = last[0] - first[0]
        nominal = 1e9 / self.info.rate_hz
        if slots >= 2 * self.info.rate_hz:  # 2 s of the stream: its own period
            est = (last[1] - first[1]) / slots
            if abs(est / nominal - 1.0) < 0.05:
                self._period_ns = est

    def _place_segment(self, ts_ns: int, arrival_s: float, events: list[LinkEvent]) -> None:
        """First frame after a restart: continue the slots across the pause by the device clock (by the
        host clock if the device clock restarted)."""
        self._restarted = False
        assert self._ref is not None
        slot, ref_ts, ref_arrival = self._ref
        dev_step_s = (ts_ns - ref_ts) * 1e-9
        host_step_s = arrival_s - ref_arrival
        if dev_step_s <= 0 or abs(dev_step_s - host_step_s) > _REBOOT_TOLERANCE_S + 0.01 * host_step_s:
            events.append(self._event("note", arrival_s, f"{self.device}: device clock restarted; timing refitted "
                                      "from the host clock", device_step_s=dev_step_s, host_step_s=host_step_s))
            self.clock_fit.reset()
            self._ref = (slot + max(1, round(host_step_s * 1e9 / self._period_ns)), ts_ns, arrival_s)

    def _gaps(self, missing: np.ndarray, arrival_s: float, events: list[LinkEvent]) -> None:
        if not len(missing):
            return
        assert self._origin is not None
        runs = np.split(missing, np.flatnonzero(np.diff(missing) != 1) + 1)
        period_s = self._period_ns * 1e-9
        for run in runs:
            count = len(run)
            self.missing += count
            self.gaps += 1
            first = int(run[0]) - self._origin
            events.append(self._event("gap", arrival_s, f"{count} sample(s) missing ({count * period_s:.3f} s) from "
                                      f"seq {first} (timestamps of {self.device})", missing=count, first_seq=first,
                                      duration_s=count * period_s, tx_overflow=False))

    def _emit(self, arrival_s: float, events: list[LinkEvent]) -> SampleBatch | None:
        """Pair the slots both streams have up to where both have been seen (or one lags too far)."""
        acc, gyr = self._last.get(pmd.ACC), self._last.get(pmd.GYRO)
        if acc is None and gyr is None:
            return None
        lag = round(_MAX_LAG_S * 1e9 / self._period_ns)
        newest = max(x[0] for x in (acc, gyr) if x is not None)
        if acc is None or gyr is None:  # one stream not (re)started yet: wait for it up to lag into the segment
            present = pmd.ACC if acc is not None else pmd.GYRO
            if newest - self._seg0[present][0] < lag:
                return None
            ready = newest - lag
        else:
            ready = max(min(acc[0], gyr[0]), newest - lag)
        pa, pg = self._pending[pmd.ACC], self._pending[pmd.GYRO]
        if self._emitted is None:  # the session starts at the first slot both streams have
            both = sorted(set(pa) & set(pg))
            if not both or both[0] > ready:
                return None
            start = both[0]
            self._origin = start
        else:
            start = self._emitted + 1
        if ready < start:
            return None
        rows: list[tuple[int, tuple[int, np.ndarray, float], tuple[int, np.ndarray, float]]] = []
        missing: list[int] = []
        for s in range(start, ready + 1):
            a, g = pa.pop(s, None), pg.pop(s, None)
            if a is None or g is None:
                missing.append(s)
            else:
                rows.append((s, a, g))
        for p in (pa, pg):
            for s in [s for s in p if s <= ready]:
                del p[s]
        self._emitted = ready
        self._gaps(np.asarray(missing, dtype=np.int64), arrival_s, events)
        if not rows:
            return None
        assert self._origin is not None
        seq = np.array([s - self._origin for s, _, _ in rows], dtype=np.int64)
        dev_us = np.array([a[0] // 1000 for _, a, _ in rows], dtype=np.int64)
        ints = np.array([np.concatenate([a[1], g[1]]) for _, a, g in rows], dtype=np.int64)
        scale = np.array([[a[2]] * 3 + [g[2]] * 3 for _, a, g in rows], dtype=np.float64)
        si = ints * scale
        # raw in the info's LSB (what a recording stores, SI = raw x its scale): the device integers themselves
        # when the frames have the info's scale (delta ACC type 0x81, GYRO 0x80), else rescaled
        lsb = np.array([self.info.acc_m_s2_per_lsb] * 3 + [self.info.gyr_rad_s_per_lsb] * 3)
        same = np.all(scale == lsb, axis=1)
        raw_i = np.where(same[:, None], ints, np.rint(si / lsb))
        raw = np.clip(raw_i, *_INT16).astype(np.int16)
        min_step_s = 0.5 * self._period_ns * 1e-9
        t = self.clock_fit.host_time_s(dev_us) - self.t0_s
        lower = self._last_time_s + min_step_s * np.arange(1, len(t) + 1)
        t = np.maximum(t, lower)
        self._last_time_s = float(t[-1])
        self.samples += len(rows)
        return SampleBatch(self.sensor, seq, dev_us, t, arrival_s - self.t0_s, 0, raw, si[:, :3], si[:, 3:])


class PolarLink(SensorLink):
    """The link to one Polar (PMD) sensor with ``role`` (see the module docstring)."""

    has_motor = False

    def __init__(self, role: str, *, backend: LinkBackend, options: LinkOptions, clock: HostClock,
                 t0_s: float, emit: Any) -> None:
        super().__init__(role, backend=backend, options=options, clock=clock, t0_s=t0_s, emit=emit)
        self.info = None
        self.polar_decoder = PolarDecoder(role, polar_info(role, 52.0, 1e-3 * pmd.G_M_S2, 1.0), t0_s=t0_s)
        self.decoder = self.polar_decoder  # type: ignore[assignment]  # the same interface as PacketDecoder
        self.model: str | None = None
        self.features: set[int] = set()
        self._answers: defaultdict[tuple[int, int], deque[asyncio.Future[pmd.PmdResponse]]] = defaultdict(deque)

    @property
    def device(self) -> str:
        f = self.found
        return f"{(f.name if f else None) or 'Polar sensor'} ({f.address if f else '?'})"

    # --- callbacks ----------------------------------------------------------------------
    def _on_control(self, _char: BleakGATTCharacteristic, data: bytearray) -> None:
        try:
            resp = pmd.decode_response(bytes(data))
        except DecodeError:
            return
        waiting = self._answers[(resp.opcode, resp.measurement)]
        while waiting:
            fut = waiting.popleft()
            if not fut.done():
                fut.set_result(resp)
                break

    # --- set-up -------------------------------------------------------------------------
    async def _read_info(self, client: BleakClient) -> SensorInfo | None:
        """A Polar answers with its features, not an info characteristic: refuse a device that cannot stream
        an IMU's two streams (the info itself comes with the streams' settings, :meth:`_start_stream`)."""
        self.polar_decoder.device = self.device
        if client.services.get_characteristic(pmd.PMD_CONTROL_UUID) is None or \
                client.services.get_characteristic(pmd.PMD_DATA_UUID) is None:
            raise SensorLinkError(f"{self.device} is not an IMU imu-hinge can stream from (no Polar Measurement "
                                  "Data service): choose another sensor (`imu-hinge scan` lists them)")
        features = await asyncio.wait_for(client.read_gatt_char(pmd.PMD_CONTROL_UUID), self.options.command_timeout_s)
        try:
            self.features = pmd.decode_features(bytes(features))
        except DecodeError as exc:
            raise SensorLinkError(f"{self.device}: unreadable PMD features ({exc}); update its firmware in "
                                  "Polar Flow, or choose another sensor") from None
        if pmd.ACC not in self.features:
            raise SensorLinkError(f"{self.device} is not an IMU imu-hinge can stream from (it offers no "
                                  "accelerometer stream): choose another sensor")
        if pmd.GYRO not in self.features:
            raise SensorLinkError(f"{self.device}: its firmware does not stream the gyroscope, which imu-hinge "
                                  "needs: update the sensor's firmware in the Polar Flow app, or use another "
                                  "sensor")
        return self.info

    async def _subscribe(self, client: BleakClient) -> None:
        """The model (shown by ``sensors``), then the control point's answers and the data."""
        self.model = await self._read_optional_str(client, MODEL_NUMBER_CHAR_UUID)
        await client.start_notify(pmd.PMD_CONTROL_UUID, self._on_control)
        await client.start_notify(pmd.PMD_DATA_UUID, self._on_data)

    async def pmd_command(self, data: bytes) -> pmd.PmdResponse:
        """Write one control point command and wait for its answer."""
        client = self.client
        if client is None or not client.is_connected:
            raise Retry(f"{self.device} is not connected")
        fut: asyncio.Future[pmd.PmdResponse] = asyncio.get_running_loop().create_future()
        self._answers[(data[0], data[1])].append(fut)
        await client.write_gatt_char(pmd.PMD_CONTROL_UUID, data, response=True)
        return await asyncio.wait_for(fut, self.options.command_timeout_s)

    async def offered_rates_hz(self) -> tuple[int, ...]:
        """The accelerometer rates the device offers (get settings, nothing started)."""
        resp = await self.pmd_command(pmd.get_settings_command(pmd.ACC))
        if not resp.ok:
            return ()
        return tuple(int(r) for r in pmd.decode_settings(resp.parameters).get(pmd.SAMPLE_RATE, ()))

    async def _choose(self, measurement: int) -> tuple[dict[int, int], list[int]]:
        """Ask one stream's settings; the ones to start it with (the rate nearest the one asked for, the
        highest resolution, range and channel count offered) and the rates offered."""
        name = pmd.MEASUREMENT_NAMES[measurement]
        resp = await self.pmd_command(pmd.get_settings_command(measurement))
        if not resp.ok:
            raise SensorLinkError(f"{self.device} gave no {name} settings ({resp.error}): switch it off and on, "
                                  "or update its firmware in Polar Flow")
        try:
            offered = pmd.decode_settings(resp.parameters)
        except DecodeError as exc:
            raise SensorLinkError(f"{self.device}: unreadable {name} settings ({exc}); update its firmware") from None
        rates = [int(r) for r in offered.get(pmd.SAMPLE_RATE, ())]
        if not rates:
            raise SensorLinkError(f"{self.device} offers no {name} sample rate: update its firmware in Polar Flow")
        selected = {pmd.SAMPLE_RATE: min(rates, key=lambda r: (abs(r - self.options.rate_hz), -r))}
        for kind in (pmd.RESOLUTION, pmd.RANGE, pmd.CHANNELS):
            if offered.get(kind):
                selected[kind] = int(max(offered[kind]))
        return selected, rates

    async def _start(self, measurement: int, selected: dict[int, int], rates: list[int]) -> tuple[int, float, int]:
        """Start one stream; (rate Hz, factor, range) it runs at."""
        name, rate = pmd.MEASUREMENT_NAMES[measurement], selected[pmd.SAMPLE_RATE]
        resp = await self.pmd_command(pmd.start_command(measurement, selected))
        if resp.status == pmd.ERROR_ALREADY_IN_STATE:  # a stream left running: stop it and start again
            await self.pmd_command(pmd.stop_command(measurement))
            resp = await self.pmd_command(pmd.start_command(measurement, selected))
        if not resp.ok:
            raise SensorLinkError(f"{self.device} refused to stream its {name} at {rate} Hz ({resp.error}): switch "
                                  "it off and on, or ask for a rate it offers (it lists "
                                  f"{', '.join(str(r) for r in rates)} Hz)")
        try:
            factor = float(pmd.decode_settings(resp.parameters).get(pmd.FACTOR, (1.0,))[0])
        except DecodeError:
            factor = 1.0
        return rate, factor, int(selected.get(pmd.RANGE, 0))

    async def _start_stream(self, client: BleakClient) -> SensorInfo:
        """Both streams' settings asked first, then both started (the starts come close together); the info
        from the rate and factors they run at."""
        chosen = {m: await self._choose(m) for m in (pmd.ACC, pmd.GYRO)}
        acc_rate, acc_factor, acc_range = await self._start(pmd.ACC, *chosen[pmd.ACC])
        gyr_rate, gyr_factor, gyr_range = await self._start(pmd.GYRO, *chosen[pmd.GYRO])
        if acc_rate != gyr_rate:
            raise SensorLinkError(f"{self.device} streams its accelerometer at {acc_rate} Hz and its gyroscope "
                                  f"at {gyr_rate} Hz: imu-hinge needs one rate for both")
        self.polar_decoder.factors = {pmd.ACC: acc_factor, pmd.GYRO: gyr_factor}
        return polar_info(self.role, acc_rate, pmd.si_scale(pmd.ACC, 0x81, acc_factor),
                          pmd.si_scale(pmd.GYRO, 0x80, gyr_factor), acc_range or 8, gyr_range or 2000,
                          firmware_version(self.firmware))

    # --- commands -------------------------------------------------------------------------
    async def command(self, cmd: Command, *, response: bool = True) -> CommandResponse:
        if isinstance(cmd, HapticCommand):
            raise SensorLinkError(f"{self.device} has no vibration motor the host can drive: cues go to sound and "
                                  "screen")
        raise SensorLinkError(f"{self.device} does not take imu-hinge command {cmd.name}")

    async def ping(self) -> float:
        raise SensorLinkError(f"{self.device}: PMD has no time ping")

    async def ping_forever(self) -> None:
        """PMD has no time ping: the clock fit uses the data arrivals alone."""
        return None

    async def stop(self) -> None:
        self.closing = True
        if self.client is not None and self.connected.is_set():
            self.connected.clear()
            for m in (pmd.ACC, pmd.GYRO):
                try:
                    await self.pmd_command(pmd.stop_command(m))
                except (TimeoutError, BleakError, OSError, Retry, SensorLinkError):
                    pass
        await self.drop_client()


def describe_found(found: FoundSensor) -> dict[str, Any]:
    """What a scan knows about a Polar before connecting."""
    return {"brand": "polar", "name": found.name, "address": found.address}


__all__ = ["PolarDecoder", "PolarLink", "polar_info", "LinkItem"]
