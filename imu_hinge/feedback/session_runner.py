"""The live session loop shared by ``replay`` and ``train``: source -> core -> policy -> sinks.

An async *source* yields batches of :class:`~imu_hinge.samples.ImuSample` in arrival order
(a BLE notification's samples, or a replay's due samples). :class:`SessionRunner` pushes each
sample through :class:`~imu_hinge.analysis.pipeline.HingePipeline`, hands the new angle rows to a
:class:`RowRing` (read by the live window on its own timer) and, with the events, to the
:class:`~imu_hinge.feedback.policy.FeedbackScheduler`; events and cues then fan out to the
sinks. Sinks never call back into the core; a sink that raises is logged and dropped from
that call only, the session goes on. Everything runs on one event loop, no threads.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from imu_hinge.analysis.pipeline import AnalysisResult, HingePipeline
from imu_hinge.detection.rep_events import Event
from imu_hinge.feedback.policy import Cue, FeedbackScheduler, Row
from imu_hinge.samples import SENSOR_ROLES, ImuSample

log = logging.getLogger(__name__)

SampleSource = AsyncIterable[Sequence[ImuSample]]
"""Yields batches of samples in arrival order; ends when the session ends."""


class Sink(Protocol):
    """Receives every core event and every cue; must not block, must not call the core."""

    name: str

    def on_event(self, event: Event) -> None: ...

    def on_cue(self, cue: Cue) -> None: ...

    async def aclose(self) -> None: ...


@dataclass
class SensorStatus:
    """What the window's status bar shows for one sensor (None = unknown)."""

    role: str
    connected: bool | None = None
    battery_pct: float | None = None
    drop_rate: float | None = None
    """Share of samples lost (0..1)."""
    clock_offset_ms: float | None = None
    source: str = ""


class RowRing:
    """Bounded ring of the latest angle rows ``(time_s, P, T, L)`` in deg; oldest overwritten.

    The data side :meth:`append` s; the window reads :meth:`latest` on its own timer.
    """

    def __init__(self, capacity: int = 8192) -> None:
        self.capacity = int(capacity)
        self._buf = np.full((self.capacity, 4), np.nan)
        self._n = 0
        """Rows ever appended."""

    def __len__(self) -> int:
        return min(self._n, self.capacity)

    @property
    def total(self) -> int:
        return self._n

    def append(self, row: Row) -> None:
        self._buf[self._n % self.capacity] = row
        self._n += 1

    def latest(self, window_s: float | None = None) -> np.ndarray:
        """(M, 4) copy of the stored rows in time order, limited to the last ``window_s`` s."""
        n, cap = self._n, self.capacity
        if n <= cap:
            out = self._buf[:n].copy()
        else:
            i = n % cap
            out = np.concatenate([self._buf[i:], self._buf[:i]])
        if window_s is not None and len(out):
            out = out[out[:, 0] >= out[-1, 0] - window_s]
        return out


class TimeOrderMerger:
    """Puts two sensors' samples back in time order before the core.

    Notifications carry several samples (e.g. 10 = 50 ms at 200 Hz) and the two sensors' packets
    arrive in any order, but the core wants samples in time order across sensors (its rows pair
    each sample with the other sensor's latest). A sample is released once the other stream has
    reached its time, or when the other stream has been silent for ``max_wait_s`` of data time
    (a lost sensor delays the live one by at most that). Ties: sacrum first, as in replay.
    """

    WAIT_S = 0.3
    """Default ``max_wait_s``: data time a sample waits for the other sensor (= wall time when live).
    BLE notifications of one sensor arrive up to ~0.2 s late now and then (seen over a 14-minute
    emulated set); a shorter wait released the other sensor's samples first, the late ones then came
    out of order and their rep was marked as if a sensor gap overlapped it. Only a silent stream
    makes the other wait: while both deliver, samples go on at once."""

    def __init__(self, max_wait_s: float = WAIT_S) -> None:
        self.max_wait_s = max_wait_s
        self._queues: dict[str, deque[ImuSample]] = {r: deque() for r in SENSOR_ROLES}
        self._newest: dict[str, float] = {r: -np.inf for r in SENSOR_ROLES}

    def push(self, batch: Sequence[ImuSample]) -> list[ImuSample]:
        for s in batch:
            self._queues[s.sensor].append(s)
            self._newest[s.sensor] = max(self._newest[s.sensor], s.time_s)
        return self._release(flush=False)

    def flush(self) -> list[ImuSample]:
        return self._release(flush=True)

    def _release(self, flush: bool) -> list[ImuSample]:
        out: list[ImuSample] = []
        qa, qb = (self._queues[r] for r in SENSOR_ROLES)
        newest = max(self._newest.values())
        while qa or qb:
            if qa and qb:
                q = qa if qa[0].time_s <= qb[0].time_s else qb
            else:
                q = qa or qb
                if not flush and q[0].time_s > newest - self.max_wait_s:
                    break  # the other stream may still deliver earlier samples
            out.append(q.popleft())
        return out


