"""Random sessions from the simulator's real-world conditions, mixed: analyze against the truth.

usage: python benchmarks/real_world_mix.py [--sessions 40] [--seed 4000] [--sit-first 0.0]

Each session is drawn at random (seeded), as real recordings come: an exercise (RDL, hinge, good morning,
kettlebell swings, long holds, wall hinges, a fatiguing set, a mixed session), 1-2 sets of 4-11 reps, a rate
(25-200 Hz; the thoracic sensor at the same or its own), random mountings, some rounding, a lumbar-first start or an
arch at the lockout, a stand of 0.25-4 s first, sway and wobble; and, each with its own chance, a move before the
first rep (walking, stairs, sitting down, bending back or sideways, twisting: 40 %), side bends or twists between reps
(30 %), walking, stairs or a seat between sets (30 % of two-set sessions), soft tissue (30 %), a gyro bias that warms
up (30 %), pink noise (30 %), samples lost (1-6 %: 30 %), a sensor lost for 0.6-6 s (25 %), a sensor that slips on
the body by 3-8 deg (15 %), stamps taken on arrival (20 %). ``--sit-first S``: in that share of the sessions the
move before the first rep is sitting down (after a stand of 0.1-1 s): a seat is then the first quiet posture.

Each goes through the input checks and ``analyze`` as a user's recording does. Per session: lumbar RMSE over the
rows with a value, true reps found (a found rep's bottom inside the true rep) and extra ones, peak lumbar error of
the found reps; a refused session is counted as such. Prints the summary (lumbar RMSE median, p90, worst, and the mean
in the JSON line; reps found and extra; sessions with every rep found and none extra; peak error median and p95), the
five worst sessions with what they hold,
then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass, field

import numpy as np

from imu_hinge.analysis.pipeline import HingePipeline
from imu_hinge.errors import ImuHingeError
from imu_hinge.recording.checks import checked
from imu_hinge.simulation import SimConfig, match_reps, simulate
from imu_hinge.simulation.config import MOVES

EXERCISES = ("rdl", "hinge", "good_morning", "kb_swing", "long_hold", "wall_hinge", "fatigue", "mixed")


def draw(seed: int, sit_first: float) -> SimConfig:
    """One random session (see the module docstring)."""
    rng = np.random.default_rng(seed)
    ex = str(rng.choice(EXERCISES))
    rate = float(rng.choice([25, 50, 52, 100, 104, 200]))
    sits = rng.random() < sit_first
    kw: dict[str, object] = dict(
        seed=seed, name=f"mix{seed}", exercise=ex, n_reps=int(rng.integers(4, 12)), n_sets=int(rng.integers(1, 3)),
        rate_hz=rate, thoracic_rate_hz=float(rng.choice([rate, 52.0, 104.0])), mount_sacrum="random",
        mount_thoracic="random", rounding_frac=float(rng.choice([0, 0.3, 0.6])),
        back_first_frac=float(rng.choice([0, 0.2])),
        lockout_arch_frac=0.0 if ex == "kb_swing" else float(rng.choice([0, 0.2])),
        stand_start_s=float(rng.choice([0.1, 0.25, 0.5, 1.0] if sits else [0.25, 1.0, 4.0])),
        sway_deg=float(rng.uniform(0.3, 1.5)), wobble_deg=float(rng.uniform(1, 4)))
    if sits:
        kw["first_moves"] = ("sit_down",)
    elif rng.random() < 0.4:
        kw["first_moves"] = (str(rng.choice(MOVES)),)
    if rng.random() < 0.3:
        kw["between_moves"] = tuple(str(m) for m in rng.choice(["side_bend", "twist"], 2))
    if rng.random() < 0.3 and kw["n_sets"] == 2:
        kw["between_sets_moves"] = (str(rng.choice(["walk", "stairs", "sit_down"])),)
    if rng.random() < 0.3:
        kw["tissue_deg"] = float(rng.uniform(1, 3))
    if rng.random() < 0.3:
        kw["gyro_bias_warmup_dps"] = float(rng.uniform(0.5, 2))
    if rng.random() < 0.3:
        kw["noise_colour"] = "pink"
    if rng.random() < 0.3:
        kw["drop_fraction"] = float(rng.choice([0.01, 0.03, 0.06]))
    if rng.random() < 0.25:
        t0 = float(rng.uniform(8, 30))
        kw["outage_s"] = (t0, t0 + float(rng.uniform(0.6, 6)))
        kw["outage_role"] = str(rng.choice(["sacrum", "thoracic"]))
    if rng.random() < 0.15:
        kw["slip"] = (str(rng.choice(["sacrum", "thoracic"])), float(rng.uniform(10, 30)), float(rng.uniform(3, 8)))
    if rng.random() < 0.2:
        kw["arrival_latency_s"] = float(rng.choice([0.008, 0.02]))
        kw["arrival_packet"] = int(rng.choice([1, 4]))
    return SimConfig(**kw)  # type: ignore[arg-type]


def what(cfg: SimConfig) -> str:
    """The session's conditions in a few words."""
    parts = [cfg.exercise, f"{cfg.rate_hz:g} Hz", f"stand {cfg.stand_start_s:g} s"]
    parts += [f"first {m}" for m in cfg.first_moves] + [f"then {m}" for m in cfg.between_sets_moves]
    if cfg.between_moves:
        parts.append("bends/twists")
    if cfg.slip:
        parts.append(f"{cfg.slip[0]} slips {cfg.slip[2]:.1f} deg at {cfg.slip[1]:.0f} s")
    if cfg.outage_s:
        parts.append(f"{cfg.outage_role} lost {cfg.outage_s[1] - cfg.outage_s[0]:.1f} s")
    if cfg.drop_fraction:
        parts.append(f"{cfg.drop_fraction:.0%} lost")
    if cfg.arrival_latency_s:
        parts.append(f"arrival stamps ({cfg.arrival_latency_s * 1e3:g} ms, {cfg.arrival_packet}/packet)")
    return ", ".join(parts)


