"""The shared dev cases re-stamped as a phone app or BLE bridge stamps them: on arrival.

usage: python benchmarks/dev_stamps.py [--dir ../shared/eval/dev]

Each case's samples keep their values; only their stamps change: (a) normal jitter of 2 ms per sample, (b)
each sample stamped when it arrives (exponential latency, mean 4 ms, held in order), (c) packets of 4 samples
stamped on arrival (mean 10 ms), (d) as (c) with a mean of 20 ms, (e) as (b) with a mean of 30 ms (the radio
delivers the samples bunched, groups of every size), (f) as (c) with a mean of 40 ms (a latency longer than a
packet): the simulator's host stamps (:func:`imu_hinge.simulation.mems_imu.arrival_stamps`), whose clock is
set so the mean latency and a packet's depth read as no delay (a constant delay of all angles is not the
analysis' error). Each is analysed as a user's file is (input checks first), with the clock fit of
:mod:`imu_hinge.recording.sample_clock` (and the arrival bound of :mod:`imu_hinge.recording.time_order`) and
with them planted out; the angles are compared with the truth. Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

import imu_hinge.recording.checks as checks_module
import imu_hinge.recording.time_order as time_order_module
from imu_hinge.analysis.pipeline import analyze
from imu_hinge.errors import ImuHingeError
from imu_hinge.recording import read_interchange_csv
from imu_hinge.recording.checks import checked
from imu_hinge.samples import Recording, SensorStream
from imu_hinge.simulation.mems_imu import arrival_stamps

COLUMNS = ("pelvic_tilt_deg", "trunk_flexion_deg", "lumbar_flexion_deg")
MODES = {"jitter 2 ms": (0.002, 0.0, 1), "arrival 4 ms": (0.0, 0.004, 1), "packets of 4, 10 ms": (0.0, 0.010, 4),
         "packets of 4, 20 ms": (0.0, 0.020, 4), "arrival 30 ms": (0.0, 0.030, 1),
         "packets of 4, 40 ms": (0.0, 0.040, 4)}


def restamp(s: SensorStream, jitter_s: float, latency_s: float, packet: int, rng: np.random.Generator) -> SensorStream:
    t = s.time_s
    if jitter_s:
        return replace(s, time_s=np.sort(t + rng.normal(0.0, jitter_s, t.size)))
    period = 1.0 / s.nominal_rate_hz
    k = np.rint((t - t[0]) / period).astype(int)  # each sample's index on the sensor's clock (drops skipped)
    grid = arrival_stamps(t[0] + np.arange(k[-1] + 1) * period, packet, latency_s, period, rng)  # the simulator's
    return replace(s, time_s=grid[k])  # host: a packet holds consecutive indices, a dropped sample's packet fewer


def rmse(res, truth) -> list[float]:
    return [float(np.sqrt(np.nanmean((getattr(res, c) - np.interp(res.time_s, truth["time_s"], truth[c])) ** 2)))
            for c in COLUMNS]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "eval" / "dev"))
    args = ap.parse_args()
    cases = sorted(Path(args.dir).glob("*.truth.json"))
    fit = checks_module.regular_times
    bound = time_order_module.bounded_times
    out: dict[str, dict[str, float | int | None]] = {}
    print(f"{'stamps':22s} {'clock fit':>9s} {'lumbar med':>10s} {'lumbar max':>10s} {'seg med':>8s} {'refused':>7s}")
    for mode, (jitter_s, latency_s, packet) in MODES.items():
        for fitted in (True, False):
            checks_module.regular_times = time_order_module.regular_times = fit if fitted else (lambda t, **_: None)
            checks_module.bounded_times = time_order_module.bounded_times = bound if fitted else (lambda t: None)
            rng = np.random.default_rng(11)
            rows, refused = [], 0
            for truth_json in cases:
                name = truth_json.name.removesuffix(".truth.json")
                truth = np.genfromtxt(truth_json.with_name(name + ".truth_angles.csv"), delimiter=",", names=True)
                rec = read_interchange_csv(truth_json.with_name(name + ".csv"))
                rec = Recording({r: restamp(s, jitter_s, latency_s, packet, rng) for r, s in rec.streams.items()},
                                dict(rec.metadata))
                try:
                    rows.append(rmse(analyze(checked(rec)), truth))
                except (ImuHingeError, ValueError, OverflowError):
                    refused += 1
            a = np.array(rows).reshape(-1, 3)
            row: dict[str, float | int | None] = {"refused": refused}  # every case refused: no angles (None)
            row["lumbar_median"] = round(float(np.median(a[:, 2])), 3) if rows else None
            row["lumbar_max"] = round(float(a[:, 2].max()), 3) if rows else None
            row["seg_median"] = round(float(np.median(a[:, :2])), 3) if rows else None
            out[f"{mode}{'' if fitted else ' (no fit)'}"] = row
            cells = [f"{row[k]:{w}.3f}" if rows else f"{'-':>{w}s}" for k, w in
                     (("lumbar_median", 10), ("lumbar_max", 10), ("seg_median", 8))]
            print(f"{mode:22s} {'yes' if fitted else 'no':>9s} {' '.join(cells)} {refused:7d}", flush=True)
    checks_module.regular_times = time_order_module.regular_times = fit
    checks_module.bounded_times = time_order_module.bounded_times = bound
    print(json.dumps({"benchmark": "dev_stamps", "cases": len(cases), "modes": out}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