@dataclass
class RunStats:
    samples: int = 0
    rows: int = 0
    batches: int = 0
    wall_s: float = 0.0
    core_s: float = 0.0
    """Time spent in the core + policy + sinks (s)."""
    sink_errors: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"samples": self.samples, "rows": self.rows, "batches": self.batches, "wall_s": round(self.wall_s, 4),
                "core_s": round(self.core_s, 4), "sink_errors": self.sink_errors, **self.extra}


class SessionRunner:
    """Drives one session. ``ring`` (optional) receives every angle row for the window; ``merger``
    (for sources that deliver packets, e.g. BLE) restores time order across the two sensors."""

    def __init__(self, pipeline: HingePipeline, scheduler: FeedbackScheduler, sinks: Sequence[Sink] = (),
                 ring: RowRing | None = None, yield_every_s: float = 0.01,
                 merger: TimeOrderMerger | None = None) -> None:
        self.pipeline = pipeline
        self.merger = merger
        self.scheduler = scheduler
        self.sinks = list(sinks)
        self.ring = ring
        self.yield_every_s = yield_every_s
        self.events: list[Event] = []
        self.stats = RunStats()
        self._n_rows = 0

    def _fan_out(self, events: Sequence[Event], cues: Sequence[Cue]) -> None:
        for sink in self.sinks:
            try:
                for ev in events:
                    sink.on_event(ev)
                for cue in cues:
                    sink.on_cue(cue)
            except Exception:  # one broken sink must not end the session
                self.stats.sink_errors += 1
                log.exception("feedback sink %s failed", getattr(sink, "name", sink))

    def _new_rows(self) -> list[Row]:
        new = self.pipeline.rows_since(self._n_rows)  # the core keeps every row; read the new ones
        self._n_rows += len(new)
        return new

    def process(self, batch: Sequence[ImuSample]) -> list[Event]:
        """Synchronously process one batch; return its events (also fanned out)."""
        out: list[Event] = []
        push = self.pipeline.push
        for s in batch:
            events = push(s)
            if events or self.pipeline.n_rows != self._n_rows:
                rows = self._new_rows()
                if self.ring is not None:
                    for r in rows:
                        self.ring.append(r)
                cues = self.scheduler.feed(rows, events)
                self.stats.rows += len(rows)
                if events or cues:
                    out.extend(events)
                    self._fan_out(events, cues)
        self.events.extend(out)
        self.stats.samples += len(batch)
        self.stats.batches += 1
        return out

    def finish(self) -> list[Event]:
        events = self.pipeline.finish()
        cues = self.scheduler.feed([], events) + self.scheduler.finish()
        self._fan_out(events, cues)
        self.events.extend(events)
        return events

    async def run(self, source: SampleSource) -> AnalysisResult:
        """Consume ``source`` to its end, flush, close the sinks; return the core's result."""
        t_start = time.perf_counter()
        last_yield = t_start
        async for batch in source:
            t0 = time.perf_counter()
            self.process(self.merger.push(batch) if self.merger is not None else batch)
            t1 = time.perf_counter()
            self.stats.core_s += t1 - t0
            if t1 - last_yield >= self.yield_every_s:  # let the GUI and other tasks run
                await asyncio.sleep(0)
                last_yield = time.perf_counter()
        if self.merger is not None:
            self.process(self.merger.flush())
        self.finish()
        for sink in self.sinks:
            try:
                await sink.aclose()
            except Exception:
                self.stats.sink_errors += 1
                log.exception("closing feedback sink %s failed", getattr(sink, "name", sink))
        self.stats.wall_s = time.perf_counter() - t_start
        return self.pipeline.result()

    def feedback_json(self) -> dict[str, Any]:
        """The feedback actually issued: policy, cues, and each sink's log (haptic commands with times)."""
        doc: dict[str, Any] = {"policy": self.scheduler.policy.to_dict(),
                               "cues": [c.to_dict() for c in self.scheduler.cues]}
        for sink in self.sinks:
            sink_log = getattr(sink, "log", None)
            if isinstance(sink_log, list):
                doc[sink.name] = sink_log
            reason = getattr(sink, "reason", None)
            if isinstance(reason, str):
                doc[f"{sink.name}_backend"] = reason
        return doc


__all__ = ["RowRing", "RunStats", "SampleSource", "SensorStatus", "SessionRunner", "Sink", "TimeOrderMerger"]
