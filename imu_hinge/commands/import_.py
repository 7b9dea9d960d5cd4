"""``imu-hinge import [SRC] OUT.csv``: convert another IMU system's export to the interchange CSV.

Registered as ``import`` (the module is ``import_`` because ``import`` is a Python keyword).
See ``docs/import.md`` for the mapping file and worked examples.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from imu_hinge.errors import UsageError
from imu_hinge.importing.import_spec import ImportSpec, load_mapping
from imu_hinge.importing.importer import import_recording
from imu_hinge.samples import SENSOR_ROLES


def _xyz(text: str) -> tuple[str, str, str]:
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 3 or not all(parts):
        raise argparse.ArgumentTypeError(f"give three column names separated by commas, got {text!r}")
    return (parts[0], parts[1], parts[2])


def register(sub: Any) -> None:
    p = sub.add_parser(
        "import", help="convert another IMU system's export (CSV) to the interchange CSV",
        description="Map the columns, units, clock and axes of a foreign export onto the interchange CSV "
                    "(time_s,sensor,acc_*,gyr_*; m/s^2, rad/s). One file per sensor (--sacrum/--thoracic) or one "
                    "file with a sensor column (SRC). Options override a --mapping file. Nothing is written "
                    "unless every check passes.")
    p.add_argument("paths", nargs="+", metavar="[SRC] OUT.csv",
                   help="SRC: one export holding both sensors (omit with --sacrum/--thoracic); OUT.csv: output")
    p.add_argument("--mapping", metavar="FILE", help="TOML or JSON mapping file (see docs/import.md)")
    files = p.add_argument_group("files")
    files.add_argument("--sacrum", metavar="FILE", help="export of the sacrum sensor")
    files.add_argument("--thoracic", metavar="FILE", help="export of the thoracic sensor")
    files.add_argument("--sensor-col", metavar="NAME", help="column naming the sensor of each row (one-file exports)")
    files.add_argument("--sacrum-label", metavar="VALUE", help="sensor-column value of the sacrum rows (e.g. Pelvis)")
    files.add_argument("--thoracic-label", metavar="VALUE", help="sensor-column value of the thoracic rows (e.g. T12)")
    files.add_argument("--delimiter", metavar="CHAR", help="field separator (default: detect , ; tab |)")
    files.add_argument("--decimal", metavar="CHAR", help="decimal separator, '.' (default) or ','")
    files.add_argument("--skip-rows", type=int, metavar="N", help="lines to skip before the header")
    cols = p.add_argument_group("columns and units")
    cols.add_argument("--time-col", metavar="NAME", help="time column (default: detect time/timestamp/t...)")
    cols.add_argument("--time-unit", metavar="UNIT", help="s, ms, us, ns or iso (date-time text); default: "
                                                          "from the column name or the sample interval")
    cols.add_argument("--time-offset-s", type=float, metavar="S", help="add this to every time, s")
    cols.add_argument("--sacrum-offset-s", type=float, metavar="S", help="add this to the sacrum times only, s")
    cols.add_argument("--thoracic-offset-s", type=float, metavar="S", help="add this to the thoracic times only, s")
    cols.add_argument("--rate-hz", type=float, metavar="HZ", help="no time column: constant sample rate, Hz")
    cols.add_argument("--acc-cols", type=_xyz, metavar="X,Y,Z", help="accelerometer columns (default: detect)")
    cols.add_argument("--gyr-cols", type=_xyz, metavar="X,Y,Z", help="gyroscope columns (default: detect)")
    cols.add_argument("--acc-unit", metavar="UNIT", help="m/s^2 (default), g or mg")
    cols.add_argument("--gyr-unit", metavar="UNIT", help="rad/s (default), deg/s, mdps or mrad/s")
    cols.add_argument("--axes", metavar="AXES", help="axis remap for both sensors, e.g. x,-z,y (output x,y,z = ...)")
    cols.add_argument("--sacrum-axes", metavar="AXES", help="axis remap of the sacrum sensor only")
    cols.add_argument("--thoracic-axes", metavar="AXES", help="axis remap of the thoracic sensor only")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.add_argument("--force", "--overwrite", action="store_true",
                   help="replace OUT.csv if it exists (default: refuse, as record and train do)")
    p.set_defaults(func=run)


def build_spec(args: argparse.Namespace) -> tuple[ImportSpec, str]:
    """The mapping file (if any) with the options applied on top; returns (spec, output path)."""
    if len(args.paths) > 2:
        raise UsageError("give at most SRC and OUT.csv (per-sensor files go with --sacrum/--thoracic)")
    spec = load_mapping(args.mapping) if args.mapping else ImportSpec()
    if len(args.paths) == 2:
        spec.source = args.paths[0]
        for role in SENSOR_ROLES:
            spec.sensors[role].file = None
    out = args.paths[-1]
    simple = {"time_col": "time_column", "time_unit": "time_unit", "time_offset_s": "time_offset_s",
              "rate_hz": "rate_hz", "acc_cols": "acc_columns", "gyr_cols": "gyr_columns", "acc_unit": "acc_unit",
              "gyr_unit": "gyr_unit", "axes": "axes", "sensor_col": "sensor_column", "delimiter": "delimiter",
              "decimal": "decimal", "skip_rows": "skip_rows"}
    for option, attr in simple.items():
        value = getattr(args, option)
        if value is not None:
            setattr(spec, attr, value)
    if args.time_col is not None and args.rate_hz is None:
        spec.rate_hz = None
    if args.rate_hz is not None and args.time_col is None:
        spec.time_column = None
    for role in SENSOR_ROLES:
        sensor = spec.sensors[role]
        for option, attr in (("", "file"), ("_label", "label"), ("_axes", "axes"), ("_offset_s", "time_offset_s")):
            value = getattr(args, f"{role}{option}")
            if value is not None:
                setattr(sensor, attr, value)
        if getattr(args, role) is not None:
            spec.source = None if len(args.paths) < 2 else spec.source
    return spec, out


def run(args: argparse.Namespace) -> int:
    spec, out = build_spec(args)
    report = import_recording(spec, out, overwrite=args.force)
    if not args.quiet:
        for note in report.notes:
            print(f"imu-hinge: note: {note}", file=sys.stderr)
        print(report.summary())
    return 0
