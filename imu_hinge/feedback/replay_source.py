"""A recording played back as a live source, paced by ``speed`` (1 = real time, 4, or None = max).

Samples come out in arrival order (:meth:`~imu_hinge.samples.Recording.merged_samples`), in
batches of those due by now on the scaled clock; at max speed in fixed-size batches with a
yield to the event loop between them so a window keeps redrawing. ``max_lag_s`` tells how far
the consumer fell behind the paced clock (0 at max speed by definition).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence

import numpy as np

from imu_hinge.feedback.session_runner import SensorStatus
from imu_hinge.samples import ImuSample, Recording

MAX_SPEED_BATCH = 128
"""Samples per batch at max speed (about 3-4 ms of core time)."""


def drop_rate(recording: Recording, role: str) -> float | None:
    """Share of samples missing in a stream: from sequence numbers when recorded, else from time gaps."""
    s = recording.streams.get(role)
    if s is None or len(s) < 2:
        return None
    if s.seq is not None:
        span = int(s.seq[-1] - s.seq[0]) + 1
        return max(0.0, 1.0 - len(s) / span) if span > 0 else None
    dt = np.diff(s.time_s)
    med = float(np.median(dt))
    if not med > 0:
        return None
    missing = np.clip(np.round(dt / med) - 1.0, 0.0, None).sum()
    return float(missing / (missing + len(s)))


def replay_status(recording: Recording) -> dict[str, SensorStatus]:
    """Status-bar entries for a replay: drop rate from the file; battery and clock offset unknown."""
    return {role: SensorStatus(role, connected=True, drop_rate=drop_rate(recording, role), source="replay")
            for role in recording.streams}


class ReplaySource:
    """Async iterator of sample batches from a recording, paced by ``speed`` (None = max)."""

    def __init__(self, recording: Recording | Sequence[ImuSample], speed: float | None = 1.0,
                 clock: Callable[[], float] = time.perf_counter, max_batch: int = 512) -> None:
        if speed is not None and not speed > 0:
            raise ValueError(f"speed must be > 0 or None (max), got {speed}")
        self.samples = recording.merged_samples() if isinstance(recording, Recording) else list(recording)
        self.speed = speed
        self._clock = clock
        self.max_batch = max_batch
        self.max_lag_s = 0.0
        self.sent = 0

    def __aiter__(self) -> AsyncIterator[Sequence[ImuSample]]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Sequence[ImuSample]]:
        samples, n = self.samples, len(self.samples)
        if not n:
            return
        if self.speed is None:
            for i in range(0, n, MAX_SPEED_BATCH):
                yield samples[i:i + MAX_SPEED_BATCH]
                self.sent = min(n, i + MAX_SPEED_BATCH)
                await asyncio.sleep(0)
            return
        t_first, speed = samples[0].time_s, self.speed
        wall0 = self._clock()
        i = 0
        while i < n:
            now_rec = t_first + (self._clock() - wall0) * speed
            j = i
            while j < n and j - i < self.max_batch and samples[j].time_s <= now_rec:
                j += 1
            if j == i:  # nothing due: sleep until the next sample is
                wait_s = (samples[i].time_s - t_first) / speed - (self._clock() - wall0)
                await asyncio.sleep(max(0.0, min(wait_s, 0.05)))
                continue
            yield samples[i:j]
            # the consumer has processed the batch: how late is its last sample now?
            due_wall = wall0 + (samples[j - 1].time_s - t_first) / speed
            self.max_lag_s = max(self.max_lag_s, self._clock() - due_wall)
            self.sent = i = j


__all__ = ["MAX_SPEED_BATCH", "ReplaySource", "drop_rate", "replay_status"]
