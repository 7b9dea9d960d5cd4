"""Case files: ``X.csv`` (interchange CSV), ``X.truth.json`` and ``X.truth_angles.csv``.

The layout is the one of the project's evaluation cases. The interchange CSV carries its
configuration in ``#`` comment lines placed right *after* the header line: a comment
line before the header would be taken for the header by ``numpy.genfromtxt(names=True)``,
which independent readers use.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from imu_hinge.errors import UsageError
from imu_hinge.jsonable import dumps
from imu_hinge.samples import SENSOR_ROLES
from imu_hinge.simulation.simulator import SimResult

CSV_HEADER = "time_s,sensor,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z"
TRUTH_ANGLES_HEADER = "time_s,pelvic_tilt_deg,trunk_flexion_deg,lumbar_flexion_deg"


def case_paths(csv_path: Path) -> tuple[Path, Path, Path]:
    """``X.csv`` -> (X.csv, X.truth.json, X.truth_angles.csv)."""
    csv_path = Path(csv_path)
    if csv_path.suffix.lower() != ".csv":
        raise UsageError(f"{csv_path}: the output file name must end in .csv")
    stem = csv_path.with_suffix("")
    return csv_path, Path(f"{stem}.truth.json"), Path(f"{stem}.truth_angles.csv")


def _comment_lines(res: SimResult) -> list[str]:
    cfg = res.config
    s = res.summary()
    return [
        f"# imu-hinge simulated recording '{cfg.name}' (seed {cfg.seed}, exercise {cfg.exercise}, "
        f"{len(res.reps)} reps, {res.duration_s:.1f} s); truth in the .truth.json / .truth_angles.csv beside it",
        f"# rates_hz: sacrum {cfg.rate_hz:g}, thoracic {cfg.thoracic_rate:g}; mount_rpy_deg: sacrum "
        f"{s['mount_sacrum']}, thoracic {s['mount_thoracic']}; drop_fraction {cfg.drop_fraction:g}",
        "# config: " + dumps(s["config"], compact=True),
    ]


def interchange_lines(res: SimResult) -> list[str]:
    """Data rows of both sensors interleaved in time order (sacrum first on equal times)."""
    parts = []
    for order, role in enumerate(SENSOR_ROLES):
        st = res.recording[role]
        parts.append((st.time_s, np.full(len(st), order), np.hstack([st.acc_m_s2, st.gyr_rad_s])))
    t = np.concatenate([p[0] for p in parts])
    who = np.concatenate([p[1] for p in parts])
    values = np.vstack([p[2] for p in parts])
    idx = np.lexsort((who, t))
    fmt = "%.6f,{},%.5f,%.5f,%.5f,%.5f,%.5f,%.5f"
    fmts = [fmt.format(role) for role in SENSOR_ROLES]
    return [fmts[who[i]] % (t[i], *values[i]) for i in idx]


def write_case(res: SimResult, csv_path: Path) -> tuple[Path, Path, Path]:
    """Write the three case files next to each other; returns their paths."""
    csv_p, json_p, angles_p = case_paths(Path(csv_path))
    try:
        csv_p.parent.mkdir(parents=True, exist_ok=True)
        lines = [CSV_HEADER, *_comment_lines(res), *interchange_lines(res)]
        csv_p.write_text("\n".join(lines) + "\n")
        truth = res.summary()
        truth["reps"] = res.reps
        json_p.write_text(dumps(truth, indent=1) + "\n")
        table = np.column_stack([res.truth_time_s, res.truth_pelvic_tilt_deg, res.truth_trunk_flexion_deg,
                                 res.truth_lumbar_flexion_deg])
        np.savetxt(angles_p, table, fmt=["%.4f", "%.4f", "%.4f", "%.4f"], delimiter=",",
                   header=TRUTH_ANGLES_HEADER, comments="")
    except OSError as exc:
        raise UsageError(f"{csv_p}: cannot write ({exc.strerror or exc})") from None
    return csv_p, json_p, angles_p
