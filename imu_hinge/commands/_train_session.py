"""The live set behind ``imu-hinge train``: sensors -> the one pipeline -> policy -> sinks, recorded as it goes.

:class:`TrainSession` wires the pieces: :func:`~._link_cli.open_link` (the platform's BLE or
emulated sensors), :class:`~imu_hinge.sources.ble.BleSource`, a
:class:`~imu_hinge.feedback.live_ble_source.LiveBleSource` feeding the shared
:class:`~imu_hinge.feedback.session_runner.SessionRunner` (time order restored across the two
sensors' packets), the :class:`~imu_hinge.recording.SessionWriter`, and the sinks: haptic (the
pattern written to the thoracic sensor), terminal, audio, calibration guidance, recording events,
and the live window when there is one. The haptic sink runs first; every other sink works after
the haptic write is issued (:class:`~imu_hinge.feedback.live_ble_source.AfterHaptic`).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imu_hinge.analysis.analysis_params import AnalysisParams
from imu_hinge.analysis.pipeline import LIVE_CALIBRATION, AnalysisResult, HingePipeline
from imu_hinge.commands._link_cli import SIMULATED, LinkContext, describe, find_roles, open_link
from imu_hinge.commands._session_cli import audio_sink
from imu_hinge.errors import RecordingWriteError, SensorLinkError
from imu_hinge.feedback.guidance import CalibrationGuide
from imu_hinge.feedback.haptic import HapticSink
from imu_hinge.feedback.live_ble_source import AfterHaptic, LiveBleSource, RecordingSink, session_metadata
from imu_hinge.feedback.policy import Cue, FeedbackPolicy, FeedbackScheduler
from imu_hinge.feedback.session_runner import RowRing, SensorStatus, SessionRunner, Sink, TimeOrderMerger
from imu_hinge.feedback.terminal import TerminalSink
from imu_hinge.jsonable import jsonable
from imu_hinge.recording import SessionWriter
from imu_hinge.samples import SENSOR_ROLES
from imu_hinge.sensor_calibration.applying import SensorCalibrator
from imu_hinge.sources.ble import BleSource
from imu_hinge.sources.sensor_link import LinkOptions

HAPTIC_ROLE = "thoracic"
"""The sensor that buzzes for rounding (docs/detector.md: haptic on the thoracic unit)."""


@dataclass
class TrainOutcome:
    """What one set produced (times in s since the source started, the recording's time base)."""

    result: AnalysisResult
    metadata: dict[str, Any]
    link_stats: dict[str, dict[str, Any]]
    outages: list[dict[str, Any]]
    emulated_sensors: dict[str, dict[str, Any]] | None = None
    """Per emulated sensor: the haptic commands it received, with their times."""
    recording_error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _on_sigint(callback: Callable[[], None]) -> Callable[[], None]:
    """Ctrl-C ends the set cleanly (summary and files written); returns the undo."""
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGINT, callback)
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, Windows, a Qt loop
        return lambda: None

    def undo() -> None:
        loop.remove_signal_handler(signal.SIGINT)
    return undo


