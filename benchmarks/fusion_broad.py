"""Inclination accuracy and cost of every fusion method on the BROAD trials (real data, optical truth).

Usage: ``python benchmarks/fusion_broad.py [FOLDER] [--methods vqf,madgwick,...]``
(FOLDER defaults to ``../shared/data/broad`` relative to the repository root).

For each trial and method: inclination RMSE in deg (angle between the true and the estimated
"up" in the sensor frame, RMSE over the ``movement`` mask, rows with NaN truth skipped) and
cost in us/sample (wall time of one whole-trial call / samples). Rows: ``vqf_lib``, the plain
library (``vqf.VQF(Ts).updateBatch``, defaults, no initialisation), then every
``estimate_orientation`` method with its default parameters, twice: cold (no initialisation,
like the libraries) and ``+init`` (started from the mean of the first 0.5 s, when all BROAD
trials are at rest: gravity ``acc0_m_s2`` and gyro bias ``gyr_bias_rad_s``, as a session with
a stance calibration does). Prints a table, then as its last line one JSON object with all numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import vqf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from imu_hinge.fusion import DEFAULT_METHOD, METHODS, estimate_orientation, up_in_sensor  # noqa: E402

PLAIN = "vqf_lib"
INIT = "+init"
INIT_S = 0.5
ALL = (PLAIN, *(m + suffix for m in METHODS for suffix in ("", INIT)))


def incl_rmse_deg(q_est: np.ndarray, q_true: np.ndarray, mask: np.ndarray) -> float:
    """Inclination RMSE (deg) over ``mask`` (N,), rows with NaN truth skipped."""
    u1, u2 = up_in_sensor(q_est), up_in_sensor(q_true)
    cos = np.sum(u1 * u2, axis=1) / (np.linalg.norm(u1, axis=1) * np.linalg.norm(u2, axis=1))
    err = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
    ok = mask & np.isfinite(err)
    return float(np.sqrt(np.mean(err[ok] ** 2)))


def run(method: str, gyr: np.ndarray, acc: np.ndarray, rate_hz: float) -> tuple[np.ndarray, float]:
    """Quaternions (N, 4) and wall time in s for one method on one trial."""
    t0 = time.perf_counter()
    if method == PLAIN:
        q = vqf.VQF(1.0 / rate_hz).updateBatch(np.ascontiguousarray(gyr), np.ascontiguousarray(acc))["quat6D"]
    elif method.endswith(INIT):
        n0 = max(1, int(INIT_S * rate_hz))
        q = estimate_orientation(gyr, acc, rate_hz, method.removesuffix(INIT), acc0_m_s2=acc[:n0].mean(axis=0),
                                 gyr_bias_rad_s=gyr[:n0].mean(axis=0))
    else:
        q = estimate_orientation(gyr, acc, rate_hz, method)
    return q, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default=str(REPO.parent / "shared" / "data" / "broad"))
    parser.add_argument("--methods", default=",".join(ALL), help="comma-separated subset of: " + ", ".join(ALL))
    args = parser.parse_args(argv)
    methods = [m for m in args.methods.split(",") if m]
    if unknown := sorted(set(methods) - set(ALL)):
        parser.error(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(ALL)}")
    files = sorted(Path(args.folder).glob("*.hdf5"))
    if not files:
        print(f"no .hdf5 files in {args.folder}", file=sys.stderr)
        return 2
    rmse: dict[str, dict[str, float]] = {}
    seconds = dict.fromkeys(methods, 0.0)
    samples = 0
    for path in files:
        with h5py.File(path, "r") as f:
            gyr, acc, q_true = f["imu_gyr"][()], f["imu_acc"][()], f["opt_quat"][()]
            rate_hz, mask = float(f.attrs["sampling_rate"]), f["movement"][()].astype(bool)
        samples += len(gyr)
        rmse[path.stem] = {}
        for method in methods:
            q, sec = run(method, gyr, acc, rate_hz)
            seconds[method] += sec
            rmse[path.stem][method] = incl_rmse_deg(q, q_true, mask)
        print(f"  {path.stem}: " + ", ".join(f"{m} {v:.3f}" for m, v in rmse[path.stem].items()),
              file=sys.stderr, flush=True)
    us = {m: 1e6 * seconds[m] / samples for m in methods}

    stems = list(rmse)
    print("Inclination RMSE over the movement mask, deg (BROAD, 285.7 Hz); columns = trial numbers")
    print(f"{'method':<18}" + "".join(f"{s[:2]:>7}" for s in stems) + f"{'mean':>7}{'us/sample':>11}")
    for m in methods:
        vals = [rmse[s][m] for s in stems]
        print(f"{m:<18}" + "".join(f"{v:7.2f}" for v in vals) + f"{np.mean(vals):7.2f}{us[m]:11.2f}")
    print("trials: " + ", ".join(stems))
    result: dict[str, object] = {"benchmark": "fusion_broad", "folder": str(Path(args.folder).resolve()),
                                 "incl_rmse_deg": rmse, "us_per_sample": us}
    if PLAIN in methods and DEFAULT_METHOD in methods:
        ok = all(r[DEFAULT_METHOD] <= r[PLAIN] + 1e-9 for r in rmse.values())
        print(f"default method {DEFAULT_METHOD!r} no worse than plain vqf on every trial: {ok}")
        result["default_no_worse_than_vqf_lib"] = ok
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
