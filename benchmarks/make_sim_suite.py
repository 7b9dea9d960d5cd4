"""Write a folder of simulated cases (CASE.csv, CASE.truth.json, CASE.truth_angles.csv) for scoring.

usage: python benchmarks/make_sim_suite.py OUTDIR [--seeds N] [--first-seed S] [--scenarios a,b,...]

One case per scenario and seed, named ``<scenario>_<seed>``; the seeds of the k-th scenario in
the catalogue start at ``first_seed + 1000 k`` so that scenarios do not share motions. Score the project's
``analyze`` on it with ``python ../shared/eval/score.py --dir OUTDIR``. Prints a table and,
last, one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

from imu_hinge.errors import ImuHingeError
from imu_hinge.simulation import SCENARIOS, simulate, write_case


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--seeds", type=int, default=1, help="cases per scenario (default 1)")
    ap.add_argument("--first-seed", type=int, default=1, help="seed of the first case (default 1)")
    ap.add_argument("--scenarios", default="",
                    help="comma-separated names (default: all with reps; walking-only cases have no hinge to "
                         "define the sagittal plane, so name them to include them)")
    args = ap.parse_args(argv)
    names = ([n.strip() for n in args.scenarios.split(",") if n.strip()]
             or [n for n, c in SCENARIOS.items() if c.exercise != "walk"])
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown or args.seeds < 1:
        msg = f"unknown scenario(s) {', '.join(unknown)}" if unknown else "--seeds must be >= 1"
        print(f"make_sim_suite: error: {msg}; scenarios: {', '.join(SCENARIOS)}", file=sys.stderr)
        return 2
    rows = []
    t_all = time.perf_counter()
    head = ("case", "reps", "dur_s", "rows", "sim_s", "faults (flex/arch/led)")
    print(f"{head[0]:28s} {head[1]:>4s} {head[2]:>6s} {head[3]:>7s} {head[4]:>6s} {head[5]:>22s}")
    catalogue = list(SCENARIOS)
    for name in names:
        offset = 1000 * catalogue.index(name)  # distinct motions across scenarios for the same --seeds
        for seed in range(args.first_seed + offset, args.first_seed + offset + args.seeds):
            case = f"{name}_{seed}"
            t0 = time.perf_counter()
            try:
                res = simulate(replace(SCENARIOS[name], seed=seed, name=case))
                sim_s = time.perf_counter() - t0
                write_case(res, args.outdir / f"{case}.csv")
            except ImuHingeError as exc:
                print(f"make_sim_suite: error: {exc}", file=sys.stderr)
                return exc.exit_code
            n_rows = sum(len(s) for s in res.recording.streams.values())
            counts = [sum(r["labels"][f] is True for r in res.reps)
                      for f in ("lumbar_flexion", "lockout_hyperextension", "lumbar_led")]
            rows.append(dict(case=case, reps=len(res.reps), duration_s=round(res.duration_s, 2), rows=n_rows,
                             sim_s=round(sim_s, 3), positives=counts))
            print(f"{case:28s} {len(res.reps):4d} {res.duration_s:6.1f} {n_rows:7d} {sim_s:6.2f} "
                  f"{'/'.join(map(str, counts)):>22s}")
    summary = dict(outdir=str(args.outdir), cases=len(rows), reps=sum(r["reps"] for r in rows),
                   wall_s=round(time.perf_counter() - t_all, 2),
                   sim_s_max=max(r["sim_s"] for r in rows), scenarios=names, seeds=args.seeds)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