class TrainSession:
    """One live set. ``args`` are ``train``'s options; ``extra_sinks`` run before all others (probes)."""

    def __init__(self, args: argparse.Namespace, params: AnalysisParams, policy: FeedbackPolicy, *, out: Path,
                 subject: str | None = None, extra_sinks: Sequence[Sink] = ()) -> None:
        self.args, self.params, self.out, self.subject = args, params, out, subject
        self.pipeline = HingePipeline(params)
        self.scheduler = FeedbackScheduler(policy, params.detector.faults)
        self.ring = RowRing()
        kind = "emulated" if args.emulate is not None else "ble"
        self.status = {role: SensorStatus(role, source=kind) for role in SENSOR_ROLES}
        self.guide = CalibrationGuide(self.pipeline, self.say)
        self.haptic = HapticSink(self._write_haptic) if args.haptic else None
        sinks: list[Sink] = list(extra_sinks)
        if self.haptic is not None:
            sinks.append(self.haptic)
        sinks.append(AfterHaptic(TerminalSink()))
        if not args.no_audio:
            sinks.append(AfterHaptic(audio_sink()))
        sinks.append(AfterHaptic(self.guide))
        # the merger's wait absorbs wall-clock jitter between the sensors' notifications; an emulation
        # played n times faster than real time needs n times the data-time wait for the same wall time
        speed = args.emulate_speed if args.emulate is not None and args.emulate_speed else 1.0
        merger = TimeOrderMerger(max_wait_s=TimeOrderMerger.WAIT_S * max(1.0, speed))
        self.runner = SessionRunner(self.pipeline, self.scheduler, sinks, self.ring, merger=merger)
        self.source: BleSource | None = None
        self.live: LiveBleSource | None = None
        self.stop = asyncio.Event()
        """Set to end the set cleanly (Ctrl-C, the window closed)."""
        self.ask: Callable[[str], str] | None = input if sys.stdin is not None and sys.stdin.isatty() else None
        """Asks which sensor plays a role no sensor has (a terminal's ``input``; ``None``: never asks)."""

    @staticmethod
    def say(text: str) -> None:
        print(text, flush=True)

    async def _write_haptic(self, data: bytes) -> None:
        if self.source is None:
            raise SensorLinkError("the sensors are not connected", role=HAPTIC_ROLE)
        await self.source.write_control(HAPTIC_ROLE, data)

    # -- the set --------------------------------------------------------------------------
    async def run(self) -> TrainOutcome:
        args = self.args
        # without --duration simulated hinges loop (a 60 s simulation: made in about a second, not ten)
        async with open_link(args, duration_s=args.duration or 30.0) as ctx:
            if (line := describe(ctx, args)) is not None:
                print(line, file=sys.stderr)
            self.say("connecting to the sacrum and thoracic sensors ...")
            options = LinkOptions(rate_hz=args.rate_hz, scan_timeout_s=args.timeout)
            found = await find_roles(ctx, args, SENSOR_ROLES, self.ask)  # sensors without a role: ask which
            async with BleSource(backend=ctx.backend, clock=ctx.clock, options=options, found=found,
                                 assignments=ctx.assignments) as source:
                self.source = source
                try:
                    return await self._stream(ctx, source)
                finally:
                    self.source = None

    def _no_motor(self, source: BleSource) -> None:
        """A thoracic sensor without a motor the host can drive: cues go to sound and screen (said once)."""
        link = source.links.get(HAPTIC_ROLE)
        if link is None or getattr(link, "has_motor", True) or not self.args.haptic:
            return
        found = link.found
        what = f"{found.name or found.brand} ({found.address})" if found else "it"
        self.say(f"note: the {HAPTIC_ROLE} sensor, {what}, has no vibration motor imu-hinge can drive: cues go "
                 "to sound and screen" + (" (screen only: --no-audio)" if self.args.no_audio else ""))
        if self.haptic is not None and self.haptic in self.runner.sinks:
            self.runner.sinks.remove(self.haptic)
        self.haptic = None

    async def _stream(self, ctx: LinkContext, source: BleSource) -> TrainOutcome:
        args = self.args
        self._no_motor(source)
        calibrator = SensorCalibrator.from_ids(
            {role: (link.found.address if link.found else None) for role, link in source.links.items()})
        meta = session_metadata(source, calibrator, now_s=ctx.clock.now(), subject=self.subject, exercise=args.exercise,
                                calibration=LIVE_CALIBRATION,  # replays calibrate as this session did
                                link={"backend": source.backend.name, "emulated": ctx.emulated,
                                      "mtu": {r: lk.mtu for r, lk in source.links.items()}},
                                session={"command": "train", "feedback_policy": self.scheduler.policy.to_dict(),
                                         "lumbar_threshold_deg": self.params.detector.faults.lumbar_threshold_deg})
        writer = SessionWriter().open(self.out, meta)
        duration_s, once = args.duration, ""
        if duration_s is None and ctx.emulated and args.emulate != SIMULATED and not getattr(args, "loop", False):
            # play the recording once: the set ends where the shorter track ends (session time >= motion time)
            duration_s = min(len(track) / track.rate_hz for track in ctx.emulator.motion.values())
            once = f" until the recording ends ({duration_s:.0f} s; --loop plays it again and again)"
        live = self.live = LiveBleSource(source, duration_s=duration_s, calibrator=calibrator, writer=writer,
                                         status=self.status, say=self.say, poll=self.guide.poll, stop=self.stop)
        self.runner.sinks.append(AfterHaptic(RecordingSink(live, self.haptic.log if self.haptic else None)))
        faults = [asyncio.ensure_future(self._lose(ctx, source, *lose)) for lose in args.emulate_lose or ()]
        names = ", ".join(f"{r} {lk.found.address if lk.found else '?'}" for r, lk in source.links.items())
        self.say(f"connected ({names}); recording to {self.out}"
                 + (f" for {args.duration:g} s" if args.duration else once or " (Ctrl-C ends the set)"))
        self.guide.start(ctx.clock.now() - source.t0_s)
        undo = _on_sigint(self.stop.set)
        status = "aborted"
        try:
            result = await self.runner.run(live)
            status = "ok"
        finally:
            undo()
            for task in faults:
                task.cancel()
            await asyncio.gather(*faults, return_exceptions=True)
            link_stats = jsonable(source.stats(), ndigits=3)
            try:
                if live.writer is not None:
                    writer.write_event("note", ctx.clock.now() - source.t0_s, message="link statistics",
                                       stats=link_stats)
                writer.close(status)
            except RecordingWriteError as exc:
                live.write_error = live.write_error or str(exc)
        return TrainOutcome(result, writer.metadata, link_stats, live.outages, self._emulated(ctx, source),
                            live.write_error, {"samples_recorded": dict(writer.samples_written)})

    async def _lose(self, ctx: LinkContext, source: BleSource, role: str, start_s: float, end_s: float) -> None:
        """``--emulate-lose``: take an emulated sensor out of range from ``start_s`` to ``end_s`` (session time)."""
        sensor = ctx.emulator.sensors[role]
        await ctx.clock.sleep_until(source.t0_s + start_s)
        await sensor.disappear()
        await ctx.clock.sleep_until(source.t0_s + end_s)
        await sensor.reappear()

    @staticmethod
    def _emulated(ctx: LinkContext, source: BleSource) -> dict[str, dict[str, Any]] | None:
        if not ctx.emulated:
            return None
        out = {}
        for role, sensor in ctx.emulator.sensors.items():
            fw = sensor.firmware
            out[role] = {"haptic_received": [{"time_s": round(t - source.t0_s, 6), "intensity": c.intensity,
                                              "on_ms": c.on_ms, "off_ms": c.off_ms, "repeats": c.repeats}
                                             for t, c in fw.haptic_log],
                         "connections": sensor.connections}
        return out

    # -- with the live window -------------------------------------------------------------------
    def run_with_window(self, on_done: Callable[[TrainOutcome], None]) -> TrainOutcome:
        """The set with the live window on a qasync loop (closing it ends the set); ``on_done`` reports before
        the window waits to be closed."""
        from imu_hinge.feedback import live_window

        args = self.args

        async def session(window: Any) -> TrainOutcome:
            qapp = live_window.QApplication  # static settings of the one application
            quit_on_close.append(qapp.quitOnLastWindowClosed())
            qapp.setQuitOnLastWindowClosed(False)  # closing the window ends the set, not the loop under it
            self.runner.sinks.append(AfterHaptic(window))

            def show(text: str) -> None:
                window.on_cue(Cue(self.live.latest_s if self.live else 0.0, "guidance", 0, (), None, text))
                window.setWindowTitle(f"imu-hinge train: {text}")

            async def end_on_close() -> None:  # closing the window ends the set (cleanly, as Ctrl-C does)
                while window.isVisible():
                    await asyncio.sleep(0.2)
                self.stop.set()

            self.guide.show = show
            watcher = asyncio.ensure_future(end_on_close())
            try:
                outcome = await self.run()
            finally:
                watcher.cancel()
            await asyncio.sleep(0)
            n_reps = len(outcome.result.reps)
            window.set_finished(f"SET FINISHED: {n_reps} rep{'s' if n_reps != 1 else ''}"
                                + ("" if interrupted or live_window.headless_platform() else
                                   ": close the window to exit"))
            window.setWindowTitle("imu-hinge train: set finished")
            if args.screenshot:
                window.save_screenshot(args.screenshot)
            outcome.extra["gui"] = window.redraw_stats()
            on_done(outcome)
            if not interrupted and not live_window.headless_platform():
                print("set finished: close the window (or press Ctrl-C) to exit", file=sys.stderr)
                await window.wait_closed()
            return outcome

        interrupted: list[bool] = []

        def on_sigint(window: Any) -> None:  # Ctrl-C ends the set and the program, window and all
            interrupted.append(True)
            self.stop.set()
            if window.finished_text is not None:
                window.close()

        faults = self.params.detector.faults
        quit_on_close: list[bool] = []
        outcome, window = live_window.run_with_window(
            session, self.ring, self.status, threshold_deg=faults.lumbar_threshold_deg,
            extension_limit_deg=faults.lockout_extension_deg, redraw_hz=args.redraw_hz,
            title="imu-hinge train", on_sigint=on_sigint, calibration=lambda: self.pipeline.calibration_phase)
        live_window.QApplication.setQuitOnLastWindowClosed(quit_on_close[0])
        window.close()
        return outcome


__all__ = ["HAPTIC_ROLE", "TrainOutcome", "TrainSession"]
