"""The BLE source as a :class:`~.session_runner.SessionRunner` source, recording as it goes (``train``).

:class:`LiveBleSource` reads a started :class:`~imu_hinge.sources.ble.BleSource` and yields each
notification's samples (sensor calibration applied, as ``record`` does) to the runner. After the
runner has processed a batch it first lets the loop run once, so a haptic write that batch caused
is issued before anything else, then appends the batch to the :class:`~imu_hinge.recording.SessionWriter`
with the events of that moment (alerts, reps, haptic commands, link events, guidance lines).
Link events update the per-sensor :class:`~.session_runner.SensorStatus` (the window's status
lines) and are told in words: which sensor was lost and since when, when it came back. A timer
flushes the recording (crash-safe) and refreshes battery and drop rate even when no data comes.
A recording that cannot be written (disk full) is reported once; the session goes on.

:class:`AfterHaptic` wraps a sink so that its work runs after the haptic write is issued.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

import numpy as np

from imu_hinge.detection.rep_events import CalibrationDone, Event, FaultRaised, RepCompleted
from imu_hinge.errors import RecordingWriteError
from imu_hinge.feedback.policy import Cue
from imu_hinge.feedback.session_runner import SensorStatus, Sink
from imu_hinge.recording import SessionWriter, build_metadata, sensor_metadata
from imu_hinge.samples import ImuSample
from imu_hinge.sensor_calibration.applying import SensorCalibrator
from imu_hinge.sources.ble import BleSource
from imu_hinge.sources.link_events import LinkEvent, SampleBatch

log = logging.getLogger(__name__)


def session_metadata(source: BleSource, calibrator: SensorCalibrator, *, now_s: float, **extra: Any) -> dict[str, Any]:
    """Recording metadata of a live session: each sensor's info, id and applied calibration file."""
    sensors = {}
    for role, link in source.links.items():
        address = link.found.address if link.found else None
        name = link.found.name if link.found else None
        sensors[role] = sensor_metadata(link.info, address=address, name=name, sensor_id=address,
                                        calibration=calibrator.reference(role))
        sensors[role]["battery_percent"] = link.battery_percent
        if link.found is not None and link.found.brand != "imu-hinge":  # another brand (sources/brands.py)
            sensors[role]["brand"] = link.found.brand
    return build_metadata(sensors, time_origin_unix_s=time.time() - (now_s - source.t0_s), **extra)


