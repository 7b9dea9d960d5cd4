"""Haptic sink: a vibration pattern on the thoracic sensor when a rounding cue is issued.

The command bytes come from the protocol codec (:func:`imu_hinge.protocol.encode_command` of a
:class:`~imu_hinge.protocol.HapticCommand`); they are sent through an injected async
``write(data: bytes)`` (the BLE client's write to the control characteristic; a fake in tests).
With no writer (replay) the commands are logged as ``dry_run``: the log then shows what a live
session would have sent. The notify path is never blocked: a cue schedules the write as a task.
A failed write is logged, never raised into the session loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from imu_hinge.detection.rep_events import Event
from imu_hinge.feedback.policy import Cue
from imu_hinge.protocol import HapticCommand, encode_command

log = logging.getLogger(__name__)

Writer = Callable[[bytes], Awaitable[Any]]
"""``await write(data)`` sends one command to the thoracic sensor's control characteristic."""

DEFAULT_PATTERN = HapticCommand(intensity=220, on_ms=150, off_ms=100, repeats=2)
"""Two firm 150 ms pulses: noticeable through a shirt, short enough to end before the next rep."""


class HapticSink:
    """Sends :data:`DEFAULT_PATTERN` (or ``pattern``) for cues about ``faults``.

    ``log`` holds one JSON-ready entry per command: recording time ``time_s``, session wall
    time ``wall_s`` (s since the sink was made), the cue kind, the command fields and hex bytes,
    and ``status`` (``dry_run``, ``pending``, ``sent`` with ``write_ms``, or ``error: ...``).
    """

    name = "haptic"

    def __init__(self, write: Writer | None = None, *, pattern: HapticCommand = DEFAULT_PATTERN,
                 faults: Iterable[str] = ("lumbar_flexion",), kinds: Iterable[str] = ("concurrent", "end_of_rep"),
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self._write = write
        self.pattern = pattern
        self._data = encode_command(pattern)
        self.faults = frozenset(faults)
        self.kinds = frozenset(kinds)
        self._clock = clock
        self._t0 = clock()
        self._lock: asyncio.Lock | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.log: list[dict[str, Any]] = []

    def on_event(self, event: Event) -> None:
        """Core events need no buzz of their own: the policy's cues decide."""

    def on_cue(self, cue: Cue) -> None:
        if cue.kind not in self.kinds or not self.faults.intersection(cue.faults):
            return
        p = self.pattern
        entry: dict[str, Any] = {
            "time_s": round(cue.time_s, 6), "wall_s": round(self._clock() - self._t0, 6), "kind": cue.kind,
            "rep_index": cue.rep_index, "command": "haptic", "intensity": p.intensity, "on_ms": p.on_ms,
            "off_ms": p.off_ms, "repeats": p.repeats, "bytes_hex": self._data.hex(),
            "status": "dry_run" if self._write is None else "pending",
        }
        self.log.append(entry)
        if self._write is None:
            log.debug("haptic (dry run) at %.3f s: %s", cue.time_s, entry["bytes_hex"])
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            entry["status"] = "error: no running event loop"
            log.warning("haptic command not sent: no running event loop")
            return
        task = loop.create_task(self._send(entry))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, entry: dict[str, Any]) -> None:
        assert self._write is not None
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # one write at a time, in cue order
            t = self._clock()
            try:
                await self._write(self._data)
            except Exception as exc:  # a lost sensor must not stop the session
                entry["status"] = f"error: {type(exc).__name__}: {exc}"
                log.warning("haptic command failed: %s", exc)
                return
            entry["status"] = "sent"
            entry["write_ms"] = round(1000.0 * (self._clock() - t), 3)

    async def aclose(self, timeout_s: float = 2.0) -> None:
        """Wait (bounded) for writes still under way."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout_s)


__all__ = ["DEFAULT_PATTERN", "HapticSink", "Writer"]