@dataclass
class Scored:
    """One session's numbers (``refused``: the one-line error instead)."""

    rmse: float = math.nan
    found: int = 0
    true: int = 0
    extra: int = 0
    peak_err: list[float] = field(default_factory=list)
    refused: str | None = None


def score(cfg: SimConfig) -> Scored:
    sim = simulate(cfg)
    try:
        res = HingePipeline().analyze(checked(sim.recording))
    except ImuHingeError as exc:
        return Scored(refused=str(exc))
    truth = np.interp(res.time_s, sim.truth_time_s, sim.truth_lumbar_flexion_deg)
    m = np.isfinite(res.lumbar_flexion_deg)
    pairs = [(tr, res.reps[i]) for tr, i in zip(sim.reps, match_reps(sim.reps, res.reps), strict=True) if i is not None]
    peak_err = [abs(r.peak_lumbar_flexion_deg - tr["peak_lumbar_flexion_deg"]) for tr, r in pairs
                if math.isfinite(r.peak_lumbar_flexion_deg)]
    return Scored(float(np.sqrt(np.mean((res.lumbar_flexion_deg[m] - truth[m]) ** 2))), len(pairs), len(sim.reps),
                  len(res.reps) - len(pairs), peak_err)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=40)
    ap.add_argument("--seed", type=int, default=4000)
    ap.add_argument("--sit-first", type=float, default=0.0, help="share of sessions that sit down first")
    args = ap.parse_args()
    cfgs = [draw(args.seed + k, args.sit_first) for k in range(args.sessions)]
    rows = [score(cfg) for cfg in cfgs]
    done = [r for r in rows if r.refused is None]
    rm = np.array([r.rmse for r in done] or [math.nan])
    pe = np.array([e for r in done for e in r.peak_err] or [math.nan])
    summary = {"refused": len(rows) - len(done), "lumbar_rmse_mean": round(float(np.mean(rm)), 3),
               "lumbar_rmse_median": round(float(np.median(rm)), 3),
               "lumbar_rmse_p90": round(float(np.percentile(rm, 90)), 3), "lumbar_rmse_max": round(float(rm.max()), 3),
               "reps_found": sum(r.found for r in done), "reps_true": sum(r.true for r in done),
               "reps_extra": sum(r.extra for r in done),
               "sessions_exact": sum(r.found == r.true and not r.extra for r in done),
               "peak_err_median": round(float(np.median(pe)), 3),
               "peak_err_p95": round(float(np.percentile(pe, 95)), 3)}
    print(f"{len(rows)} sessions (seed {args.seed}, sit first {args.sit_first:.0%}): "
          f"{summary['refused']} refused; lumbar RMSE median {summary['lumbar_rmse_median']:.2f} deg, "
          f"p90 {summary['lumbar_rmse_p90']:.2f}, worst {summary['lumbar_rmse_max']:.2f}; reps found "
          f"{summary['reps_found']}/{summary['reps_true']} ({summary['reps_extra']} extra), sessions exact "
          f"{summary['sessions_exact']}/{len(done)}; "
          f"peak lumbar error median {summary['peak_err_median']:.2f} deg, p95 {summary['peak_err_p95']:.2f}")
    print(f"{'seed':>6s} {'lumbar':>7s} {'reps':>7s}  conditions")
    order = sorted(range(len(rows)), key=lambda i: -(math.inf if rows[i].refused else rows[i].rmse))
    for i in order[:5]:
        r = rows[i]
        cells = (f"refused: {r.refused[:60]}" if r.refused is not None else f"{r.rmse:7.2f} {r.found:>3d}/{r.true:<3d}")
        print(f"{args.seed + i:6d} {cells}  {what(cfgs[i])}")
    print(json.dumps({"benchmark": "real_world_mix", "sessions": len(rows), "seed": args.seed,
                      "sit_first": args.sit_first, **summary}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
