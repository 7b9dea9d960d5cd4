"""``imu-hinge record OUT [--duration S]``: stream both sensors into a session recording.

The recording (``OUT``, the session format of :mod:`imu_hinge.recording.format`, a superset of the
interchange CSV) keeps every sample with its sequence number, device clock, fitted host time,
arrival time, flags and raw LSB; gaps stay gaps (a ``gap`` event, never zero-filled), and link
events (disconnect, reconnect, dropped notifications) are written where they happened. Ctrl-C
ends the recording cleanly. ``imu-hinge export OUT --csv X.csv`` gives the interchange layout.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from imu_hinge.commands._link_cli import SIMULATED, add_link_options, describe, open_link
from imu_hinge.errors import UsageError
from imu_hinge.jsonable import jsonable


def register(sub: Any) -> None:
    p = sub.add_parser("record", help="record both sensors into a session file (.ihr.csv)",
                       description="Connect to both sensors, stream, and write a crash-safe session recording with "
                                   "sequence numbers, device clocks, fitted times, gaps and link events.")
    p.add_argument("out", type=Path, metavar="OUT", help="session recording to write (name it *.ihr.csv)")
    p.add_argument("--duration", type=float, metavar="S", help="seconds to record (default: until Ctrl-C)")
    p.add_argument("--overwrite", "--force", action="store_true", help="replace OUT if it exists (default: refuse)")
    p.add_argument("--rate-hz", type=int, default=104, metavar="HZ", help="sample rate to ask for (default 104)")
    p.add_argument("--quiet", action="store_true", help="no link events on the terminal")
    add_link_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.duration is not None and not args.duration > 0:
        raise UsageError(f"--duration must be a positive number of seconds, got {args.duration}")
    if not args.out.resolve().parent.is_dir():
        raise UsageError(f"cannot write {args.out}: its folder does not exist")
    if args.out.exists() and not args.overwrite:
        raise UsageError(f"{args.out} exists; pass --overwrite to replace it")
    if not 1 <= args.rate_hz <= 416:
        raise UsageError(f"--rate-hz must be 1..416 (protocol v1 maximum), got {args.rate_hz}")
    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    from imu_hinge.feedback.live_ble_source import session_metadata
    from imu_hinge.recording import SessionWriter
    from imu_hinge.sensor_calibration.applying import SensorCalibrator
    from imu_hinge.sources.ble import BleSource
    from imu_hinge.sources.sensor_link import LinkOptions

    options = LinkOptions(rate_hz=args.rate_hz, scan_timeout_s=args.timeout)
    # without --duration simulated hinges loop (a 60 s simulation: made in about a second, not ten)
    async with open_link(args, duration_s=args.duration or 30.0) as ctx:
        if (line := describe(ctx, args)) is not None:
            print(line, file=sys.stderr)
        if args.duration is None and ctx.emulated and args.emulate != SIMULATED:  # play the recording once
            args.duration = min(len(track) / track.rate_hz for track in ctx.emulator.motion.values())
        async with BleSource(backend=ctx.backend, clock=ctx.clock, options=options,
                             assignments=ctx.assignments) as source:
            # the latest calibration file of each sensor is applied as it streams, and named in the metadata
            calibrator = SensorCalibrator.from_ids(
                {role: (link.found.address if link.found else None) for role, link in source.links.items()})
            meta = session_metadata(source, calibrator, now_s=ctx.clock.now(),
                                    link={"backend": source.backend.name, "emulated": ctx.emulated,
                                          "mtu": {r: lk.mtu for r, lk in source.links.items()}})
            writer = SessionWriter(overwrite=args.overwrite).open(args.out, meta)
            status = "ok"
            try:
                print(f"recording to {args.out}" + (f" for {args.duration:g} s" if args.duration else
                                                    " (Ctrl-C to stop)"), file=sys.stderr)
                await _stream(source, writer, args.duration, args.quiet, calibrator)
            except (asyncio.CancelledError, KeyboardInterrupt):
                status = "interrupted"
                raise
            finally:
                stats = source.stats()
                writer.write_event("note", ctx.clock.now() - source.t0_s, message="link statistics",
                                   stats=jsonable(stats, ndigits=3))
                writer.close(status)
    _summary(args.out, writer, stats)
    return 0


async def _stream(source: Any, writer: Any, duration_s: float | None, quiet: bool, calibrator: Any) -> None:
    """Write items until each sensor has sent ``duration_s`` worth of sample indices (by its own clock and
    rate, counting gaps) from its first sample; without a duration, until cancelled."""
    from imu_hinge.sources.link_events import SampleBatch

    stop_seq: dict[str, int] = {}
    done: set[str] = set()
    limit = None if duration_s is None else duration_s + 10.0  # host-clock guard if a sensor never comes back
    async for item in source.items(limit):
        if isinstance(item, SampleBatch):
            if item.sensor in done:
                continue
            if duration_s is not None:
                rate_hz = source.links[item.sensor].decoder.info.rate_hz
                end = stop_seq.setdefault(item.sensor, int(item.seq[0]) + round(duration_s * rate_hz))
                if item.seq[-1] >= end:
                    done.add(item.sensor)
                    item = item.take(item.seq < end)
            if len(item):
                raw, si = item.record_columns()  # uncalibrated: SI = raw * scale, or the floats a sensor sent
                if calibrator.calibration(item.sensor) is not None:
                    si = dict(zip(("acc_m_s2", "gyr_rad_s"),
                                  calibrator(item.sensor, item.acc_m_s2, item.gyr_rad_s), strict=True))
                writer.write_samples(item.sensor, item.time_s, seq=item.seq, raw=raw,
                                     device_time_us=item.device_time_us, host_time_s=item.host_time_s,
                                     flags=item.flags, **si)
            if len(done) == len(source.links):
                return
        else:
            _event(writer, item, quiet)
        writer.flush_if_due()


def _event(writer: Any, event: Any, quiet: bool) -> None:
    if event.kind != "gap":  # the writer marks gaps itself, from the sequence numbers
        writer.write_event(event.kind, event.time_s, sensor=event.sensor, message=event.message, **event.detail)
    if not quiet:
        print(f"{event.time_s:8.2f} s  {event.message}", file=sys.stderr)


def _summary(out: Path, writer: Any, stats: dict[str, dict[str, Any]]) -> None:
    parts = []
    for role, s in stats.items():
        parts.append(f"{role} {writer.samples_written.get(role, 0)} samples at {s['rate_hz']:g} Hz, "
                     f"{s['missing']} missing in {s['gaps']} gap(s), {s['dropped_notifications']} dropped by the host, "
                     f"{s['connects'] - 1} reconnect(s)")
    print(f"wrote {out}: " + "; ".join(parts))
