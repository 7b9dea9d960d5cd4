"""Does the mount check tell a sensor that slipped on the body, and stay quiet otherwise?

usage: python benchmarks/mount_check.py [--seeds 3] [--dev DIR]

Simulated truth (the project's simulator): every scenario family with reps, seeds 7000.., without a
slip: any warning is a false one. Then slips of known role, time and angle (4-6 deg both ways, and a
2.5 deg one that is below what standing posture varies) added to five exercise families: told or not,
the role named, the slip time inside the reported interval, the step against the slip's angle. With
``--dev`` the shared dev cases (no slips) are checked for false warnings too. Prints a table and, last,
one JSON line.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from imu_hinge.analysis.pipeline import analyze
from imu_hinge.detection.mount_check import sensor_moves
from imu_hinge.recording import load_recording
from imu_hinge.simulation import SCENARIOS, simulate

SLIPS = [("thoracic", 6.0), ("sacrum", 6.0), ("thoracic", -5.0), ("sacrum", -4.0), ("thoracic", 2.5)]
SLIP_FAMILIES = ["rdl_good", "good_morning", "fatigue_set", "standing_sway", "kb_swings"]
SLIP_S = 18.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--dev", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "eval" / "dev")
    args = ap.parse_args()
    false_warnings, steady = [], 0
    for family in sorted(n for n, c in SCENARIOS.items() if c.exercise != "walk"):
        for seed in range(7000, 7000 + args.seeds):
            sim = simulate(dataclasses.replace(SCENARIOS[family], seed=seed))
            moves = sensor_moves(analyze(sim.recording))
            if sim.config.slip is None:
                steady += 1
                if moves:
                    false_warnings.append(f"{family}/{seed}")
    dev = sorted(p for p in args.dev.glob("*.csv") if "truth" not in p.name) if args.dev.is_dir() else []
    for path in dev:
        if sensor_moves(analyze(load_recording(path))):
            false_warnings.append(path.name)
    rows, told, expected, placed = [], 0, 0, 0
    for family in SLIP_FAMILIES:
        for role, angle in SLIPS:
            sim = simulate(dataclasses.replace(SCENARIOS[family], seed=7100, slip=(role, SLIP_S, angle)))
            moves = sensor_moves(analyze(sim.recording))
            big = abs(angle) >= 4.0
            expected += big
            m = moves[0] if moves else None
            ok_role = m is not None and m.role == role
            inside = m is not None and m.after_s <= SLIP_S <= m.before_s + 0.3
            told += bool(m) and big and ok_role
            placed += bool(m) and big and ok_role and inside
            rows.append((family, role, angle, "-" if m is None else f"{m.role} {m.shift_deg:+.1f} "
                         f"({m.segment_shift_deg:+.1f}) {m.after_s:.1f}-{m.before_s:.1f} s"))
    print(f"{'family':16s} {'slip':>16s}  told (sensor, L step (segment step), interval)")
    for family, role, angle, got in rows:
        print(f"{family:16s} {role:>9s} {angle:+5.1f}  {got}")
    print(f"steady sessions: {steady} simulated + {len(dev)} dev cases, false warnings: {len(false_warnings)} "
          f"{false_warnings}")
    print(f"slips >= 4 deg told with the right sensor: {told}/{expected}, the slip time inside the interval: {placed}")
    print(json.dumps({"benchmark": "mount_check", "steady_sessions": steady + len(dev),
                      "false_warnings": len(false_warnings), "slips": expected, "told": told, "placed": placed,
                      "small_slips_told": sum(1 for r in rows if abs(r[2]) < 4.0 and r[3] != "-")}))


if __name__ == "__main__":
    main()
