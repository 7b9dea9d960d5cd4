"""Make ``range_calibration_trial.csv``: a simulated range-calibration trial to try ``imu-hinge calibrate range`` on.

Run from the repository root: ``.venv/bin/python recordings/make_range_trial.py``. Stand 4 s, bend forward
to about 100 deg of trunk flexion with 45 deg of lumbar flexion, hold it several seconds, stand up
(the simulator's ``long_hold``, seed 1, as ``tests/test_range_calibration.py`` uses). Writes the
interchange CSV and its ground truth (``.truth.json``); the true Lmax is the held lumbar flexion.
"""

from __future__ import annotations

from pathlib import Path

from imu_hinge.simulation import SimConfig, simulate, write_case

HERE = Path(__file__).resolve().parent
OUT = HERE / "range_calibration_trial.csv"
LUMBAR_DEG = 45.0


def main() -> None:
    sim = simulate(SimConfig(seed=1, exercise="long_hold", n_reps=1, rounding_frac=1.0,
                             rounding_lumbar_deg=(LUMBAR_DEG, LUMBAR_DEG), peak_trunk_deg=(100.0, 100.0),
                             name="range_calibration_trial"))
    write_case(sim, OUT)
    angles = OUT.with_name(OUT.stem + ".truth_angles.csv")
    angles.unlink(missing_ok=True)  # the held angle is in .truth.json; keep the repository small
    print(f"wrote {OUT.name}: {OUT.stat().st_size} bytes")


if __name__ == "__main__":
    main()
