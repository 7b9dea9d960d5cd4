"""One sensor's BLE link: connect, set up, stream, ping, command, and come back after a drop.

Set-up follows spec §2: connect (the backend negotiates the MTU) -> read info (refuse an unknown
protocol version) -> battery and firmware strings -> subscribe control and data -> ``start`` ->
wait for its answer -> re-read info. Every attempt builds a fresh ``BleakClient`` from a fresh
scan result (stale BlueZ device paths, bleak #676/#713). BlueZ's "Notify acquired" after an
abrupt drop is answered with stop_notify + disconnect + retry.

The data callback only stamps the host clock and puts the bytes in a bounded
:class:`~.channel.NotificationChannel`; :meth:`SensorLink.consume` decodes them in order
(:class:`~.decoder.PacketDecoder`) and hands batches and events to ``emit``.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.exc import BleakError

from imu_hinge.errors import DecodeError, SensorLinkError
from imu_hinge.protocol import (
    CONTROL_CHAR_UUID,
    DATA_CHAR_UUID,
    INFO_CHAR_UUID,
    PROTOCOL_VERSION,
    Command,
    CommandResponse,
    SensorInfo,
    StartCommand,
    StopCommand,
    TimePingCommand,
    decode_info,
    decode_response,
    encode_command,
)
from imu_hinge.protocol.spec import BATTERY_LEVEL_CHAR_UUID, FIRMWARE_REVISION_CHAR_UUID, OPCODES
from imu_hinge.sources.backend import HostClock, LinkBackend, is_notify_acquired
from imu_hinge.sources.channel import NotificationChannel
from imu_hinge.sources.decoder import PacketDecoder
from imu_hinge.sources.discovery import FoundSensor, find_sensor
from imu_hinge.sources.link_events import LinkEvent, LinkItem


@dataclass(frozen=True)
class LinkOptions:
    """Settings of the BLE source (times in host-clock seconds unless marked real)."""

    rate_hz: int = 104
    acc_range_g: int = 8
    gyr_range_dps: int = 1000
    queue_size: int = 512
    """Notifications waiting per sensor before the callback drops (and counts) them."""
    scan_timeout_s: float = 10.0
    connect_timeout_s: float = 10.0
    command_timeout_s: float = 3.0
    connect_attempts: int = 3
    ping_interval_s: float = 0.25
    reconnect: bool = True
    rescan_s: float = 2.0
    backoff_s: tuple[float, float] = (0.1, 1.0)
    """First and largest wait (real s) between failed reconnect attempts; doubles in between."""


class Retry(Exception):
    """A set-up step failed in a way worth another attempt (timeout, Notify acquired, link error)."""


class _Restart:
    """Channel marker: the sensor was (re)started; apply ``info`` and restart the decoder."""

    def __init__(self, started: asyncio.Event) -> None:
        self.started = started


class SensorLink:
    """The link to the sensor with ``role``. ``emit`` receives every :class:`LinkItem`, in order."""

    has_motor = True
    """Whether the host can drive a vibration motor on this sensor (the project's own: yes)."""

    def __init__(self, role: str, *, backend: LinkBackend, options: LinkOptions, clock: HostClock,
                 t0_s: float, emit: Callable[[LinkItem], Awaitable[None]]) -> None:
        self.role = role
        self.backend = backend
        self.options = options
        self.clock = clock
        self.t0_s = t0_s
        self.emit = emit
        self.channel = NotificationChannel(options.queue_size)
        self.decoder = PacketDecoder(role, SensorInfo.lsm6ds3(role=role), t0_s=t0_s)
        self.info: SensorInfo | None = None
        self.found: FoundSensor | None = None
        self.client: BleakClient | None = None
        self.battery_percent: int | None = None
        self.firmware: str | None = None
        self.mtu = 23
        self.connected = asyncio.Event()
        self.lost = asyncio.Event()
        self.closing = False
        self.connects = 0
        self.pings_answered = 0
        self._pending: defaultdict[int, deque[asyncio.Future[CommandResponse]]] = defaultdict(deque)  # FIFO
        self._pings: dict[int, asyncio.Future[tuple[CommandResponse, float]]] = {}
        self._tokens = itertools.count(1)
        self._reported_drops = 0

    def error(self, message: str) -> SensorLinkError:
        """A :class:`SensorLinkError` about this sensor (its role, and its address once found)."""
        return SensorLinkError(message, role=self.role, address=self.found.address if self.found else None)

    def event(self, kind: str, message: str, **detail: object) -> LinkEvent:
        """A :class:`LinkEvent` of this sensor, stamped now."""
        return LinkEvent(kind, self.role, self.clock.now() - self.t0_s, f"{self.role}: {message}", dict(detail))

    # --- callbacks (never block) -----------------------------------------------------------
    def _on_data(self, _char: BleakGATTCharacteristic, data: bytearray) -> None:
        self.channel.put_data(self.clock.now(), bytes(data))

    def _on_control(self, _char: BleakGATTCharacteristic, data: bytearray) -> None:
        arrival = self.clock.now()
        try:
            resp = decode_response(data)
        except DecodeError:
            return
        if resp.carries_time and resp.token in self._pings:
            ping = self._pings.pop(resp.token)
            if not ping.done():
                ping.set_result((resp, arrival))
            return
        waiting = self._pending[resp.opcode]
        while waiting:  # the sensor answers in order; skip waiters that gave up
            fut = waiting.popleft()
            if not fut.done():
                fut.set_result(resp)
                break

    def _on_disconnect(self, client: BleakClient) -> None:
        if client is not self.client:  # an old client (we dropped it ourselves): not news
            return
        if self.connected.is_set():
            self.connected.clear()
            self.channel.put_marker(self.event("disconnect", "link lost", reason="disconnected"))
        self.lost.set()

    # --- set-up -----------------------------------------------------------------------------
    async def connect(self, found: FoundSensor, *, start: bool = True) -> None:
        """One set-up attempt on a fresh client: connect, read info, battery and firmware, subscribe, and
        (``start``) :meth:`start_streaming`. Raises :class:`Retry` (worth another go) or ``SensorLinkError``."""
        opts = self.options
        self.found = found
        client = BleakClient(found.device, disconnected_callback=self._on_disconnect,
                             timeout=opts.connect_timeout_s, **self.backend.client_kwargs())
        self.client = client
        self.lost.clear()
        try:
            await asyncio.wait_for(client.connect(), opts.connect_timeout_s)
            self.mtu = client.mtu_size
            self.info = await self._read_info(client)
            self.battery_percent = await self._read_optional_int(client, BATTERY_LEVEL_CHAR_UUID)
            self.firmware = await self._read_optional_str(client, FIRMWARE_REVISION_CHAR_UUID)
            await self._subscribe(client)
        except (TimeoutError, BleakError, OSError, EOFError) as exc:
            await self.drop_client()
            raise Retry(f"set-up failed: {exc or type(exc).__name__}") from exc
        except BaseException:
            await self.drop_client()
            raise
        if start:
            await self.start_streaming()

    async def _start_stream(self, client: BleakClient) -> SensorInfo | None:
        """Start the sensor streaming and return the info it streams with (a brand's link overrides this)."""
        opts = self.options
        await self.command(StartCommand(opts.rate_hz, opts.acc_range_g, opts.gyr_range_dps))
        return await self._read_info(client)

    async def start_streaming(self) -> None:
        """Start streaming (:meth:`_start_stream`), the consumer holding data until the info is known; the
        link counts as connected from here."""
        client = self.client
        if client is None:
            raise Retry("no client to start")
        started = asyncio.Event()  # the consumer holds data behind this marker until info is re-read
        self.channel.put_marker(_Restart(started))
        try:
            self.info = await self._start_stream(client)
        except (TimeoutError, BleakError, OSError, EOFError) as exc:
            await self.drop_client()
            raise Retry(f"start failed: {exc or type(exc).__name__}") from exc
        except BaseException:
            await self.drop_client()
            raise
        finally:
            started.set()
        self.connects += 1
        self.connected.set()
        if self.lost.is_set():  # dropped during set-up
            self.connected.clear()
            raise Retry("link lost during set-up")

    async def _read_info(self, client: BleakClient) -> SensorInfo | None:
        data = await asyncio.wait_for(client.read_gatt_char(INFO_CHAR_UUID), self.options.command_timeout_s)
        try:
            return decode_info(data)
        except DecodeError as exc:
            if getattr(exc, "kind", "") == "wrong_version":
                raise self.error(f"the {self.role} sensor speaks protocol version {data[0]}, this imu-hinge "
                                      f"speaks {PROTOCOL_VERSION}: update imu-hinge (or the sensor)") from None
            raise self.error(f"the {self.role} sensor sent an unreadable info characteristic ({exc})") from None

    async def _read_optional(self, client: BleakClient, uuid: str) -> bytearray | None:
        if client.services.get_characteristic(uuid) is None:
            return None
        return await asyncio.wait_for(client.read_gatt_char(uuid), self.options.command_timeout_s)

    async def read_battery(self) -> int | None:
        """Battery level (%) read now (``None`` if the sensor has no Battery service)."""
        if self.client is None or not self.client.is_connected:
            raise self.error(f"the {self.role} sensor is not connected")
        self.battery_percent = await self._read_optional_int(self.client, BATTERY_LEVEL_CHAR_UUID)
        return self.battery_percent

    async def _read_optional_int(self, client: BleakClient, uuid: str) -> int | None:
        data = await self._read_optional(client, uuid)
        return data[0] if data else None

    async def _read_optional_str(self, client: BleakClient, uuid: str) -> str | None:
        data = await self._read_optional(client, uuid)
        return bytes(data).decode("utf-8", "replace") if data else None

    async def _subscribe(self, client: BleakClient) -> None:
        try:
            await client.start_notify(CONTROL_CHAR_UUID, self._on_control)
            await client.start_notify(DATA_CHAR_UUID, self._on_data)
        except BleakError as exc:
            if not is_notify_acquired(exc):
                raise
            for uuid in (CONTROL_CHAR_UUID, DATA_CHAR_UUID):  # release BlueZ's stale acquisition
                try:
                    await client.stop_notify(uuid)
                except (BleakError, OSError):
                    pass
            raise Retry("notifications still held by BlueZ (Notify acquired); reconnecting") from exc

    async def find(self, timeout_s: float, assignments: Mapping[str, str] | None = None) -> FoundSensor | None:
        """Look for this link's sensor again (a reconnect): the strongest one advertising its role (or given it in
        ``assignments``, address -> role). A brand's link may look for the same device instead."""
        return await find_sensor(self.role, timeout_s, backend=self.backend, assignments=assignments)

    async def drop_client(self) -> None:
        """Disconnect and forget the current client (errors ignored)."""
        client, self.client = self.client, None
        if client is not None:
            try:
                await asyncio.wait_for(client.disconnect(), self.options.command_timeout_s)
            except (TimeoutError, BleakError, OSError):
                pass

    # --- commands ---------------------------------------------------------------------------
    async def command(self, cmd: Command, *, response: bool = True) -> CommandResponse:
        """Write ``cmd`` and wait for the sensor's answer; ``SensorLinkError`` if it refuses."""
        client = self.client
        if client is None or not client.is_connected:
            raise self.error(f"the {self.role} sensor is not connected; cannot send {cmd.name}")
        fut: asyncio.Future[CommandResponse] = asyncio.get_running_loop().create_future()
        self._pending[OPCODES[cmd.name]].append(fut)
        await client.write_gatt_char(CONTROL_CHAR_UUID, encode_command(cmd), response=response)
        resp = await asyncio.wait_for(fut, self.options.command_timeout_s)
        if not resp.ok:
            raise self.error(f"the {self.role} sensor refused {cmd.name}: {resp.status}")
        return resp

    async def ping(self) -> float:
        """One time ping; feeds the clock fit; the round trip in host-clock seconds."""
        client = self.client
        if client is None:
            raise self.error(f"the {self.role} sensor is not connected")
        token = next(self._tokens) & 0xFFFFFFFF
        fut: asyncio.Future[tuple[CommandResponse, float]] = asyncio.get_running_loop().create_future()
        self._pings[token] = fut
        send_s = self.clock.now()
        try:
            await client.write_gatt_char(CONTROL_CHAR_UUID, encode_command(TimePingCommand(token)), response=False)
            resp, recv_s = await asyncio.wait_for(fut, self.options.command_timeout_s)
        finally:
            self._pings.pop(token, None)
        assert resp.device_time_us is not None
        self.decoder.add_ping(resp.device_time_us, send_s, recv_s)
        self.pings_answered += 1
        return recv_s - send_s

    async def ping_forever(self) -> None:
        """Ping every ``ping_interval_s`` while connected (failures are skipped)."""
        while not self.closing:
            await self.connected.wait()
            try:
                await self.ping()
            except (TimeoutError, BleakError, OSError, SensorLinkError):
                pass
            await self.clock.sleep(self.options.ping_interval_s)

    async def stop(self) -> None:
        """Stop streaming and disconnect (best effort; used when the session ends)."""
        self.closing = True
        if self.client is not None and self.connected.is_set():
            self.connected.clear()
            try:
                await self.command(StopCommand())
            except (TimeoutError, BleakError, OSError, SensorLinkError):
                pass
        await self.drop_client()

    # --- consumer ---------------------------------------------------------------------------
    async def consume(self) -> None:
        """Decode the channel's notifications in order, forever; hand everything to ``emit``."""
        while True:
            item = await self.channel.get()
            if self.channel.dropped > self._reported_drops:
                n = self.channel.dropped - self._reported_drops
                self._reported_drops = self.channel.dropped
                await self.emit(self.event("dropped", f"host queue full: {n} notification(s) dropped",
                                            notifications=n, total=self.channel.dropped))
            if isinstance(item, tuple):
                batch, events = self.decoder.feed(item[1], item[0])
                for event in events:
                    await self.emit(event)
                if batch is not None:
                    await self.emit(batch)
            elif isinstance(item, _Restart):
                await item.started.wait()
                if self.info is not None:
                    self.decoder.set_info(self.info)
                self.decoder.restart()
            elif isinstance(item, LinkEvent):
                await self.emit(item)

