"""Bridged gaps in random lossy sessions: the turn across each, linear (live) and chosen (offline), against the truth.

usage: python benchmarks/gap_bridges.py [--seed 30000] [--sessions 400] [--jobs 2]

Sessions are drawn as ``benchmarks/real_world_mix.py`` draws them (its generator, seeds from ``--seed``, 30 % of
them sitting down first), and those with samples lost are kept. For every gap a filter bridges (longer than 1.5
periods, up to the re-anchoring's ``gap_s``) of either sensor: the error (deg) of the turn from the sample before
the gap to the one ending it, the missing part crossed at the live pipeline's linear rate, at the rate
:func:`imu_hinge.fusion.gap_bridge.gap_rates` chooses, and at the best of the four models (an oracle: what a
perfect choice would give), against the simulator's orientation. By gap length: gaps, summed errors, the gaps the
choice made worse or better than linear by over 1 deg, and how often each model was chosen. Then the cost: the
choice's CPU time per recording against the whole analysis's (``analyze``, threads 1) of the same recordings, in the
same run. Prints the table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

sys.path.insert(0, str(Path(__file__).resolve().parent))
from real_world_mix import draw

from imu_hinge.analysis.pipeline import HingePipeline
from imu_hinge.fusion.base import GAP_FACTOR
from imu_hinge.fusion.gap_bridge import MODELS, gap_rates, model_rates
from imu_hinge.fusion.gap_repair_params import GapRepairParams
from imu_hinge.fusion.reanchor_params import ReanchorParams
from imu_hinge.recording.checks import checked
from imu_hinge.simulation import simulate

BANDS = ((0.0, 0.055), (0.055, 0.105), (0.105, 0.155), (0.155, 0.5))
"""Gap lengths (the interval from the sample before to the one ending it), s."""


def _turn_error_deg(rot: Rotation, i: int, w: np.ndarray, missing_s: float, g_i: np.ndarray, ts_s: float) -> float:
    turn = Rotation.from_rotvec(w * missing_s) * Rotation.from_rotvec(g_i * ts_s)
    return float(np.degrees((turn.inv() * (rot[i - 1].inv() * rot[i])).magnitude()))


def one(seed: int) -> dict:
    """The gaps of one session: (dt, linear, chosen, oracle, model) rows, and the CPU times."""
    sim = simulate(draw(seed, 0.3 if seed % 10 < 3 else 0.0))
    params, gap_s = GapRepairParams(), ReanchorParams().gap_s
    rows, choose_s = [], 0.0
    for role, s in sim.sensors.items():
        t, g = s.true_time_s, np.asarray(s.stream.gyr_rad_s)
        ts = 1.0 / (sim.config.rate_hz if role == "sacrum" or sim.config.thoracic_rate_hz is None
                    else sim.config.thoracic_rate_hz)
        q = np.asarray(s.orientation_wxyz)
        rot = Rotation.from_quat(np.column_stack([q[:, 1:], q[:, :1]]))
        t0 = time.process_time()
        chosen = gap_rates(t, g, 1.0 / ts, params, gap_s)
        choose_s += time.process_time() - t0
        dt = np.diff(t)
        ends = np.flatnonzero(dt > GAP_FACTOR * ts) + 1
        for k, i in enumerate(ends.tolist()):
            if dt[i - 1] > gap_s:
                continue
            first = int(ends[k - 1]) if k else 0
            stop = int(ends[k + 1]) if k + 1 < len(ends) else len(t)
            rates = model_rates(t, g, i, ts, params.bridge_window_s, first, stop)
            missing_s = float(dt[i - 1]) - ts
            errs = [_turn_error_deg(rot, i, w, missing_s, g[i], ts) for w in rates]
            pick = 0
            if chosen is not None and np.isfinite(chosen[i]).all():
                pick = int(np.argmin(np.abs(rates - chosen[i]).sum(axis=1)))
            rows.append((float(dt[i - 1]), errs[0], errs[pick], min(errs), pick))
    rec = checked(sim.recording)
    t0 = time.process_time()
    HingePipeline().analyze(rec, threads=1)
    return {"seed": seed, "rows": rows, "choose_s": choose_s, "analyze_s": time.process_time() - t0}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=30000)
    ap.add_argument("--sessions", type=int, default=400, help="sessions drawn (those with samples lost are kept)")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    seeds = [s for s in range(args.seed, args.seed + args.sessions)
             if draw(s, 0.3 if s % 10 < 3 else 0.0).drop_fraction > 0]
    with Pool(args.jobs) as pool:
        results = pool.map(one, seeds, chunksize=2)
    rows = np.array([r for res in results for r in res["rows"]])
    print(f"{len(seeds)} lossy sessions of {args.sessions} drawn (seeds {args.seed}-{args.seed + args.sessions - 1}),"
          f" {len(rows)} bridged gaps")
    print(f"{'gap s':>12} {'gaps':>6} {'linear deg':>11} {'chosen deg':>11} {'oracle deg':>11} {'worse>1':>8}"
          f" {'better>1':>9}  chosen models")
    bands = {}
    for lo, hi in BANDS:
        b = rows[(rows[:, 0] > lo) & (rows[:, 0] <= hi)]
        picks = {m: int((b[:, 4] == k).sum()) for k, m in enumerate(MODELS)}
        bands[f"{lo}-{hi}"] = {"gaps": len(b), "linear_deg": round(float(b[:, 1].sum()), 1),
                               "chosen_deg": round(float(b[:, 2].sum()), 1),
                               "oracle_deg": round(float(b[:, 3].sum()), 1),
                               "worse_1deg": int((b[:, 2] - b[:, 1] > 1).sum()),
                               "better_1deg": int((b[:, 1] - b[:, 2] > 1).sum()), "chosen": picks}
        d = bands[f"{lo}-{hi}"]
        print(f"{lo:5.3f}-{hi:5.3f} {d['gaps']:6d} {d['linear_deg']:11.1f} {d['chosen_deg']:11.1f}"
              f" {d['oracle_deg']:11.1f} {d['worse_1deg']:8d} {d['better_1deg']:9d}  "
              + ", ".join(f"{m} {n}" for m, n in picks.items()))
    total = {"linear_deg": round(float(rows[:, 1].sum()), 1), "chosen_deg": round(float(rows[:, 2].sum()), 1),
             "oracle_deg": round(float(rows[:, 3].sum()), 1)}
    choose = sum(r["choose_s"] for r in results)
    analyze = sum(r["analyze_s"] for r in results)
    share = total["chosen_deg"] / total["linear_deg"]
    print(f"all: linear {total['linear_deg']} deg, chosen {total['chosen_deg']} ({share:.2f} of it), "
          f"oracle {total['oracle_deg']}")
    print(f"cost: choosing the bridges took {1000 * choose / len(results):.1f} ms CPU per recording, "
          f"{choose / analyze:.2f} of the whole analysis's {1000 * analyze / len(results):.1f} ms (which includes it)")
    print(json.dumps({"benchmark": "gap_bridges", "seed": args.seed, "sessions": args.sessions, "lossy": len(seeds),
                      "gaps": len(rows), "bands": bands, "total": total,
                      "choose_ms_per_recording": round(1000 * choose / len(results), 2),
                      "choose_share_of_analysis": round(choose / analyze, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
