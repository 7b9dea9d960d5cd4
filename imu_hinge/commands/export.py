"""``imu-hinge export REC --csv OUT.csv``: a recording in the interchange layout (contracts §2).

``OUT.csv`` starts with the header ``time_s,sensor,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z`` plus, for
a session recording, ``seq,clipped`` (extra columns the contract allows; ``--plain`` leaves them
out), then ``#`` comment lines with the source, its metadata and its events as JSON, then both
sensors' rows in time order (sacrum first on equal times). Values are written with full
round-trip precision, so a sample reads back bit for bit what the session file holds.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from imu_hinge.errors import RecordingWriteError, UsageError
from imu_hinge.jsonable import dumps
from imu_hinge.samples import SENSOR_ROLES, Recording

INTERCHANGE_HEADER = ("time_s", "sensor", "acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z")


def register(sub: Any) -> None:
    p = sub.add_parser("export", help="write a recording (session file or CSV) as an interchange CSV",
                       description="Convert a session recording (.ihr.csv) or an interchange CSV into the plain "
                                   "interchange CSV layout (time_s,sensor,acc_*,gyr_*), bit-exact.")
    p.add_argument("recording", metavar="REC", help="session recording (.ihr.csv) or interchange CSV")
    p.add_argument("--csv", metavar="OUT.csv", required=True, help="interchange CSV to write")
    p.add_argument("--plain", action="store_true",
                   help="only the eight interchange columns and no comment lines (no seq, clipped, metadata)")
    p.set_defaults(func=run)


def recording_frame(rec: Recording, *, plain: bool = False) -> pd.DataFrame:
    """Both sensors' samples in time order: the interchange columns (+ ``seq``, ``clipped`` if known)."""
    parts = []
    extra = not plain and all(s.seq is not None for s in rec.streams.values())
    for order, (role, s) in enumerate(rec.streams.items()):
        cols: dict[str, Any] = {"time_s": s.time_s, "sensor": role}
        for j, axis in enumerate("xyz"):
            cols[f"acc_{axis}"] = s.acc_m_s2[:, j]
        for j, axis in enumerate("xyz"):
            cols[f"gyr_{axis}"] = s.gyr_rad_s[:, j]
        if extra:
            cols["seq"] = s.seq
            cols["clipped"] = (np.zeros(len(s), np.int8) if s.clipped is None else s.clipped.astype(np.int8))
        cols["_order"] = SENSOR_ROLES.index(role) if role in SENSOR_ROLES else len(SENSOR_ROLES) + order
        parts.append(pd.DataFrame(cols))
    frame = pd.concat(parts, ignore_index=True).sort_values(["time_s", "_order"], kind="stable")
    return frame.drop(columns="_order")


def _comments(rec: Recording, source: str) -> list[str]:
    meta = {k: v for k, v in rec.metadata.items() if k not in ("events", "end", "comments")}
    lines = [f"# imu-hinge export of {Path(source).name} (interchange CSV, see recordings/README.md): seq = "
             "sample index (a jump is a gap), clipped = 1 where the sensor saturated"]
    if meta:
        lines.append("# meta: " + dumps(meta, compact=True, fallback=str))
    events = rec.metadata.get("events")
    for ev in events if isinstance(events, list) else []:
        lines.append("# event: " + dumps(ev, compact=True, fallback=str))
    return lines


def write_export(rec: Recording, out: Path, *, plain: bool = False) -> int:
    """Write ``rec`` to ``out`` (atomically: a temporary file renamed at the end); returns the row count."""
    frame = recording_frame(rec, plain=plain)
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            fh.write(",".join(frame.columns) + "\n")
            if not plain:
                fh.write("".join(line + "\n" for line in _comments(rec, rec.source)))
            frame.to_csv(fh, index=False, header=False, lineterminator="\n")
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise RecordingWriteError(f"cannot write the export ({exc.strerror or exc})", path=str(out)) from None
    return len(frame)


def run(args: argparse.Namespace) -> int:
    from imu_hinge.recording import load_recording

    out = Path(args.csv)
    if not out.resolve().parent.is_dir():
        raise UsageError(f"cannot write {out}: its folder does not exist")
    if out.exists() and out.resolve() == Path(args.recording).resolve():
        raise UsageError(f"{out} is the recording itself; choose another output file")
    rec = load_recording(args.recording, min_samples=0)
    for w in rec.warnings:
        print(f"imu-hinge: warning: {w}", file=sys.stderr)
    n = write_export(rec, out, plain=args.plain)
    counts = ", ".join(f"{role} {len(s)}" for role, s in rec.streams.items())
    print(f"wrote {out}: {n} samples ({counts})")
    return 0