class LiveBleSource:
    """Async iterator of sample batches from ``source`` until ``duration_s`` (host clock) or ``stop``.

    ``writer``: the open recording (or None); ``status``: role -> :class:`SensorStatus` to keep
    current; ``say``: one line for the lifter; ``poll(time_s)``: called between batches (guidance).
    After the run: ``outages`` [{sensor, lost_s, back_s}], ``write_error`` (or None).
    """

    def __init__(self, source: BleSource, *, duration_s: float | None = None,
                 calibrator: SensorCalibrator | None = None, writer: SessionWriter | None = None,
                 status: Mapping[str, SensorStatus] | None = None, say: Callable[[str], None] = print,
                 poll: Callable[[float], None] | None = None, stop: asyncio.Event | None = None,
                 tick_s: float = 0.25) -> None:
        self.source = source
        self.duration_s = duration_s
        self.calibrator = calibrator or SensorCalibrator({})
        self.writer = writer
        self.status = dict(status or {})
        self.say = say
        self.poll = poll
        self.stop = stop or asyncio.Event()
        self.tick_s = tick_s
        self.outages: list[dict[str, Any]] = []
        self.lost_since: dict[str, float] = {}
        self.write_error: str | None = None
        self.last_batch: SampleBatch | None = None
        """The notification the core is processing (or processed last)."""
        self.latest_s = 0.0
        """Session time of the newest sample (0 before any; the session's 0 is before the scan and connect)."""
        self.first_s: float | None = None
        """Session time of the first sample (None before any)."""
        self._events: list[tuple[str, float, dict[str, Any]]] = []

    @property
    def span_s(self) -> float:
        """Seconds from the first sample to the newest: the set's length, without the scan and connect
        before it (which take longer on a busy host: they run in real time even with emulated sensors)."""
        return 0.0 if self.first_s is None else self.latest_s - self.first_s

    # -- what other sinks hand in for the recording -------------------------------------------
    def note_event(self, kind: str, time_s: float, **fields: Any) -> None:
        """Queue an event for the recording (written after the haptic write, with the next samples)."""
        if self.writer is not None:
            self._events.append((kind, time_s, fields))

    def recording_sink(self) -> RecordingSink:
        return RecordingSink(self)

    # -- iteration ------------------------------------------------------------------------------
    def __aiter__(self) -> AsyncIterator[Sequence[ImuSample]]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Sequence[ImuSample]]:
        for st in self.status.values():
            st.connected = st.role in self.source.links
        gen = self.source.items(self.duration_s)
        stopped = asyncio.ensure_future(self.stop.wait())
        ticker = asyncio.ensure_future(self._tick())
        try:
            while True:
                nxt = asyncio.ensure_future(gen.__anext__())
                await asyncio.wait((nxt, stopped), return_when=asyncio.FIRST_COMPLETED)
                if not nxt.done():  # stopped (Ctrl-C): end the set cleanly
                    nxt.cancel()
                    await asyncio.gather(nxt, return_exceptions=True)
                    break
                try:
                    item = nxt.result()
                except StopAsyncIteration:
                    break
                if isinstance(item, SampleBatch):
                    acc, gyr = self.calibrator(item.sensor, item.acc_m_s2, item.gyr_rad_s)
                    self.last_batch = item
                    self.latest_s = max(self.latest_s, float(item.time_s[-1]))
                    if self.first_s is None or item.time_s[0] < self.first_s:
                        self.first_s = float(item.time_s[0])
                    yield [ImuSample(t, item.sensor, (a[0], a[1], a[2]), (g[0], g[1], g[2]))
                           for t, a, g in zip(item.time_s.tolist(), acc.tolist(), gyr.tolist(), strict=True)]
                    await asyncio.sleep(0)  # the haptic write this batch caused goes out before any file I/O
                    calibrated = self.calibrator.calibration(item.sensor) is not None
                    self._record(item, acc if calibrated else None, gyr if calibrated else None)
                else:
                    self._link_event(item)
                    self._record(None)
                if self.poll is not None:
                    self.poll(self.latest_s)
        finally:
            stopped.cancel()
            ticker.cancel()
            await asyncio.gather(stopped, ticker, return_exceptions=True)
            await gen.aclose()
            now = self.source.clock.now() - self.source.t0_s
            for role, since in self.lost_since.items():
                self.outages.append({"sensor": role, "lost_s": since, "back_s": None})
                self.note_event("note", now, sensor=role, message=f"{role}: still lost when the session ended")
            self._record(None)

    def _record(self, batch: SampleBatch | None, acc: np.ndarray | None = None, gyr: np.ndarray | None = None) -> None:
        writer = self.writer
        if writer is None:
            return
        try:
            if batch is not None:
                raw, si = batch.record_columns()
                if acc is not None and gyr is not None:
                    si = {"acc_m_s2": acc, "gyr_rad_s": gyr}
                writer.write_samples(batch.sensor, batch.time_s, seq=batch.seq, raw=raw,
                                     device_time_us=batch.device_time_us, host_time_s=batch.host_time_s,
                                     flags=batch.flags, **si)
            for kind, t, fields in self._events:
                writer.write_event(kind, t, **fields)
            self._events.clear()
        except RecordingWriteError as exc:
            self._write_failed(exc)

    def _write_failed(self, exc: RecordingWriteError) -> None:
        self.writer, self.write_error = None, str(exc)
        self._events.clear()
        self.say(f"warning: the recording stopped: {exc}; the set goes on without it")

    def _link_event(self, ev: LinkEvent) -> None:
        role, t = ev.sensor, round(ev.time_s, 3)  # one rounding: the lines told and the JSON outages agree
        st = self.status.get(role)
        if ev.kind == "disconnect":
            self.lost_since[role] = t
            if st is not None:
                st.connected, st.source = False, f"lost at {t:.1f} s"
            self.say(f"{t:7.2f} s  {role} sensor LOST (since {t:.2f} s): the set goes on; reps while it is away are "
                     "marked incomplete; reconnecting by itself")
        elif ev.kind == "reconnect":
            since = self.lost_since.pop(role, math.nan)
            self.outages.append({"sensor": role, "lost_s": since, "back_s": t})
            if st is not None:
                st.connected, st.source = True, f"back at {t:.1f} s"
            self.say(f"{t:7.2f} s  {role} sensor back (lost since {since:.2f} s, {t - since:.1f} s away)")
        elif ev.kind == "connected":
            if st is not None:
                st.connected = True
        elif ev.kind == "gap" and ev.detail.get("duration_s", 0.0) < 0.1:
            pass  # a few samples: counted in the drop rate, not worth a line
        else:
            self.say(f"{t:7.2f} s  {ev.message}")
        if ev.kind != "gap":  # the writer marks gaps itself, from the sequence numbers
            self.note_event(ev.kind, t, sensor=role, message=ev.message, **ev.detail)

    async def _tick(self) -> None:
        """Flush the recording and refresh the status lines, also while no data comes."""
        while True:
            await asyncio.sleep(self.tick_s)
            if self.writer is not None:
                try:
                    self.writer.flush_if_due()
                except RecordingWriteError as exc:
                    self._write_failed(exc)
            for role, link in self.source.links.items():
                st = self.status.get(role)
                if st is None:
                    continue
                dec = link.decoder
                st.battery_pct = None if link.battery_percent is None else float(link.battery_percent)
                total = dec.samples + dec.missing
                st.drop_rate = dec.missing / total if total else None


