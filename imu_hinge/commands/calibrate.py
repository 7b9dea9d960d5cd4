"""``imu-hinge calibrate KIND ...``: calibrations, one subcommand per kind.

``calibrate range RECORDING --person NAME`` stores the person's maximum lumbar flexion
(``Lmax``) and extension (``Lext``) from a recording of a maximum forward bend held 2 s
(and optionally a maximum extension held 2 s); thresholds can then be a % of ``Lmax``
(``imu-hinge people set NAME --threshold-pct 60``).

Kinds are registered in :data:`SUBCOMMANDS` (name -> function adding the subparser to the
``calibrate`` group); ``sensor`` (the IMU six-pose calibration) goes there too.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from imu_hinge.commands.calibrate_sensor import register_sensor
from imu_hinge.commands.storeopts import add_db_argument, open_store
from imu_hinge.errors import UsageError
from imu_hinge.jsonable import dumps


def register_range(kinds: Any) -> None:
    p = kinds.add_parser(
        "range", help="a person's maximum lumbar flexion (Lmax) and extension (Lext) from a recording",
        description="Find the >= 2 s hold at maximum forward bend (and, if present, at maximum extension) in a "
                    "recording through the analysis pipeline, and store Lmax/Lext for the person. Record: stand "
                    "still 3 s, bend forward as far as you can and hold 2-3 s, stand up; optionally lean back as "
                    "far as you can and hold 2-3 s; stand. Bend forward first.")
    p.add_argument("recording", help="interchange CSV or session recording")
    p.add_argument("--person", required=True, metavar="NAME", help="whose range this is (must be in the store)")
    p.add_argument("--hold-s", type=float, default=2.0, metavar="S", help="shortest hold that counts (default 2)")
    p.add_argument("--band-deg", type=float, default=4.0, metavar="DEG",
                   help="how still a hold must be: largest change of lumbar angle within it (default 4)")
    p.add_argument("--dry-run", action="store_true", help="compute and print, store nothing")
    p.add_argument("--json", metavar="OUT", help="also write the result as JSON")
    p.add_argument("--acc-unit", choices=("auto", "si", "g"), default="auto", help="accelerometer unit")
    p.add_argument("--gyr-unit", choices=("auto", "si", "deg/s"), default="auto", help="gyroscope unit")
    add_db_argument(p)
    p.set_defaults(func=run_range)


SUBCOMMANDS: dict[str, Callable[[Any], None]] = {
    "range": register_range,
    "sensor": register_sensor,
}


def register(sub: Any) -> None:
    p = sub.add_parser("calibrate", help="calibrations: " + ", ".join(SUBCOMMANDS),
                       description="Calibrations, by kind: " + ", ".join(SUBCOMMANDS) + ".")
    kinds = p.add_subparsers(dest="calibrate_kind", metavar="KIND")
    for add in SUBCOMMANDS.values():
        add(kinds)
    p.set_defaults(func=lambda args: _usage(p))


def _usage(p: argparse.ArgumentParser) -> int:
    p.print_help(sys.stderr)
    return 2


def run_range(args: argparse.Namespace) -> int:
    from imu_hinge.analysis.pipeline import analyze
    from imu_hinge.recording import load_recording
    from imu_hinge.rehab.range_calibration import RangeParams, find_range

    if not (0.5 <= args.hold_s <= 30):
        raise UsageError(f"--hold-s must be 0.5..30 s, got {args.hold_s}")
    if not (0.5 <= args.band_deg <= 20):
        raise UsageError(f"--band-deg must be 0.5..20 deg, got {args.band_deg}")
    if args.json and not Path(args.json).resolve().parent.is_dir():
        raise UsageError(f"cannot write {args.json}: its folder does not exist")
    store = open_store(args, create=False)
    try:
        person = store.person(args.person)  # fail fast, before the analysis
        rec = load_recording(args.recording, acc_unit=args.acc_unit, gyr_unit=args.gyr_unit)
        res = analyze(rec)
        for w in res.warnings:
            print(f"imu-hinge: warning: {w}", file=sys.stderr)
        params = RangeParams(hold_s=args.hold_s, band_deg=args.band_deg)
        found = find_range(res, params)
        for w in found.warnings:
            print(f"imu-hinge: warning: {w}", file=sys.stderr)
        source = str(Path(args.recording).resolve())
        data = {**found.to_dict(), "params": dataclasses.asdict(params), "recording": source}
        if not args.dry_run:
            store.add_range_calibration(person, found.lmax_deg, found.lext_deg, source, data)
    finally:
        store.close()
    fh, eh = found.flexion_hold, found.extension_hold
    print(f"{person.name}: Lmax {found.lmax_deg:.1f} deg (forward bend held {fh.start_s:.1f}-{fh.end_s:.1f} s, "
          f"{fh.duration_s:.1f} s; trunk {fh.trunk_deg:.0f} deg)")
    if eh is not None and found.lext_deg is not None:
        print(f"{person.name}: Lext {found.lext_deg:.1f} deg (extension held {eh.start_s:.1f}-{eh.end_s:.1f} s, "
              f"{eh.duration_s:.1f} s)")
    else:
        print(f"{person.name}: no extension hold found (optional)")
    print("not stored (--dry-run)" if args.dry_run else
          f"stored; set thresholds as a % of Lmax: imu-hinge people set {person.name!r} --threshold-pct 60")
    if args.json:
        Path(args.json).write_text(dumps({"person": person.name, **data}, indent=1), encoding="utf-8")
    return 0
