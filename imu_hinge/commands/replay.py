"""``imu-hinge replay RECORDING [--speed 1|4|max] [--gui] [--json OUT]``: a recording through the live path.

The samples go one by one through the same :class:`~imu_hinge.analysis.pipeline.HingePipeline` a live
session uses, so the reps and alerts are those of ``analyze``; the feedback policy and sinks
(terminal lines, haptic commands as a dry run, audio tones, the live window with ``--gui``)
react as they would live. ``--json`` adds the feedback actually issued.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from imu_hinge.analysis.data_quality import recording_quality
from imu_hinge.analysis.pipeline import AnalysisResult, pipeline_for
from imu_hinge.commands._session_cli import add_analysis_options, add_feedback_options, audio_sink
from imu_hinge.commands.analyze import build_params
from imu_hinge.detection.role_check import roles_look_swapped
from imu_hinge.detection.session_checks import session_warnings
from imu_hinge.errors import UsageError
from imu_hinge.extras import extra_for
from imu_hinge.feedback.haptic import HapticSink
from imu_hinge.feedback.policy import FeedbackPolicy, FeedbackScheduler
from imu_hinge.feedback.replay_source import ReplaySource, replay_status
from imu_hinge.feedback.session_runner import RowRing, SessionRunner, Sink
from imu_hinge.feedback.terminal import TerminalSink, summary_lines, threshold_line
from imu_hinge.jsonable import dumps
from imu_hinge.recording import load_recording


def _speed(text: str) -> float | None:
    if text.lower() == "max":
        return None
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"speed must be 1, 4, another positive factor, or max; got {text!r}") from None
    if not v > 0 or v != v or v == float("inf"):
        raise argparse.ArgumentTypeError(f"speed must be positive, got {text!r}")
    return v


def register(sub: Any) -> None:
    p = sub.add_parser("replay", help="play a recording through the live path (alerts, feedback, optional window)",
                       description="Replay a recording sample by sample through the live pipeline, with the feedback "
                                   "policy and sinks a live session uses. Same reps and alerts as analyze.")
    p.add_argument("recording", help="session recording or interchange CSV")
    p.add_argument("--speed", type=_speed, default=1.0, metavar="1|4|max",
                   help="playback speed: 1 = real time (default), 4 = four times faster, max = as fast as possible")
    p.add_argument("--gui", action="store_true", help="show the live window (falls back to the terminal without one)")
    p.add_argument("--json", metavar="OUT", help="write reps, alerts and the feedback issued as JSON")
    p.add_argument("--no-audio", action="store_true", help="no audio cues")
    p.add_argument("--no-haptic", action="store_true", help="do not log the haptic commands a live session would send")
    p.add_argument("--screenshot", metavar="PNG", help="with --gui: save the window as PNG at the end")
    p.add_argument("--redraw-hz", type=float, default=30.0, metavar="HZ", help="window redraw rate (<= 60, default 30)")
    p.add_argument("--quiet", action="store_true", help="no per-rep lines, only the summary")
    add_analysis_options(p)
    p.add_argument("--acc-unit", choices=("auto", "si", "g"), default="auto", help="accelerometer unit (CSV)")
    p.add_argument("--gyr-unit", choices=("auto", "si", "deg/s"), default="auto", help="gyroscope unit (CSV)")
    add_feedback_options(p)
    p.set_defaults(func=run)


def policy_from_args(args: argparse.Namespace) -> FeedbackPolicy:
    return FeedbackPolicy(mode=args.feedback_mode, schedule=args.schedule, fade_every_n=args.fade_every,
                          summary_every_n=args.summary_every, bandwidth_deg=args.bandwidth_deg,
                          hold_s=args.hold_ms / 1000.0, hysteresis_deg=args.hysteresis_deg)


def gui_unavailable() -> str | None:
    """Why a window cannot be shown here, or None. Qt is not imported to find out."""
    if os.environ.get("QT_QPA_PLATFORM"):
        return None
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return "no display (DISPLAY and WAYLAND_DISPLAY are unset; QT_QPA_PLATFORM=offscreen renders without one)"
    return None


def qt_unavailable(exc: ImportError) -> str:
    """Why the live window's import failed: the extra to install, or Qt's own error."""
    missing = extra_for(exc)
    return missing.message if missing else f"the live window cannot load Qt ({exc})"


def _check_out(path: str | None, what: str) -> None:
    if path and not Path(path).resolve().parent.is_dir():
        raise UsageError(f"cannot write {what} {path}: its folder does not exist")


def run(args: argparse.Namespace) -> int:
    params = build_params(args)
    policy = policy_from_args(args)
    if not 0 < args.redraw_hz <= 60:
        raise UsageError(f"--redraw-hz must be in (0, 60], got {args.redraw_hz}")
    _check_out(args.json, "JSON")
    _check_out(args.screenshot, "screenshot")
    rec = load_recording(args.recording, acc_unit=args.acc_unit, gyr_unit=args.gyr_unit)
    faults = params.detector.faults
    scheduler = FeedbackScheduler(policy, faults)
    sinks: list[Sink] = [] if args.quiet else [TerminalSink()]
    if not args.quiet:
        print(threshold_line(faults), flush=True)
    if not args.no_haptic:
        sinks.append(HapticSink(None))  # no sensor in a replay: log what a live session would send
    if not args.no_audio:
        sinks.append(audio_sink())
    ring = RowRing()
    pipeline, cal_warnings = pipeline_for(rec, params)
    runner = SessionRunner(pipeline, scheduler, sinks, ring)
    source = ReplaySource(rec, args.speed)
    gui_stats: dict[str, Any] | None = None
    reason = gui_unavailable() if args.gui else None
    if args.gui and reason is None:
        try:
            from imu_hinge.feedback import live_window
        except ImportError as exc:
            reason = qt_unavailable(exc)
    if args.gui and reason is None:
        from imu_hinge.feedback.qt_probe import qt_platform_problem

        reason = qt_platform_problem()  # a Qt platform that cannot load aborts the process: ask a child first
    if reason is not None:
        print(f"imu-hinge: warning: --gui: {reason}; replaying in the terminal only", file=sys.stderr)
    if args.gui and reason is None:
        res, gui_stats = _run_gui(live_window, runner, source, rec, args, faults.lumbar_threshold_deg,
                                  faults.lockout_extension_deg)
    else:
        res = asyncio.run(runner.run(source))
    quality, quality_warnings = recording_quality(rec)
    res.warnings = [*rec.warnings, *cal_warnings, *quality_warnings, *session_warnings(res)]
    res.quality = quality
    for w in res.warnings:
        print(f"imu-hinge: warning: {w}", file=sys.stderr)
    feedback = runner.feedback_json()
    for line in summary_lines(res, feedback):
        print(line)
    if args.json:
        _write_json(args, res, params.to_dict(), feedback, runner, source, gui_stats)
    return 0


def _run_gui(live_window: Any, runner: SessionRunner, source: ReplaySource, rec: Any, args: argparse.Namespace,
             threshold_deg: float, ext_deg: float) -> tuple[AnalysisResult, dict[str, Any]]:
    tasks: list[asyncio.Task[Any]] = []

    async def session(window: Any) -> AnalysisResult:
        task = asyncio.current_task()
        if task is not None:
            tasks.append(task)
        runner.sinks.append(window)
        result = await runner.run(source)
        window.set_finished(f"REPLAY FINISHED: {len(result.reps)} reps")
        if args.screenshot:
            window.save_screenshot(args.screenshot)
        if not live_window.headless_platform():
            print("replay finished: close the window (or press Ctrl-C) to exit", file=sys.stderr)
            await window.wait_closed()
        return result

    def on_sigint(window: Any) -> None:  # Ctrl-C: as in the terminal, the replay stops (exit 130, no traceback)
        if window.finished_text is not None:
            window.close()  # the replay is over and its summary is due: just close the window
        else:
            for task in tasks:
                task.cancel()

    try:
        res, window = live_window.run_with_window(
            session, runner.ring, replay_status(rec), threshold_deg=threshold_deg, extension_limit_deg=ext_deg,
            redraw_hz=args.redraw_hz, title=f"imu-hinge replay: {Path(args.recording).name}",
            calibration=lambda: runner.pipeline.calibration_phase, on_sigint=on_sigint)
    except asyncio.CancelledError:
        raise KeyboardInterrupt from None  # the CLI's one answer to Ctrl-C: "imu-hinge: interrupted", exit 130
    stats = window.redraw_stats()
    window.close()
    return res, stats


def _write_json(args: argparse.Namespace, res: AnalysisResult, params: dict[str, Any], feedback: dict[str, Any],
                runner: SessionRunner, source: ReplaySource, gui_stats: dict[str, Any] | None) -> None:
    doc: dict[str, Any] = {
        "recording": str(args.recording), "exercise": args.exercise,
        "speed": "max" if args.speed is None else args.speed,
        **res.to_json_dict(), "feedback": feedback, "roles_look_swapped": roles_look_swapped(res),
        "run": {**runner.stats.to_dict(), "max_lag_s": round(source.max_lag_s, 4)},
        "params": params,
    }
    if gui_stats is not None:
        doc["gui"] = gui_stats
    Path(args.json).write_text(dumps(doc, indent=1), encoding="utf-8")


__all__ = ["gui_unavailable", "policy_from_args", "register", "run"]