class RecordingSink:
    """Writes the session's alerts, reps, haptic commands and calibration into the recording (as events)."""

    name = "recording"

    def __init__(self, live: LiveBleSource, haptic_log: list[dict[str, Any]] | None = None) -> None:
        self.live = live
        self.haptic_log = haptic_log
        self._haptic_seen = 0

    def on_event(self, event: Event) -> None:
        if isinstance(event, FaultRaised):
            self.live.note_event("alert", event.time_s, fault=event.fault, value_deg=round(event.value_deg, 3),
                                 rep_index=event.rep_index)
        elif isinstance(event, RepCompleted):
            self.live.note_event("rep", event.time_s, **event.rep.to_dict())
        elif isinstance(event, CalibrationDone):
            self.live.note_event("note", event.time_s, message="calibrated", stand_start_s=event.stand_start_s,
                                 stand_end_s=event.stand_end_s)

    def on_cue(self, cue: Cue) -> None:
        log_ = self.haptic_log
        if log_ is not None:
            for entry in log_[self._haptic_seen:]:
                fields = {k: v for k, v in entry.items() if k not in ("time_s", "kind", "status", "write_ms")}
                self.live.note_event("haptic", entry["time_s"], cue_kind=entry["kind"], **fields)
            self._haptic_seen = len(log_)

    async def aclose(self) -> None:
        """Events are written by the source."""


class AfterHaptic:
    """A sink whose calls run on the next loop turns, in order: after the haptic write a cue issues."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.name = sink.name

    def _later(self, fn: Callable[[Any], None], arg: Any) -> None:
        def call() -> None:
            try:
                fn(arg)
            except Exception:  # as the runner does: a broken sink must not end the session
                log.exception("feedback sink %s failed", self.name)
        asyncio.get_running_loop().call_soon(call)

    def on_event(self, event: Event) -> None:
        self._later(self.sink.on_event, event)

    def on_cue(self, cue: Cue) -> None:
        self._later(self.sink.on_cue, cue)

    async def aclose(self) -> None:
        await asyncio.sleep(0)  # let the calls already scheduled run first
        await self.sink.aclose()

    def __getattr__(self, name: str) -> Any:  # log, reason, ... of the wrapped sink
        if name == "sink":
            raise AttributeError(name)
        return getattr(self.sink, name)


__all__ = ["AfterHaptic", "LiveBleSource", "RecordingSink", "session_metadata"]
