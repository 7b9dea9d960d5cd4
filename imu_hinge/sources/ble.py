"""The BLE source: both sensors over bleak, one process, one event loop, asyncio only here.

::

    async with BleSource() as source:                        # scan, connect sacrum then thoracic, start
        async for item in source.items(duration_s=60):       # SampleBatch | LinkEvent, as they come
            if isinstance(item, SampleBatch):
                for sample in item.imu_samples():
                    events = pipeline.push(sample)           # the synchronous core
        await source.haptic("thoracic", HapticCommand(200, 150, 100, 3))

Sensors are found by service UUID and advertised role (:mod:`.discovery`) and connected one
after the other (bleak #1858); nothing scans while both stream. Each sensor has a bounded
notification channel filled by a non-blocking callback (drops counted and reported), a consumer
decoding in order (gaps kept as gaps, reported), a device->host clock fit fed by arrivals and
time pings (:mod:`.clock_fit`), and a supervisor that, when the link drops, rescans and
reconnects with back-off on a fresh client, then resumes (the gap is reported).

``backend=`` picks the bleak backend classes (:class:`~.backend.LinkBackend`; the emulator's and
the fake one are used in tests) and ``clock=`` the host clock (an emulation clock in tests).
No Bluetooth on the machine ends as one :class:`~imu_hinge.errors.SensorLinkError` line.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Collection, Mapping
from typing import Any

from bleak.exc import BleakError

from imu_hinge.errors import SensorLinkError
from imu_hinge.protocol import CONTROL_CHAR_UUID, HapticCommand
from imu_hinge.samples import SENSOR_ROLES
from imu_hinge.sources.backend import HostClock, LinkBackend, SystemClock, bluetooth_unavailable
from imu_hinge.sources.brands import BRANDS
from imu_hinge.sources.discovery import FoundSensor, pick_roles, scan
from imu_hinge.sources.link_events import LinkEvent, LinkItem, SampleBatch
from imu_hinge.sources.sensor_link import LinkOptions, Retry, SensorLink

__all__ = ["BleSource", "LinkEvent", "LinkOptions", "SampleBatch"]


class BleSource:
    """Both sensors' live stream. Use as ``async with``; read :meth:`items`.

    Attributes: ``links`` (role -> :class:`SensorLink`), ``t0_s`` (host-clock time of
    ``time_s`` = 0), ``clock``. :meth:`stats` gives the counters per sensor.
    """

    def __init__(self, roles: Collection[str] = SENSOR_ROLES, *, backend: LinkBackend | None = None,
                 options: LinkOptions | None = None, clock: HostClock | None = None, queue_size: int = 4096,
                 found: dict[str, FoundSensor] | None = None, assignments: dict[str, str] | None = None,
                 link_types: Mapping[str, type[SensorLink]] | None = None) -> None:
        self.roles = tuple(roles)
        self.backend = backend or LinkBackend()
        self.options = options or LinkOptions()
        self.clock: HostClock = clock or SystemClock()
        self.t0_s = 0.0
        self.streaming_since_s = 0.0
        self.links: dict[str, SensorLink] = {}
        self._found = found
        self.assignments = assignments
        """Address -> role for sensors that do not advertise one (other brands); ``None``: own sensors only."""
        self.link_types = dict(link_types or {})
        """role -> link class overriding the brand registry's (tests, a brand not registered yet)."""
        self._out: asyncio.Queue[LinkItem] = asyncio.Queue(queue_size)
        self._held: list[LinkItem] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> BleSource:
        try:
            await self.start()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Find both sensors, connect one after the other, then start both streams."""
        self.t0_s = self.clock.now()
        try:
            found = self._found or pick_roles(
                await scan(self.options.scan_timeout_s, backend=self.backend, until_roles=self.roles,
                           assignments=self.assignments), self.roles)
            for role in self.roles:
                link_class = self.link_types.get(role) or BRANDS[found[role].brand].link_class()  # one class a brand
                link = link_class(role, backend=self.backend, options=self.options, clock=self.clock, t0_s=self.t0_s,
                                  emit=self._out.put)
                self.links[role] = link
                self._tasks.append(asyncio.create_task(link.consume(), name=f"consume-{role}"))
                found[role] = await self._set_up(link, found[role], start=False)
            for role, link in self.links.items():
                try:
                    await link.start_streaming()
                except Retry:
                    await self._set_up(link, found[role], start=True)
                await link.emit(link.event("connected", f"streaming ({link.found and link.found.address}, MTU "
                                           f"{link.mtu}, {link.info and link.info.rate_hz:g} Hz)",
                                           address=link.found and link.found.address, mtu=link.mtu))
                self._tasks.append(asyncio.create_task(link.ping_forever(), name=f"ping-{role}"))
                self._tasks.append(asyncio.create_task(self._supervise(link), name=f"supervise-{role}"))
        except (BleakError, OSError) as exc:
            raise bluetooth_unavailable(exc) or SensorLinkError(f"sensor link failed: {exc}") from exc
        self.streaming_since_s = self.clock.now()

    async def _set_up(self, link: SensorLink, found: FoundSensor, *, start: bool) -> FoundSensor:
        """:meth:`SensorLink.connect` with up to ``connect_attempts`` tries (rescanning between)."""
        last: Exception | None = None
        for _ in range(self.options.connect_attempts):
            try:
                await link.connect(found, start=start)
                return found
            except Retry as exc:
                last = exc
                await self.clock.sleep(self.options.backoff_s[0])  # host-clock seconds (emulated: its clock)
                found = await link.find(self.options.rescan_s, assignments=self.assignments) or found
        raise SensorLinkError(f"could not set up the {link.role} sensor after {self.options.connect_attempts} "
                              f"attempts: {last}", role=link.role, address=found.address)

    async def _supervise(self, link: SensorLink) -> None:
        """Reconnect ``link`` whenever it drops: rescan, fresh client, back-off, resume."""
        opts = self.options
        while not link.closing:
            await link.lost.wait()
            if link.closing or not opts.reconnect:
                return
            lost_at = self.clock.now()
            backoff, attempts = opts.backoff_s[0], 0
            await link.drop_client()
            while not link.closing:
                attempts += 1
                try:
                    found = await link.find(opts.rescan_s, assignments=self.assignments)
                    if found is None:
                        continue  # the scan itself waited rescan_s
                    await link.connect(found)
                except SensorLinkError as exc:  # it answered but cannot serve (e.g. refuses the rate): say so once,
                    await link.emit(link.event("error", f"{exc}; the set goes on without this sensor"))  # keep the rest
                    return
                except (Retry, BleakError, OSError) as exc:
                    if attempts == 1 or attempts % 10 == 0:
                        await link.emit(link.event("error", f"reconnect attempt {attempts} failed: {exc}"))
                    await self.clock.sleep(backoff)
                    backoff = min(2 * backoff, opts.backoff_s[1])
                    continue
                down_s = self.clock.now() - lost_at
                await link.emit(link.event("reconnect", f"reconnected after {down_s:.2f} s ({attempts} attempt(s))",
                                            down_s=down_s, attempts=attempts, mtu=link.mtu))
                break

    async def items(self, duration_s: float | None = None) -> AsyncGenerator[LinkItem, None]:
        """Batches and events as they come, until ``duration_s`` host-clock seconds after both streams
        started (``None``: forever)."""
        end = None if duration_s is None else self.streaming_since_s + duration_s
        while self._held:
            yield self._held.pop(0)
        while end is None or self.clock.now() < end:
            try:
                item = self._out.get_nowait()
            except asyncio.QueueEmpty:
                self._check_tasks()
                try:
                    item = await asyncio.wait_for(self._out.get(), 0.05)
                except TimeoutError:
                    continue
            yield item
        if end is None:
            return
        # The end is on the host clock, but a loaded host may still hold notifications that arrived before it
        # (queued for this consumer, or in a link's channel): the set keeps those, so its last rep is not lost
        # to scheduling. It stops at the first item that arrived after the end.
        end_rel_s = end - self.t0_s
        while True:
            while not self._out.empty():
                item = self._out.get_nowait()
                arrived_s = item.host_time_s if isinstance(item, SampleBatch) else item.time_s
                if arrived_s >= end_rel_s:
                    self._held.append(item)  # the next call's first item: nothing is lost between calls
                    return
                yield item
            await asyncio.sleep(0)  # let the link tasks move what their channels hold
            if self._out.empty():
                return

    def _check_tasks(self) -> None:
        for task in self._tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise SensorLinkError(f"sensor link task {task.get_name()} failed: {task.exception()}")

    async def haptic(self, role: str, cmd: HapticCommand) -> None:
        """Send a vibration pattern to the sensor with ``role`` and wait for its answer."""
        await self.links[role].command(cmd, response=False)

    async def write_control(self, role: str, data: bytes) -> None:
        """Write encoded command bytes to a sensor's control characteristic, without waiting for the answer
        (the ``write`` that :class:`~imu_hinge.feedback.haptic.HapticSink` takes:
        ``functools.partial(source.write_control, "thoracic")``)."""
        link = self.links[role]
        if not getattr(link, "has_motor", True):
            raise SensorLinkError(f"the {role} sensor has no vibration motor the host can drive")
        client = link.client
        if client is None or not client.is_connected:
            raise self.links[role].error(f"the {role} sensor is not connected")
        await client.write_gatt_char(CONTROL_CHAR_UUID, data, response=False)

    async def read_battery(self, role: str) -> int | None:
        """Battery level (%) of one sensor, read now."""
        return await self.links[role].read_battery()

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per sensor: decoder counters, host-queue drops, connects, pings, MTU, rate."""
        out = {}
        for role, link in self.links.items():
            info = link.info
            out[role] = {**link.decoder.stats(), "dropped_notifications": link.channel.dropped,
                         "connects": link.connects, "pings": link.pings_answered, "mtu": link.mtu,
                         "rate_hz": info.rate_hz if info else None, "battery_percent": link.battery_percent,
                         "firmware": link.firmware, "brand": link.found.brand if link.found else None}
        return out

    async def close(self) -> None:
        """Stop the sensors, disconnect, end every task (safe to call twice)."""
        for link in self.links.values():
            link.closing = True
            link.lost.set()
        for link in self.links.values():
            await link.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
