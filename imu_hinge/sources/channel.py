"""The bounded channel between a BLE notify callback and its consumer task.

The callback must never block or do work (bleak #1637, #1501): it stamps the arrival time and
calls :meth:`NotificationChannel.put_data`, which refuses (and counts) a notification when
``maxsize`` are already waiting. Markers (restart, link events) always get in, in order with
the data around them, so the consumer sees "disconnected" after the last packet before it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any


class NotificationChannel:
    """FIFO of ``(arrival_s, bytes)`` data items (bounded) and marker objects (unbounded, rare)."""

    def __init__(self, maxsize: int = 512) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be >= 1")
        self.maxsize = maxsize
        self.dropped = 0
        self.accepted = 0
        self._items: deque[Any] = deque()
        self._data = 0
        self._ready = asyncio.Event()

    def __len__(self) -> int:
        return len(self._items)

    @property
    def full(self) -> bool:
        return self._data >= self.maxsize

    def put_data(self, arrival_s: float, data: bytes) -> bool:
        """Non-blocking; ``False`` (counted in ``dropped``) when full."""
        if self._data >= self.maxsize:
            self.dropped += 1
            return False
        self._items.append((arrival_s, data))
        self._data += 1
        self.accepted += 1
        self._ready.set()
        return True

    def put_marker(self, marker: object) -> None:
        self._items.append(marker)
        self._ready.set()

    async def get(self) -> Any:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        item = self._items.popleft()
        if isinstance(item, tuple):
            self._data -= 1
        return item
