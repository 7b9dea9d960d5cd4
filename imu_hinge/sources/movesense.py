"""Movesense sensors as a live source: the same :class:`~.sensor_link.SensorLink` life cycle (connect,
set up, stream, reconnect, events) over Movesense's GATT SensorData protocol (:mod:`.movesense_protocol`).

- :class:`MovesenseDecoder` — a :class:`~.decoder.PacketDecoder` fed with Movesense notifications:
  DATA/DATA_PART2 reassembly, the device's ms timestamp unwrapped to the device clock, and a sample
  index *derived* from it (Movesense sends no sample counter): ``index = previous index + previous
  count + round((timestamp - expected timestamp) / period)``, with the period fitted from the
  timestamps (nominal for the first second). Everything after that (gaps, session index across
  reconnects, clock fit, monotonic times, counters) is the project's decoder. Values stay the
  float32 the sensor sent (acceleration m/s^2 as is, angular rate deg/s -> rad/s).
- :class:`MovesenseLink` — a :class:`~.sensor_link.SensorLink` whose info, subscribe and commands
  speak Movesense: HELLO on set-up, ``SUBSCRIBE /Meas/IMU6/{rate}`` for ``start``, ``UNSUBSCRIBE``
  for ``stop``; no time pings (the clock fit is the posterior mean of the arrivals' lower envelope,
  :mod:`.clock_fit`, fitted to each notification's last sample) and no motor.
- :func:`scan_movesense` / :func:`find_movesense` — Movesense sensors advertise no role: they are
  found by name (``Movesense <serial>``) and given the role the user assigned to their address.

Use: ``BleSource(found={"thoracic": movesense_found, ...}, link_types={"thoracic": MovesenseLink})``.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import numpy as np
from bleak import BleakClient
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakError

from imu_hinge.errors import SensorLinkError
from imu_hinge.protocol import (
    Command,
    CommandResponse,
    DataPacket,
    SensorInfo,
    StartCommand,
    StopCommand,
)
from imu_hinge.protocol.info import quantise_values
from imu_hinge.protocol.spec import (
    BATTERY_LEVEL_CHAR_UUID,
    FIRMWARE_REVISION_CHAR_UUID,
    MODEL_NUMBER_CHAR_UUID,
    OPCODES,
)
from imu_hinge.protocol.unwrap import DeviceClockUnwrapper
from imu_hinge.sources.backend import LinkBackend, is_notify_acquired
from imu_hinge.sources.clock_fit import ClockFit
from imu_hinge.sources.decoder import PacketDecoder
from imu_hinge.sources.discovery import FoundSensor, listen
from imu_hinge.sources.link_events import LinkEvent, SampleBatch
from imu_hinge.sources.movesense_protocol import (
    COMMAND_RESULT,
    DATA,
    DEG,
    MAX_NOTIFICATION_BYTES,
    NAME_PREFIX,
    NOTIFY_CHAR_UUID,
    ODR_HZ,
    SERVICE_UUID,
    SUPPORTED_RATES_HZ,
    WRITE_CHAR_UUID,
    CommandResult,
    Imu6Data,
    MovesenseDecodeError,
    Reassembler,
    decode_result,
    encode_hello,
    encode_subscribe,
    encode_unsubscribe,
    imu6_path,
    pick_rate_hz,
)
from imu_hinge.sources.sensor_link import LinkOptions, Retry, SensorLink

BRAND = "movesense"
RAW_ACC_RANGE_G, RAW_GYR_RANGE_DPS = 16, 2000
"""The LSM6DS3 ranges the ``raw`` column of a Movesense batch is expressed in. The floats are what the sensor
sent (``SampleBatch.si_exact``): a recording keeps them as sent and leaves its raw columns empty."""


def movesense_info(role: str, rate_hz: int, firmware: str | None = None) -> SensorInfo:
    """The :class:`SensorInfo` a Movesense streaming ``/Meas/IMU6/{rate_hz}`` stands for."""
    version = tuple(int(p) for p in (firmware or "").split(".")[:3] if p.isdigit())
    return SensorInfo.lsm6ds3(role=role, rate_hz=ODR_HZ[rate_hz], acc_range_g=RAW_ACC_RANGE_G,
                              gyr_range_dps=RAW_GYR_RANGE_DPS,
                              firmware_version=(version + (0, 0, 0))[:3] if version else (0, 0, 0))  # type: ignore[arg-type]


class MovesenseDecoder(PacketDecoder):
    """Movesense notifications -> :class:`SampleBatch` es (synchronous). Extra counter: ``parts``
    (DATA_PART2/3 notifications joined)."""

    fit_at_last_sample = True

    def __init__(self, sensor: str, info: SensorInfo, *, t0_s: float = 0.0, clock_fit: ClockFit | None = None) -> None:
        super().__init__(sensor, info, t0_s=t0_s, clock_fit=clock_fit or ClockFit(no_ping_fit="posterior"))
        self.reassembler = Reassembler()
        self._ms = DeviceClockUnwrapper(1 << 32)
        self.parts = 0
        self.device = "Movesense"
        """How event messages name the sensor (the link sets ``Movesense <serial> (address)``)."""
        self._data_arrival_s: float | None = None
        self._reset_line()

    def _reset_line(self) -> None:
        """The segment's device-time line ``t(index)``, fitted to every packet's timestamp (Welford)."""
        self._line_origin_us: int | None = None
        self._line_n = 0
        self._mean_j = self._mean_t = self._c_jj = self._c_jt = 0.0
        self._latest: tuple[int, int, int] | None = None  # (index, count, timestamp µs) of the segment's latest packet
        self._fitted = False

    def _line_period_us(self) -> float:
        """The fitted sample period (µs) once the timestamps span 1 s, else the nominal one."""
        nominal = 1e9 / self.info.rate_millihz
        if self._line_n < 3 or self._c_jj <= 0:
            self._fitted = False
            return nominal
        est = self._c_jt / self._c_jj
        span_us = (self._latest[0] if self._latest else 0) * nominal  # the segment starts at index 0
        self._fitted = span_us >= 1e6 and abs(est / nominal - 1.0) < 0.2
        return est if self._fitted else nominal

    def _line_us(self, index: float) -> float:
        """The fitted device time (µs, unwrapped) of sample ``index`` of the segment."""
        assert self._line_origin_us is not None
        return self._line_origin_us + self._mean_t + self._line_period_us() * (index - self._mean_j)

    def _add_point(self, index: int, t_us: int) -> None:
        if self._line_origin_us is None:
            self._line_origin_us = t_us
        t = float(t_us - self._line_origin_us)
        self._line_n += 1
        dj = index - self._mean_j
        self._mean_j += dj / self._line_n
        dt = t - self._mean_t
        self._mean_t += dt / self._line_n
        self._c_jj += dj * (index - self._mean_j)
        self._c_jt += dj * (t - self._mean_t)

    def restart(self) -> None:
        super().restart()
        self._reset_line()
        self.reassembler.reset()

    def feed(self, data: bytes | bytearray, arrival_s: float) -> tuple[SampleBatch | None, list[LinkEvent]]:
        kind = data[0] if len(data) else None
        self.parts += kind in (3, 4)
        held_arrival = self._data_arrival_s  # a message's arrival is its first notification's (DATA's)
        messages, errors = self.reassembler.feed(bytes(data))
        events = [self._error(exc, arrival_s) for exc in errors]
        arrivals = [held_arrival] * len(messages)
        if kind == DATA:
            self._data_arrival_s = arrival_s
            if messages and not self.reassembler.holding:
                arrivals[-1] = arrival_s
        batches = []
        for message, when in zip(messages, arrivals, strict=True):
            batch, more = self.feed_imu6(message, arrival_s if when is None else when)
            events += more
            if batch is not None:
                batches.append(batch)
        return _join(batches), events

    def _error(self, exc: MovesenseDecodeError, arrival_s: float) -> LinkEvent:
        self.decode_errors += 1
        return LinkEvent("error", self.sensor, arrival_s - self.t0_s, f"{self.sensor}: {self.device}: {exc}; packet "
                         "skipped (if this repeats, check the sensor runs gatt_sensordata_app)", {"kind": exc.kind})

    def feed_imu6(self, message: Imu6Data, arrival_s: float) -> tuple[SampleBatch | None, list[LinkEvent]]:
        """Place one whole IMU6 message by its timestamp and decode it.

        The timestamp (whole ms, truncated: the middle of its ms is taken) gives the index: the one the
        segment's fitted line expects nearest to it. The packet's device time is then the line's (the
        1 ms steps average out), which the sample times and the clock fit build on."""
        ts_us = self._ms.update(message.timestamp_ms) * 1000 + 500
        n = len(message)
        if self._latest is None:
            index = 0
        else:  # from the line once fitted; until then from the latest packet (a rate off nominal adds up)
            last, last_n, last_us = self._latest
            period = self._line_period_us()
            expected_us = self._line_us(last + last_n) if self._fitted else last_us + last_n * period
            index = last + last_n + round((ts_us - expected_us) / period)
        if index < 0:  # before the segment's first packet: late or repeated
            self.duplicates += 1
            return None, []
        if self._latest is None or index > self._latest[0]:
            self._latest = (index, n, ts_us)
            self._add_point(index, ts_us)
        self._line_period_us()
        dev_us = round(self._line_us(index)) if self._fitted else ts_us
        acc = message.acc_m_s2.astype(np.float64)
        gyr = message.gyr_dps.astype(np.float64) * DEG
        raw = quantise_values(acc, gyr, self.info)
        batch, events = self.feed_packet(DataPacket.build(index, max(0, dev_us), raw), arrival_s)
        if batch is not None:
            batch = replace(batch, acc_m_s2=acc, gyr_rad_s=gyr, si_exact=True)
        return batch, events

    def stats(self) -> dict[str, float | int]:
        return {**super().stats(), "parts": self.parts}


def _join(batches: list[SampleBatch]) -> SampleBatch | None:
    if len(batches) <= 1:
        return batches[0] if batches else None
    first, last = batches[0], batches[-1]
    cat = {name: np.concatenate([getattr(b, name) for b in batches])
           for name in ("seq", "device_time_us", "time_s", "raw", "acc_m_s2", "gyr_rad_s")}
    return SampleBatch(first.sensor, host_time_s=last.host_time_s, flags=last.flags, si_exact=first.si_exact, **cat)


def _device_label(found: FoundSensor | None) -> str:
    if found is None:
        return "the Movesense"
    return f"{found.name or 'Movesense'} ({found.address})"


class MovesenseLink(SensorLink):
    """One Movesense sensor's link (same constructor, life cycle and events as :class:`SensorLink`)."""

    brand = BRAND
    has_motor = False  # its vibration is not reachable over the SensorData protocol: cues go to sound and screen
    decoder: MovesenseDecoder

    def __init__(self, role: str, **kwargs: object) -> None:
        super().__init__(role, **kwargs)  # type: ignore[arg-type]
        self.rate_path_hz = pick_rate_hz(self.options.rate_hz)
        self.decoder = MovesenseDecoder(role, movesense_info(role, self.rate_path_hz), t0_s=self.t0_s)
        self._references = itertools.cycle(range(1, 256))
        self._results: dict[int, asyncio.Future[CommandResult]] = {}
        self.subscription: int | None = None

    @property
    def label(self) -> str:
        return _device_label(self.found)

    # --- callbacks (never block) -----------------------------------------------------------
    def _on_data(self, _char: object, data: bytearray) -> None:
        if data[:1] == bytes([COMMAND_RESULT]):
            try:
                result = decode_result(bytes(data))
            except MovesenseDecodeError:
                return
            self._resolve(result.reference, result)
            return
        if data[:1] == bytes([DATA]) and len(data) >= 2:  # older firmware answers a subscribe by streaming
            self._resolve(data[1], CommandResult(data[1], 200))
        super()._on_data(_char, data)  # type: ignore[arg-type]

    def _resolve(self, reference: int, result: CommandResult) -> None:
        fut = self._results.pop(reference, None)
        if fut is not None and not fut.done():
            fut.set_result(result)

    # --- set-up (called by SensorLink.connect / start_streaming) -------------------------------
    async def _read_info(self, client: BleakClient) -> SensorInfo:
        self.decoder.device = self.label
        if client.services.get_service(SERVICE_UUID) is None:
            raise SensorLinkError(
                f"{self.label} has no Movesense GATT SensorData service ({SERVICE_UUID}): it cannot stream to "
                f"imu-hinge as the {self.role} sensor; install Movesense's gatt_sensordata_app (movesense-device-lib) "
                "on it, or use another sensor")
        return movesense_info(self.role, self.rate_path_hz, self.firmware)

    async def _subscribe(self, client: BleakClient) -> None:
        self.decoder.reassembler.max_bytes = min(MAX_NOTIFICATION_BYTES, self.mtu - 3)
        try:
            await client.start_notify(NOTIFY_CHAR_UUID, self._on_data)
        except BleakError as exc:
            if not is_notify_acquired(exc):
                raise
            try:
                await client.stop_notify(NOTIFY_CHAR_UUID)
            except (BleakError, OSError):
                pass
            raise Retry(f"notifications still held by BlueZ (Notify acquired); reconnecting ({exc})") from exc
        if self.mtu < MAX_NOTIFICATION_BYTES + 3:
            await self.emit(self.event("note", f"{self.label}: ATT MTU {self.mtu} is below the 161 Movesense sends "
                                       "with: its notifications may arrive cut short (reported as truncated); use a "
                                       "Bluetooth adapter and OS that negotiate a larger MTU", mtu=self.mtu))
        result = await self._request(client, encode_hello, "HELLO")
        if not result.hello:
            raise SensorLinkError(f"{self.label} answered HELLO with status {result.status}, not 'Hello': it does "
                                  "not speak the GATT SensorData protocol imu-hinge knows; update its firmware")

    async def _request(self, client: BleakClient, encode: Callable[..., bytes], what: str,
                       *args: object) -> CommandResult:
        ref = next(self._references)
        fut: asyncio.Future[CommandResult] = asyncio.get_running_loop().create_future()
        self._results[ref] = fut
        try:
            await client.write_gatt_char(WRITE_CHAR_UUID, encode(ref, *args), response=True)
            return await asyncio.wait_for(fut, self.options.command_timeout_s)
        finally:
            self._results.pop(ref, None)

    # --- commands ---------------------------------------------------------------------------
    async def command(self, cmd: Command, *, response: bool = True) -> CommandResponse:
        """``start`` subscribes to ``/Meas/IMU6/{rate}``, ``stop`` unsubscribes; nothing else exists."""
        client = self.client
        if client is None or not client.is_connected:
            raise SensorLinkError(f"the {self.role} sensor ({self.label}) is not connected; cannot send {cmd.name}")
        if isinstance(cmd, StartCommand):
            path = imu6_path(self.rate_path_hz)
            result = await self._request(client, encode_subscribe, f"SUBSCRIBE {path}", path)
            if not result.ok:
                raise SensorLinkError(
                    f"{self.label} refused {path} (status {result.status}) as the {self.role} sensor: "
                    f"{_refusal_hint(result.status, self.rate_path_hz)}")
            self.subscription = result.reference
        elif isinstance(cmd, StopCommand):
            if self.subscription is not None:
                ref, self.subscription = self.subscription, None
                await client.write_gatt_char(WRITE_CHAR_UUID, encode_unsubscribe(ref), response=True)
        else:
            raise SensorLinkError(f"the {self.role} sensor ({self.label}) is a Movesense: it has no {cmd.name} "
                                  "(no vibration motor the host can drive); cues go to sound and screen")
        return CommandResponse(OPCODES[cmd.name], "ok")

    async def ping_forever(self) -> None:
        """Movesense's GATT SensorData protocol has no time ping: the fit uses the data alone."""

    async def find(self, timeout_s: float, assignments: Mapping[str, str] | None = None) -> FoundSensor | None:
        if self.found is None:
            return None
        return await find_movesense(self.found.address, self.role, timeout_s, backend=self.backend)


