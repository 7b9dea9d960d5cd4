"""Accuracy of the causal pipeline against simulator ground truth, many seeds and scenario kinds.

usage: python benchmarks/accuracy_sim.py [--seeds 3] [--scenarios a,b,...] [--real-world | --classic]
                                         [--filter vqf]
                                         [--fusion-option NAME=JSON ...]

For every scenario of ``imu_hinge.simulation.SCENARIOS`` (walking-only excluded: it has no
hinge) and seed: angle RMSE against the truth traces (from 1 s before the first rep), reps
found vs true, peak lumbar flexion error, fault confusion against the truth labels (borderline
reps are labelled None and left out, as in the simulator's truth), and the latency of the first
lumbar_flexion alert after the true crossing of the threshold, reps found outside every true
rep (``extra``: a side bend, a twist, walking counted as a rep) and lumbar_flexion alerts outside
every true rep (``falseLF``, as ../shared/eval/score.py counts them). A case the pipeline refuses
(an :class:`ImuHingeError`) is a row ``refused: <reason>``, not a crash. Prints one row per
scenario (mean over seeds, worst case beside it), the pooled metrics with the issue's goals,
the worst scenario and the refusals by name, and a final JSON line. ``--real-world`` runs the
real-world scenarios only (``imu_hinge.simulation.REAL_WORLD``), ``--classic`` the 19 kinds of before them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

import numpy as np

from imu_hinge.analysis.analysis_params import AnalysisParams
from imu_hinge.analysis.pipeline import analyze
from imu_hinge.detection.rep_events import FAULTS
from imu_hinge.errors import ImuHingeError
from imu_hinge.fusion import make_filter
from imu_hinge.recording.checks import checked
from imu_hinge.simulation import REAL_WORLD, SCENARIOS, match_reps, simulate

GOALS = {"lumbar_rmse_median": 0.8, "lumbar_rmse_max": 2.0, "segment_rmse_median": 1.0, "peak_err_median": 1.0,
         "peak_err_p95": 2.5, "f1_lumbar_flexion": 0.95, "f1_lockout_hyperextension": 0.9, "f1_lumbar_led": 0.85,
         "latency_median_s": 0.2}


def rmse(sim, res, col: str) -> float:
    truth = np.interp(res.time_s, sim.truth_time_s, getattr(sim, "truth_" + col))
    est = getattr(res, col)
    m = np.isfinite(est) & (res.time_s > sim.stand_start_s - 1.0)
    return float(np.sqrt(np.mean((est[m] - truth[m]) ** 2)))


def score_case(sim, res) -> dict:
    out = {c: rmse(sim, res, c) for c in ("pelvic_tilt_deg", "trunk_flexion_deg", "lumbar_flexion_deg")}
    matched = match_reps(sim.reps, res.reps)
    peak_err, conf, lat = [], {f: [0, 0, 0] for f in FAULTS}, []
    for tr, i in zip(sim.reps, matched, strict=True):
        got = res.reps[i] if i is not None else None
        if got is not None:
            peak_err.append(abs(got.peak_lumbar_flexion_deg - tr["peak_lumbar_flexion_deg"]))
        for f in FAULTS:
            lab = tr["labels"][f]
            if lab is None:
                continue
            flagged = got is not None and f in got.faults
            conf[f][0 if (lab and flagged) else 1 if flagged else 2 if lab else 0] += int(lab or flagged)
        if tr["labels"]["lumbar_flexion"]:
            k = (sim.truth_time_s >= tr["start_s"]) & (sim.truth_lumbar_flexion_deg > 20)
            alerts = [a.time_s for a in res.alerts
                      if a.fault == "lumbar_flexion" and tr["start_s"] - 0.2 <= a.time_s <= tr["end_s"] + 0.5]
            if alerts and k.any():
                lat.append(alerts[0] - float(sim.truth_time_s[k][0]))
    windows = [(tr["start_s"] - 0.2, tr["end_s"] + 0.5) for tr in sim.reps]
    false_lf = sum(1 for a in res.alerts if a.fault == "lumbar_flexion"
                   and not any(s <= a.time_s <= e for s, e in windows))
    out.update(n_true=len(sim.reps), n_found=len(res.reps), matched=sum(i is not None for i in matched),
               peak_err=peak_err, conf=conf, latency=lat, false_lf=false_lf)
    return out


def f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--scenarios", default=",".join(k for k, v in SCENARIOS.items() if v.exercise != "walk"))
    only = ap.add_mutually_exclusive_group()
    only.add_argument("--real-world", action="store_true", help="only the real-world scenarios (overrides --scenarios)")
    only.add_argument("--classic", action="store_true",
                      help="only the 19 scenario kinds of before the real-world ones (rate_25hz belongs to both)")
    ap.add_argument("--filter", default="vqf")
    ap.add_argument("--fusion-option", action="append", default=[], metavar="NAME=JSON",
                    help="a fusion filter parameter, e.g. tau_acc_s=2.0 (repeatable)")
    args = ap.parse_args()
    options = {k: json.loads(v) for k, v in (o.split("=", 1) for o in args.fusion_option)}
    params = AnalysisParams(fusion_method=args.filter, fusion_options=options)
    try:  # a bad filter or option is the command's error, not a refusal of every case
        make_filter(params.fusion_method, 100.0, **params.filter_options())
    except ImuHingeError as exc:
        print(f"accuracy_sim: error: {exc}", file=sys.stderr)
        return 2
    names = [n.strip() for n in args.scenarios.split(",") if n.strip()]
    if args.real_world or args.classic:
        names = (list(REAL_WORLD) if args.real_world
                 else [n for n in names if n not in REAL_WORLD or n == "rate_25hz"])
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        print(f"accuracy_sim: error: unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}",
              file=sys.stderr)
        return 2
    cases, refused = [], []
    print(f"{'scenario':22s} {'reps':>9s} {'extra':>5s} {'pelvis':>6s} {'trunk':>6s} {'lumbar':>6s} {'worst':>6s} "
          f"{'peakerr':>7s} {'falseLF':>7s}")
    for name in names:
        rows, why = [], []
        for seed in range(args.seeds):
            sim = simulate(dataclasses.replace(SCENARIOS[name], seed=7000 + 97 * seed))
            try:
                res = analyze(checked(sim.recording), params)  # as users get it: the input checks first
            except ImuHingeError as exc:  # a refusal is a result of the benchmark, not a crash of it
                why.append(str(exc))
                refused.append((name, 7000 + 97 * seed, str(exc)))
                continue
            rows.append(score_case(sim, res))
        cases.extend((name, r) for r in rows)
        note = f"  refused {len(why)}/{args.seeds}: {why[0]}" if why else ""
        if not rows:
            print(f"{name:22s} refused: {why[0]}" + (f" (all {len(why)} seeds)" if len(why) > 1 else ""), flush=True)
            continue
        lum = [r["lumbar_flexion_deg"] for r in rows]
        pe = np.concatenate([r["peak_err"] for r in rows] or [[np.nan]])
        print(f"{name:22s} {sum(r['matched'] for r in rows):>4d}/{sum(r['n_true'] for r in rows):<4d} "
              f"{sum(r['n_found'] - r['matched'] for r in rows):5d} "
              f"{np.mean([r['pelvic_tilt_deg'] for r in rows]):6.2f} "
              f"{np.mean([r['trunk_flexion_deg'] for r in rows]):6.2f} "
              f"{np.mean(lum):6.2f} {max(lum):6.2f} {np.nanmedian(pe) if len(pe) else np.nan:7.2f} "
              f"{sum(r['false_lf'] for r in rows):7d}{note}", flush=True)
    rs = [r for _, r in cases]
    if not rs:
        print(f"all {len(refused)} cases refused")
        print(json.dumps({"benchmark": "accuracy_sim", "cases": 0, "refused": len(refused)}))
        return 0
    lum = np.array([r["lumbar_flexion_deg"] for r in rs])
    seg = np.array([[r["pelvic_tilt_deg"], r["trunk_flexion_deg"]] for r in rs])
    pe = np.concatenate([r["peak_err"] for r in rs] + [[np.nan]])
    lat = np.concatenate([r["latency"] for r in rs] or [[np.nan]])
    worst = cases[int(np.nanargmax(lum))]
    m = {"cases": len(rs), "refused": len(refused), "lumbar_rmse_median": float(np.nanmedian(lum)),
         "lumbar_rmse_max": float(np.nanmax(lum)),
         "worst_case": worst[0], "segment_rmse_median": float(np.nanmedian(seg)),
         "reps_true": sum(r["n_true"] for r in rs), "reps_found": sum(r["n_found"] for r in rs),
         "reps_matched": sum(r["matched"] for r in rs), "false_lumbar_alerts": sum(r["false_lf"] for r in rs),
         "peak_err_median": float(np.nanmedian(pe)),
         "peak_err_p95": float(np.nanpercentile(pe, 95)), "latency_median_s": float(np.nanmedian(lat))}
    for f in FAULTS:
        m["f1_" + f] = f1(*np.sum([r["conf"][f] for r in rs], axis=0))
    print("pooled:", ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in m.items()))
    fails = [k for k, g in GOALS.items() if not np.isfinite(m[k]) or (m[k] > g if not k.startswith("f1") else m[k] < g)]
    if refused:
        fails.append("refused")
    if m["false_lumbar_alerts"]:
        fails.append("false_lumbar_alerts")
    print("goals:", "all met" if not fails else "missed " + ", ".join(fails))
    print(f"worst: {worst[0]} (lumbar RMSE {float(np.nanmax(lum)):.2f} deg)"
          + (f"; refused: {', '.join(sorted({n for n, _, _ in refused}))}" if refused else ""))
    print(json.dumps({"benchmark": "accuracy_sim", "filter": args.filter, "fusion_options": options,
                      "seeds": args.seeds,
                      **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in m.items()}, "missed": fails}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
