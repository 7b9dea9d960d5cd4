"""``imu-hinge calibrate sensor``: six-pose IMU calibration (accelerometer offset, sensitivity,
misalignment; gyro bias) into a versioned JSON file under ``calibration/<sensor_id>/``.

Sources: ``--from RECORDING`` (six poses + rest, recorded before; one sensor or both),
``--emulate`` (a guided run on a bumble-emulated sensor with injected, known errors: the output
compares what was recovered with what was injected) or ``--live`` (a guided run on the real
sensor over Bluetooth). The procedure and file format: ``calibration/README.md``.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

import numpy as np

from imu_hinge.errors import CalibrationError, UsageError
from imu_hinge.samples import SENSOR_ROLES, STANDARD_GRAVITY_M_S2


def register_sensor(kinds: Any) -> None:
    p = kinds.add_parser(
        "sensor", help="six-pose IMU calibration: accelerometer offset/sensitivity/misalignment, gyro bias",
        description="Find the still holds with each sensor axis pointing up (+x, -x, +y, -y, +z, -z; about 3 s each, "
                    "the first a rest with the logo up), fit the sensor model "
                    "misalignment @ ((uncalibrated - offset) * sensitivity), and write it as "
                    "<dir>/<sensor_id>/<YYYY-MM-DDTHHMMSS>.json (UTC). The newest file of a sensor is the one "
                    "applied. Procedure and format: calibration/README.md.")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--from", dest="recording", metavar="RECORDING",
                     help="a recording of the six poses (session recording or interchange CSV; one sensor or both)")
    src.add_argument("--emulate", action="store_true",
                     help="guided run on an emulated BLE sensor with known injected errors (a demonstration/check)")
    src.add_argument("--live", action="store_true", help="guided run on the real sensor over Bluetooth")
    p.add_argument("--role", choices=SENSOR_ROLES,
                   help="which sensor (default: every one in the recording; sacrum for --emulate/--live)")
    p.add_argument("--sensor-id", metavar="ID", help="the sensor's id (default: the recording's metadata; "
                                                      "required for interchange CSVs and --live)")
    p.add_argument("--dir", metavar="DIR", help="calibration folder (default: $IMU_HINGE_CALIBRATION_DIR, else the "
                                                "repository's calibration/)")
    p.add_argument("--dry-run", action="store_true", help="fit and print, write no file")
    p.add_argument("--check", action="store_true",
                   help="with --from: fit nothing; apply the sensor's latest calibration to the recording's still "
                        "holds and print |acc| - g per hold (exit 3 if it is off by more than 0.05 m/s^2)")
    p.add_argument("--force", action="store_true", help="write even when the verdict is 'poor'")
    p.add_argument("--gravity-m-s2", type=float, default=STANDARD_GRAVITY_M_S2, metavar="G",
                   help="local gravity, m/s^2 (default 9.80665; anywhere on Earth 9.78..9.83)")
    p.add_argument("--min-hold-s", type=float, default=1.5, metavar="S",
                   help="shortest still hold that counts, s (default 1.5; the guide asks for 3)")
    p.add_argument("--temperature-c", type=float, metavar="C", help="temperature during the calibration (noted)")
    p.add_argument("--notes", default="", help="free text kept in the file")
    p.add_argument("--acc-unit", choices=("auto", "si", "g"), default="auto", help="accelerometer unit (CSV)")
    p.add_argument("--gyr-unit", choices=("auto", "si", "deg/s"), default="auto", help="gyroscope unit (CSV)")
    p.add_argument("--seed", type=int, default=0, help="--emulate: which errors are injected")
    p.add_argument("--speed", type=float, default=20.0, help="--emulate: emulated seconds per real second")
    p.add_argument("--db", metavar="PATH", help="also keep a reference to the file in this store")
    p.set_defaults(func=run_sensor)


def _check_args(args: argparse.Namespace) -> None:
    if not (math.isfinite(args.gravity_m_s2) and 9.7 <= args.gravity_m_s2 <= 9.9):
        raise UsageError(f"--gravity-m-s2 must be 9.7..9.9, got {args.gravity_m_s2}")
    if not (0.5 <= args.min_hold_s <= 30):
        raise UsageError(f"--min-hold-s must be 0.5..30 s, got {args.min_hold_s}")
    if not (math.isfinite(args.speed) and 0.1 <= args.speed <= 200):
        raise UsageError(f"--speed must be 0.1..200, got {args.speed}")
    if args.temperature_c is not None and not (math.isfinite(args.temperature_c) and -40 <= args.temperature_c <= 85):
        raise UsageError(f"--temperature-c must be -40..85, got {args.temperature_c}")
    if args.check and not args.recording:
        raise UsageError("--check needs --from RECORDING (a recording of still holds, the six poses best)")
    if args.live and not args.sensor_id:
        raise UsageError("--live needs --sensor-id ID (the id the sensor's recordings carry)")


def _vec(v: Any, fmt: str = "8.4f") -> str:
    return "[" + " ".join(format(float(x), fmt) for x in np.asarray(v).ravel()) + "]"


def _print_result(role: str, res: Any) -> None:
    from imu_hinge.sensor_calibration.procedure import describe

    c, f = res.calibration, res.acc_fit
    holds = ", ".join(f"{describe(h.pose) if h.pose else 'tilted'} {h.duration_s:.1f} s" for h in res.holds)
    print(f"{role} (sensor {c.sensor_id}): {len(res.holds)} still hold(s): {holds}")
    print(f"  acc offset        {_vec(c.acc_offset_m_s2)} m/s^2   (+- {_vec(f.offset_sigma_m_s2, '.4f')})")
    print(f"  acc sensitivity   {_vec(c.acc_sensitivity, '8.5f')}         (+- {_vec(f.sensitivity_sigma, '.5f')})")
    mis = np.degrees(np.asarray(c.acc_misalignment) - np.eye(3))
    state = "estimated" if f.misalignment_estimated else "not estimated (identity)"
    print(f"  acc misalignment  off-axis terms {_vec(mis[~np.eye(3, dtype=bool)], '6.2f')} deg, {state}")
    print(f"  gyro bias         {_vec(c.gyr_bias_rad_s, '8.5f')} rad/s ({_vec(np.degrees(c.gyr_bias_rad_s), '.3f')}"
          f" deg/s; spread between holds {res.gyr_bias_spread_rad_s:.5f} rad/s)")
    print(f"  residuals         |acc| - g: rms {f.norm_rms_m_s2:.4f}, max {f.norm_max_m_s2:.4f} m/s^2; "
          f"pose directions {f.tilt_rms_deg:.2f} deg rms")
    print(f"  verdict           {res.verdict}")
    for w in res.warnings:
        print(f"  - {w}")


def _print_recovery(res: Any, errors: Any) -> dict[str, float]:
    from imu_hinge.sensor_calibration.imu_model import symmetric_part

    truth = errors.true_calibration(res.calibration.sensor_id)
    want = symmetric_part(truth.acc_matrix)
    got = res.calibration.acc_matrix
    off = ~np.eye(3, dtype=bool)
    rec = {"scale_error_pct": float(np.abs(np.diag(got) / np.diag(want) - 1).max() * 100),
           "offset_error_m_s2": float(np.abs(np.subtract(res.calibration.acc_offset_m_s2, errors.acc_bias_m_s2)).max()),
           "misalignment_error_deg": float(np.degrees(np.abs(got - want)[off]).max()),
           "gyr_bias_error_rad_s": float(np.abs(np.subtract(res.calibration.gyr_bias_rad_s,
                                                            errors.gyr_bias_rad_s)).max())}
    print(f"  injected          acc offset {_vec(errors.acc_bias_m_s2)} m/s^2, scale error "
          f"{_vec(np.asarray(errors.acc_scale) * 100, '.2f')} %, gyro bias {_vec(errors.gyr_bias_rad_s, '.5f')} rad/s")
    print(f"  recovered within  scale {rec['scale_error_pct']:.3f} % (issue: 0.5), offset "
          f"{rec['offset_error_m_s2']:.4f} m/s^2 (issue: 0.02), misalignment "
          f"{rec['misalignment_error_deg']:.3f} deg, gyro bias {rec['gyr_bias_error_rad_s']:.5f} rad/s")
    return rec


def _sources(args: argparse.Namespace) -> list[tuple[str, Any, str | None, Any]]:
    """(role, uncalibrated stream, sensor id, injected errors or None) per sensor to calibrate."""
    if args.recording:
        from imu_hinge.sensor_calibration.recorded import read_sensors

        found = read_sensors(args.recording, acc_unit=args.acc_unit, gyr_unit=args.gyr_unit, directory=args.dir)
        if args.role:
            found = [s for s in found if s.role == args.role]
            if not found:
                raise UsageError(f"{args.recording}: no {args.role} samples in this recording")
        if args.sensor_id and len(found) > 1:
            raise UsageError("--sensor-id names one sensor and the recording has two: pass --role too")
        for s in found:
            for note in s.notes:
                print(f"imu-hinge: warning: {note}", file=sys.stderr)
        return [(s.role, s.stream, args.sensor_id or s.sensor_id, None) for s in found]
    role = args.role or "sacrum"
    if args.live:
        from imu_hinge.sensor_calibration.capture import live_six_pose

        print("Guided six-pose calibration: have a flat table and a box (for square edges) ready.")
        stream, _ = live_six_pose(role)
        return [(role, stream, args.sensor_id, None)]
    from imu_hinge.emulation.six_pose_session import InjectedErrors
    from imu_hinge.sensor_calibration.capture import emulated_six_pose

    errors = InjectedErrors.draw(args.seed, role=role)
    print(f"Guided six-pose calibration on an emulated {role} sensor (bumble BLE emulator, {args.speed:g}x real "
          f"time) with injected errors (seed {args.seed}):")
    stream, stats = emulated_six_pose(role, errors, speed=args.speed, seed=args.seed)
    print(f"{role}: {len(stream)} samples received over the emulated link ({stats.get('gaps', 0)} gap(s))")
    return [(role, stream, args.sensor_id or f"emulated-{role}-{args.seed}", errors)]


def _run_check(role: str, stream: Any, sensor_id: str, params: Any, directory: str | None) -> float:
    from imu_hinge.sensor_calibration.calibration_files import latest_for
    from imu_hinge.sensor_calibration.imu_model import identity
    from imu_hinge.sensor_calibration.six_pose import check_calibration

    stored = latest_for(sensor_id, directory)
    if stored is None:
        raise CalibrationError(f"no calibration of sensor {sensor_id!r} in {directory or 'the calibration folder'}")
    raw = check_calibration(stream, identity(sensor_id), params)
    cal = check_calibration(stream, stored.calibration, params)
    if not cal:
        raise CalibrationError(f"{role}: no still hold (>= {params.min_hold_s:g} s) to check against")
    print(f"{role} (sensor {sensor_id}) through {stored.name}:")
    print("  hold        s   |acc|-g raw  calibrated  gyro left, deg/s")
    for a, b in zip(raw, cal, strict=True):
        print(f"  {b.pose or 'tilted':6} {b.duration_s:6.1f} {a.norm_error_m_s2:11.4f} {b.norm_error_m_s2:11.4f}  "
              f"{_vec(np.degrees(b.gyr_rad_s), '.3f')}")
    worst = max(abs(c.norm_error_m_s2) for c in cal)
    print(f"  worst |acc| - g {worst:.4f} m/s^2: " + ("holds" if worst <= 0.02 else "drifted a little" if worst <= 0.05
                                                       else "no longer fits: recalibrate"))
    return worst


def run_sensor(args: argparse.Namespace) -> int:
    from imu_hinge.sensor_calibration.calibration_files import save
    from imu_hinge.sensor_calibration.six_pose import SixPoseParams, calibrate_six_pose

    _check_args(args)
    params = SixPoseParams(gravity_m_s2=args.gravity_m_s2, min_hold_s=args.min_hold_s)
    results = []
    for role, stream, sensor_id, errors in _sources(args):
        if not sensor_id:
            raise UsageError(f"the recording does not name the {role} sensor's id: pass --sensor-id ID"
                             + ("" if args.role else " (and --role)"))
        if args.check:
            if _run_check(role, stream, sensor_id, params, args.dir) > 0.05:
                raise CalibrationError(f"the {role} calibration no longer fits this recording: recalibrate")
            continue
        try:
            res = calibrate_six_pose(stream, sensor_id, params, temperature_c=args.temperature_c, notes=args.notes)
        except CalibrationError as exc:
            raise CalibrationError(f"{role}: {exc.message}", path=exc.path or args.recording) from None
        _print_result(role, res)
        if errors is not None:
            _print_recovery(res, errors)
        results.append((role, res))
    if args.check:
        return 0
    bad = [role for role, res in results if res.verdict == "poor"]
    if bad and not args.force and not args.dry_run:
        raise CalibrationError(f"the {' and '.join(bad)} calibration looks wrong (verdict poor, see above); nothing "
                               "written: repeat the procedure, or pass --force to write it anyway")
    if args.dry_run:
        print("not written (--dry-run)")
        return 0
    for role, res in results:
        stored = save(res.calibration, args.dir)
        print(f"{role}: written {stored.path} (sha256 {stored.sha256[:12]}...)")
        if args.db:
            from imu_hinge.store import Store

            store = Store(args.db)
            try:
                store.add_sensor_calibration(res.calibration.sensor_id, stored.reference(), str(stored.path))
            finally:
                store.close()
    return 0
