"""Sessions stamped on arrival over a grid of links: latency x samples per notification x losses x rate.

usage: python benchmarks/arrival_grid.py [--seed 500] [--latencies 0.008,0.03,0.06] [--packets 1,4]
                                         [--losses 0,0.03] [--rates 50,100,200]

A phone app or BLE bridge that stamps each notification when it arrives (the simulator's host stamps,
:func:`imu_hinge.simulation.mems_imu.arrival_stamps`: exponential latency held in order, whole ms; a lost
notification loses its samples). Each configuration simulates one RDL session (8 reps, 30 % rounding) and the
same session on the sensor's own clock; both go through the input checks and the analysis as a user's file
does. Per row: how the stamps were timed (the input checks' warning: ``packets`` put back on the clock,
``bounded`` by the fastest arrivals, ``even`` spread, ``scatter`` bounded in the jitter check, ``-`` nothing),
reps found of 8, lumbar RMSE against the truth (deg) and the same on the sensor's clock; a refused case is a
row ``refused: <reason>``. Prints the table, then one JSON line.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import sys

import numpy as np

from imu_hinge.analysis.pipeline import analyze
from imu_hinge.errors import ImuHingeError
from imu_hinge.recording.checks import checked
from imu_hinge.simulation import SCENARIOS, SimConfig, simulate

HOW = (("packets' stamps put back", "packets"), ("arrive bunched", "bounded"), ("spread evenly", "even"),
       ("too much to tell the samples apart", "scatter"), ("and fit no regular clock", "scatter"))


def lumbar_rmse(cfg: SimConfig) -> tuple[float, int, str]:
    """(lumbar RMSE deg, reps found, how the stamps were timed) of one simulated session."""
    sim = simulate(cfg)
    rec = checked(sim.recording)
    res = analyze(rec)
    truth = np.interp(res.time_s, sim.truth_time_s, sim.truth_lumbar_flexion_deg)
    m = np.isfinite(res.lumbar_flexion_deg)
    how = sorted({name for w in rec.warnings for text, name in HOW if text in w}) or ["-"]
    return float(np.sqrt(np.mean((res.lumbar_flexion_deg[m] - truth[m]) ** 2))), len(res.reps), "+".join(how)


def floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=500)
    ap.add_argument("--latencies", default="0.008,0.03,0.06", help="mean latency, s")
    ap.add_argument("--packets", default="1,4", help="samples per notification")
    ap.add_argument("--losses", default="0,0.03", help="share of the samples lost (whole notifications)")
    ap.add_argument("--rates", default="50,100,200", help="sample rate, Hz")
    args = ap.parse_args()
    rows = []
    print(f"{'latency ms':>10s} {'packet':>6s} {'lost':>5s} {'Hz':>4s} {'timed by':>15s} {'reps':>5s} "
          f"{'lumbar':>7s} {'own clock':>9s}")
    grid = itertools.product(floats(args.latencies), [int(p) for p in floats(args.packets)], floats(args.losses),
                             floats(args.rates))
    for k, (latency_s, packet, lost, rate_hz) in enumerate(grid):
        cfg = dataclasses.replace(SCENARIOS["arrival_stamps"], seed=args.seed + k, arrival_latency_s=latency_s,
                                  arrival_packet=packet, drop_fraction=lost, rate_hz=rate_hz)
        own, _, _ = lumbar_rmse(dataclasses.replace(cfg, arrival_latency_s=0.0))
        row: dict[str, float | int | str | None] = {"latency_s": latency_s, "packet": packet, "lost": lost,
                                                    "rate_hz": rate_hz, "own_clock_deg": round(own, 3)}
        try:
            rmse, reps, how = lumbar_rmse(cfg)
            row.update(lumbar_deg=round(rmse, 3), reps=reps, timed_by=how, refused=None)
            cells = f"{how:>15s} {reps:>3d}/8 {rmse:7.2f}"
        except ImuHingeError as exc:
            row.update(lumbar_deg=None, reps=0, timed_by=None, refused=str(exc))
            cells = f"refused: {str(exc)[:60]}"
        rows.append(row)
        print(f"{1e3 * latency_s:10.0f} {packet:6d} {lost:5.2f} {rate_hz:4.0f} {cells} {own:9.2f}", flush=True)
    done = [float(r["lumbar_deg"]) for r in rows if r["lumbar_deg"] is not None]  # type: ignore[arg-type]
    refused = sum(r["refused"] is not None for r in rows)
    summary = {"sessions": len(rows), "refused": refused,
               "lumbar_median_deg": round(float(np.median(done)), 3) if done else None,
               "lumbar_max_deg": round(float(np.max(done)), 3) if done else None,
               "own_clock_median_deg": round(float(np.median([float(r["own_clock_deg"]) for r in rows])), 3)}  # type: ignore[arg-type]
    print(f"{len(rows)} sessions: {refused} refused; lumbar RMSE median {summary['lumbar_median_deg']} deg, worst "
          f"{summary['lumbar_max_deg']} (on the sensor's own clock: median {summary['own_clock_median_deg']})")
    print(json.dumps({"benchmark": "arrival_grid", **summary, "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