def _refusal_hint(status: int, rate_hz: int) -> str:
    if status == 404:
        return "its firmware has no /Meas/IMU6 resource; install a firmware with the IMU (gatt_sensordata_app)"
    if status == 507:
        return ("all its subscriptions are taken (another app is streaming from it): close that app, or restart "
                "the sensor")
    others = ", ".join(str(r) for r in SUPPORTED_RATES_HZ if r != rate_hz)
    return f"it does not stream at {rate_hz} Hz; choose another rate ({others} Hz) with --rate"


# --- discovery ------------------------------------------------------------------------------------
def is_movesense(name: str | None) -> bool:
    return bool(name) and str(name).startswith(NAME_PREFIX)


def serial_number(name: str | None) -> str | None:
    """The serial number in a ``Movesense <serial>`` name."""
    if not is_movesense(name):
        return None
    rest = str(name)[len(NAME_PREFIX):].strip()
    return rest or None


async def scan_movesense(timeout_s: float = 5.0, *, backend: LinkBackend | None = None,
                         roles: Mapping[str, str] | None = None, until: str | None = None) -> list[FoundSensor]:
    """Movesense sensors advertising within ``timeout_s`` s (sooner once ``until``, an address or name, is seen), each
    with the role the user gave its address in ``roles`` (``unassigned`` otherwise), strongest first."""
    backend = backend or LinkBackend()
    roles = roles or {}
    found: dict[str, FoundSensor] = {}
    done = asyncio.Event()

    def on_advertisement(device: BLEDevice, adv: AdvertisementData) -> None:
        name = adv.local_name or device.name
        if not is_movesense(name):
            return
        found[device.address] = FoundSensor(device, roles.get(device.address, "unassigned"), None, False,
                                            adv.rssi, name)
        if until is not None and until in (device.address, name):
            done.set()

    await listen(on_advertisement, done, timeout_s, backend)
    return sorted(found.values(), key=lambda f: (-f.rssi, f.address))


