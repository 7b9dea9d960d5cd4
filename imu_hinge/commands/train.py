"""``imu-hinge train``: a live set on both sensors (or emulated ones), with feedback, recorded as it goes.

Connects the sacrum and thoracic sensors, guides calibration in words and on screen (stand still
about 3 s; one slow hinge for the sagittal axis), then runs the set through the same pipeline as
``analyze`` and ``replay``: reps counted live with a verdict line each, alerts as they fire, the
feedback policy's cues (a vibration pattern on the thoracic sensor when lumbar flexion is held
beyond the threshold, audio tones, the live window), and a set summary at the end. Every sample
goes into a crash-safe session recording (``--out``, default ``train-YYYYmmdd-HHMMSS.ihr.csv`` in
the current folder) with the alerts, reps, haptic commands and link events. A sensor lost
mid-set is told (which, since when), the reps it misses are marked incomplete, and it reconnects
by itself. No display or no sound device: the set runs with the sinks that exist.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as _dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imu_hinge.analysis.data_quality import recording_quality
from imu_hinge.commands._link_cli import SIMULATED, add_link_options
from imu_hinge.commands._session_cli import add_analysis_options, add_feedback_options
from imu_hinge.commands.analyze import build_params
from imu_hinge.commands.filing import PersonFiling, recording_started_utc
from imu_hinge.commands.replay import _check_out, gui_unavailable, policy_from_args, qt_unavailable
from imu_hinge.commands.storeopts import add_db_argument
from imu_hinge.detection.role_check import SWAP_WARNING, roles_look_swapped
from imu_hinge.detection.session_checks import session_warnings
from imu_hinge.errors import ImuHingeError, RecordingNotFound, UsageError
from imu_hinge.feedback.terminal import summary_lines, threshold_line
from imu_hinge.jsonable import dumps
from imu_hinge.recording import read_session
from imu_hinge.samples import SENSOR_ROLES
from imu_hinge.store import file_sha256

if TYPE_CHECKING:  # the session needs the ble extra: imported when train runs, not for --help
    from imu_hinge.commands._train_session import TrainOutcome, TrainSession


def _lose(text: str) -> tuple[str, float, float]:
    try:
        role, span = text.split(":", 1)
        start, end = (float(v) for v in span.split("-", 1))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected ROLE:FROM-TO (e.g. thoracic:12-15), got {text!r}") from None
    if role not in SENSOR_ROLES or not 0 <= start < end:
        raise argparse.ArgumentTypeError(f"expected ROLE:FROM-TO with ROLE sacrum or thoracic and 0 <= FROM < TO, "
                                         f"got {text!r}")
    return role, start, end


def register(sub: Any) -> None:
    p = sub.add_parser("train", help="live set on both sensors: calibration guidance, reps, alerts, haptic feedback",
                       description="Connect both sensors (or emulated ones), guide calibration, then run the set with "
                                   "live rep verdicts, alerts and feedback, recording the session as it goes.")
    p.add_argument("--duration", type=float, metavar="S", help="seconds to stream (default: until Ctrl-C)")
    p.add_argument("--out", type=Path, metavar="REC.ihr.csv",
                   help="session recording to write (default: train-YYYYmmdd-HHMMSS.ihr.csv in the current folder)")
    p.add_argument("--json", metavar="OUT", help="write reps, alerts and the feedback issued (haptic commands with "
                                                 "their times) as JSON")
    p.add_argument("--person", metavar="NAME",
                   help="use the person's Lmax and thresholds from the store and file the session there at the end")
    add_db_argument(p)
    p.add_argument("--no-gui", action="store_true", help="no live window (terminal only)")
    p.add_argument("--haptic", action=argparse.BooleanOptionalAction, default=True,
                   help="vibrate the thoracic sensor on rounding cues (default: on)")
    p.add_argument("--no-audio", action="store_true", help="no audio cues")
    p.add_argument("--screenshot", metavar="PNG", help="save the live window as PNG at the end of the set")
    p.add_argument("--redraw-hz", type=float, default=30.0, metavar="HZ", help="window redraw rate (<= 60, default 30)")
    p.add_argument("--rate-hz", type=int, default=104, metavar="HZ", help="sample rate to ask for (default 104)")
    add_analysis_options(p)
    add_feedback_options(p)
    add_link_options(p)
    p.add_argument("--loop", action="store_true",
                   help="with --emulate RECORDING: play the recording again and again until Ctrl-C or --duration "
                        "(default: play it once, then the set ends; bare --emulate plays simulated hinges until "
                        "Ctrl-C)")
    p.add_argument("--emulate-lose", type=_lose, action="append", metavar="ROLE:FROM-TO",
                   help="with --emulate: take that emulated sensor out of range from FROM to TO s (session time; "
                        "repeatable), to see a sensor lost mid-set")
    p.set_defaults(func=run)


def default_out(now: _dt.datetime | None = None) -> Path:
    """``train-YYYYmmdd-HHMMSS.ihr.csv`` in the current folder."""
    return Path(f"train-{(now or _dt.datetime.now()):%Y%m%d-%H%M%S}.ihr.csv")


def _check(args: argparse.Namespace) -> Path:
    if args.duration is not None and not args.duration > 0:
        raise UsageError(f"--duration must be a positive number of seconds, got {args.duration}")
    if not 1 <= args.rate_hz <= 416:
        raise UsageError(f"--rate-hz must be 1..416 (protocol v1 maximum), got {args.rate_hz}")
    if not 0 < args.redraw_hz <= 60:
        raise UsageError(f"--redraw-hz must be in (0, 60], got {args.redraw_hz}")
    if args.emulate is not None and args.emulate != SIMULATED and not Path(args.emulate).is_file():
        raise RecordingNotFound("no such file; check the path (--emulate)", path=str(args.emulate))
    if args.loop and args.emulate is None:
        raise UsageError("--loop needs --emulate RECORDING (it replays an emulated recording)")
    if args.emulate_lose and args.emulate is None:
        raise UsageError("--emulate-lose needs --emulate (it takes an emulated sensor out of range)")
    out = args.out or default_out()
    _check_out(str(out), "the recording")
    if out.exists():
        raise UsageError(f"{out} exists; recordings are never overwritten: choose another --out")
    _check_out(args.json, "JSON")
    _check_out(args.screenshot, "screenshot")
    return out


def run(args: argparse.Namespace) -> int:
    from imu_hinge.commands._train_session import TrainSession  # needs the ble extra (cli.main names it when missing)

    out = _check(args)
    params = build_params(args)
    policy = policy_from_args(args)
    filing = PersonFiling(args) if args.person else None
    try:
        if filing is not None:
            params = filing.apply(params, args)
        session = TrainSession(args, params, policy, out=out, subject=filing.person.name if filing else None)
        print(threshold_line(params.detector.faults), flush=True)
        reason = None if args.no_gui else gui_unavailable()
        if not args.no_gui and reason is None:
            try:
                from imu_hinge.feedback import live_window  # noqa: F401
            except ImportError as exc:
                reason = qt_unavailable(exc)
        if not args.no_gui and reason is None:
            from imu_hinge.feedback.qt_probe import qt_platform_problem

            reason = qt_platform_problem()  # a Qt platform that cannot load aborts the process: ask a child first
        if reason is not None:
            print(f"imu-hinge: warning: no live window: {reason}; training in the terminal only", file=sys.stderr)

        def done(outcome: TrainOutcome) -> None:
            _report(args, session, outcome, out, filing)

        if args.no_gui or reason is not None:
            done(asyncio.run(session.run()))
        else:
            session.run_with_window(done)
    finally:
        if filing is not None:
            filing.close()
    return 0


def _report(args: argparse.Namespace, session: TrainSession, outcome: TrainOutcome, out: Path,
            filing: PersonFiling | None) -> None:
    """Set summary on the terminal, ``--json``, and the store (``--person``)."""
    res = outcome.result
    if not res.quality:  # the per-sensor data quality analyze reports (and files), from the recording just written
        try:
            res.quality, _ = recording_quality(read_session(out))
        except ImuHingeError as exc:
            res.warnings.append(f"data quality not assessed: {exc.message}")
    if outcome.recording_error:
        res.warnings.append(f"the recording stopped early: {outcome.recording_error}")
    res.warnings.extend(session_warnings(res))
    for w in res.warnings:
        print(f"imu-hinge: warning: {w}", file=sys.stderr)
    feedback = session.runner.feedback_json()
    for line in summary_lines(res, feedback):  # says it too when the roles look swapped
        print(line)
    if roles_look_swapped(res):
        res.warnings.append(SWAP_WARNING)
    for o in outcome.outages:
        back = "end of the set" if o["back_s"] is None else f"{o['back_s']:.2f} s"
        print(f"sensor lost: {o['sensor']} from {o['lost_s']:.2f} s to {back}")
    incomplete = [r.index for r in res.reps if not r.complete]
    if incomplete:
        numbers = ", ".join(f"#{i}" for i in incomplete)
        print(f"reps marked incomplete (a sensor gap overlaps them): {numbers}")
    n = outcome.extra.get("samples_recorded", {})
    print(f"recorded {out} ({', '.join(f'{r} {k} samples' for r, k in n.items())})")
    filed = None
    if filing is not None:
        filed = filing.store.file_session(filing.person, filing.exercise, res, str(out.resolve()), kind="train",
                                          params=session.params, started_utc=recording_started_utc(outcome.metadata),
                                          range_calibration_id=filing.range_calibration_id,
                                          content_sha256=file_sha256(out))
        print(filing.filed_text(filed, len(res.reps)))
    if args.json:
        doc: dict[str, Any] = {
            "recording": str(out), "exercise": args.exercise, "person": args.person, "filed_session": filed,
            "duration_s": args.duration or (round(session.live.span_s, 3) if session.live else None),
            **res.to_json_dict(), "feedback": feedback,
            "roles_look_swapped": roles_look_swapped(res), "sensor_outages": outcome.outages,
            "guidance": [{"time_s": round(t, 3), "text": text} for t, text in session.guide.lines],
            "link": outcome.link_stats, "emulated_sensors": outcome.emulated_sensors,
            "run": session.runner.stats.to_dict(), **({"gui": outcome.extra["gui"]} if "gui" in outcome.extra else {}),
            "params": session.params.to_dict(),
        }
        Path(args.json).write_text(dumps(doc, indent=1), encoding="utf-8")


__all__ = ["default_out", "register", "run"]
