"""The clocks an emulated world runs on (host-clock seconds shared by sensors, link and BLE source).

- :class:`EmulationClock` — real time scaled by ``speed``: what a user watching a demo expects, and
  what link timing needs (bumble's advertising and connecting happen in real time). :meth:`hold`
  freezes it while the emulated link catches up, so a fast run keeps device clocks, arrival stamps
  and delays consistent.
- :class:`VirtualClock` — discrete events: time jumps to the next thing due as soon as the link is
  idle, so a session runs as fast as the link takes it, and delays are exactly the ones drawn
  (no event-loop timer jitter, which at ``speed`` x would add several emulated ms). When nothing is
  scheduled, time flows with real time (a reconnect or a scan still ends).

Both have ``now()``, ``sleep()``, ``sleep_until()``, ``hold()``/``release()`` and ``speed``.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
from collections.abc import Awaitable, Callable


class EmulationClock:
    """Host-clock seconds running ``speed`` times the event loop's clock, 0 at the first reading."""

    def __init__(self, speed: float = 1.0) -> None:
        if not speed > 0 or math.isinf(speed):
            raise ValueError(f"speed must be a positive finite number, got {speed}")
        self.speed = speed
        self._real0: float | None = None
        self._virtual0 = 0.0
        self._holds = 0
        self._frozen_s = 0.0

    def now(self) -> float:
        t = asyncio.get_running_loop().time()
        if self._real0 is None:
            self._real0 = t
        if self._holds:
            return self._frozen_s
        return self._virtual0 + (t - self._real0) * self.speed

    def hold(self) -> None:
        if self._holds == 0:
            self._frozen_s = self.now()
        self._holds += 1

    def release(self) -> None:
        self._holds -= 1
        if self._holds == 0:
            self._virtual0, self._real0 = self._frozen_s, asyncio.get_running_loop().time()

    async def sleep(self, duration_s: float) -> None:
        await asyncio.sleep(max(0.0, duration_s) / self.speed)

    async def sleep_until(self, time_s: float) -> None:
        """Return once :meth:`now` has reached ``time_s``. The clock may be held (the link catching
        up) during the wait, so one real-time sleep can end early in emulated time: sleep again."""
        while (remaining := time_s - self.now()) > 0:
            await asyncio.sleep(remaining / self.speed)

    async def start(self) -> None:
        """Nothing to start (see :class:`VirtualClock`)."""

    async def close(self) -> None:
        """Nothing to stop."""


class VirtualClock:
    """Discrete-event host clock: :meth:`sleep_until` waits in a queue; a driver task jumps time to the
    earliest waiter once ``settle()`` (e.g. "every notification sent was delivered") returns and the
    loop has run the work that follows. ``speed`` is infinite. Call :meth:`start` / :meth:`close`."""

    speed = math.inf

    def __init__(self, settle: Callable[[], Awaitable[None]] | None = None, *, idle_real_s: float = 0.001) -> None:
        self._settle = settle
        self.idle_real_s = idle_real_s
        self._t = 0.0
        self._queue: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._driver: asyncio.Task[None] | None = None

    def now(self) -> float:
        return self._t

    def hold(self) -> None:
        """Time only moves between events anyway."""

    def release(self) -> None:
        """See :meth:`hold`."""

    async def sleep(self, duration_s: float) -> None:
        await self.sleep_until(self._t + max(0.0, duration_s))

    async def sleep_until(self, time_s: float) -> None:
        if time_s <= self._t:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._queue, (time_s, next(self._order), fut))
        await fut

    async def start(self) -> None:
        if self._driver is None:
            self._driver = asyncio.get_running_loop().create_task(self._drive(), name="virtual-clock")

    async def close(self) -> None:
        if self._driver is not None:
            self._driver.cancel()
            await asyncio.gather(self._driver, return_exceptions=True)
            self._driver = None
        for _, _, fut in self._queue:
            fut.cancel()
        self._queue.clear()

    async def _drive(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            for _ in range(3):  # let woken tasks run (they may schedule earlier events)
                await asyncio.sleep(0)
            if self._settle is not None:
                await self._settle()
                await asyncio.sleep(0)
            while self._queue and self._queue[0][2].done():  # cancelled sleepers
                heapq.heappop(self._queue)
            if not self._queue:
                before = loop.time()
                await asyncio.sleep(self.idle_real_s)
                self._t += loop.time() - before  # nothing scheduled: time flows with real time
                continue
            t = self._queue[0][0]
            self._t = max(self._t, t)
            while self._queue and self._queue[0][0] <= self._t:
                fut = heapq.heappop(self._queue)[2]
                if not fut.done():
                    fut.set_result(None)