async def find_movesense(address: str, role: str, timeout_s: float, *,
                         backend: LinkBackend | None = None) -> FoundSensor | None:
    """The Movesense with ``address`` if it advertises within ``timeout_s`` s, as the sensor of ``role``."""
    seen = await scan_movesense(timeout_s, backend=backend, roles={address: role}, until=address)
    return next((f for f in seen if f.address == address), None)


@dataclass(frozen=True)
class MovesenseDetails:
    """What ``scan``/``sensors`` show for a Movesense (read by connecting: it advertises only its name)."""

    name: str
    address: str
    serial: str | None
    model: str | None
    firmware: str | None
    battery_percent: int | None
    sensordata: bool
    """Whether it has the GATT SensorData service (without it, imu-hinge cannot stream from it)."""
    rates_hz: tuple[int, ...] = SUPPORTED_RATES_HZ


async def read_movesense_details(found: FoundSensor, *, backend: LinkBackend | None = None,
                                 timeout_s: float = 10.0) -> MovesenseDetails:
    """Connect, read Device Information and Battery, look for the SensorData service, disconnect."""
    backend = backend or LinkBackend()

    async def text(client: BleakClient, uuid: str) -> str | None:
        if client.services.get_characteristic(uuid) is None:
            return None
        return bytes(await asyncio.wait_for(client.read_gatt_char(uuid), timeout_s)).decode("utf-8", "replace")

    client = BleakClient(found.device, timeout=timeout_s, **backend.client_kwargs())
    try:
        await asyncio.wait_for(client.connect(), timeout_s)
        battery = None
        if client.services.get_characteristic(BATTERY_LEVEL_CHAR_UUID) is not None:
            battery = (await asyncio.wait_for(client.read_gatt_char(BATTERY_LEVEL_CHAR_UUID), timeout_s))[0]
        return MovesenseDetails(found.name or "Movesense", found.address, serial_number(found.name),
                                await text(client, MODEL_NUMBER_CHAR_UUID),
                                await text(client, FIRMWARE_REVISION_CHAR_UUID), battery,
                                client.services.get_service(SERVICE_UUID) is not None)
    except (TimeoutError, BleakError, OSError) as exc:
        raise SensorLinkError(f"could not read {_device_label(found)}: {exc or type(exc).__name__}; bring it "
                              "closer and try again") from exc
    finally:
        try:
            await client.disconnect()
        except (BleakError, OSError):
            pass


__all__ = ["BRAND", "LinkOptions", "MovesenseDecoder", "MovesenseDetails", "MovesenseLink", "find_movesense",
           "is_movesense", "movesense_info", "read_movesense_details", "scan_movesense", "serial_number"]
