"""The exercise catalogue: how deep, how fast and how hips-back each exercise is performed.

Ranges are (low, high) and drawn uniformly per rep (per set for the hip gains). Depth is
the peak trunk flexion ``T``; the lumbar share ``L`` is chosen by the fault plan and the
pelvis takes the rest (``P = T - L``). Hip translation follows the pelvis:
``hips back = hip_back_m * sin(P)``, ``hips down = hip_down_m * (1 - cos(P))``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from imu_hinge.simulation.config import SimConfig

FAULTS: tuple[str, ...] = ("rounding", "back_first", "lockout_arch")
"""Faults the simulator injects per rep (truth labels are computed from the angle traces)."""


@dataclass(frozen=True)
class ExerciseSpec:
    """How one exercise is performed; durations in s (scaled by ``SimConfig.tempo_scale``)."""

    kind: str
    peak_trunk_deg: tuple[float, float]
    descent_s: tuple[float, float]
    ascent_s: tuple[float, float]
    hold_s: tuple[float, float]
    pause_s: tuple[float, float]
    hip_back_m: tuple[float, float]
    hip_down_m: tuple[float, float]
    continuous: bool = False
    hold_creep_deg: tuple[float, float] = (0.0, 0.0)
    pelvis_peak_deg: tuple[float, float] | None = None
    """Set for a bend over a still pelvis (seated): the pelvis peaks here and the lumbar spine takes the rest."""


EXERCISE_SPECS: dict[str, ExerciseSpec] = {
    "rdl": ExerciseSpec("hinge", (50, 90), (1.2, 2.4), (0.9, 1.7), (0.0, 0.6), (0.7, 2.0),
                        (0.18, 0.28), (0.04, 0.08)),
    "good_morning": ExerciseSpec("good_morning", (60, 95), (1.5, 2.8), (1.2, 2.2), (0.0, 0.8), (0.8, 2.0),
                                 (0.20, 0.30), (0.02, 0.05)),
    "kb_swing": ExerciseSpec("swing", (55, 80), (0.52, 0.68), (0.45, 0.6), (0.0, 0.0), (0.0, 0.0),
                             (0.20, 0.30), (0.12, 0.18), continuous=True),
    "long_hold": ExerciseSpec("long_hold", (45, 80), (1.5, 2.5), (1.2, 2.0), (5.0, 12.0), (1.5, 3.0),
                              (0.18, 0.28), (0.04, 0.08), hold_creep_deg=(0.0, 3.0)),
    "wall_hinge": ExerciseSpec("wall_hinge", (45, 60), (2.0, 3.5), (1.8, 3.0), (0.5, 1.5), (1.0, 2.5),
                               (0.28, 0.36), (0.03, 0.06)),
    "seated_bend": ExerciseSpec("seated_bend", (30, 50), (1.4, 2.4), (1.1, 2.0), (0.3, 1.0), (1.0, 2.2),
                                (0.0, 0.0), (0.0, 0.0), pelvis_peak_deg=(0.3, 1.8)),
}
EXERCISE_SPECS["hinge"] = EXERCISE_SPECS["rdl"]
EXERCISE_SPECS["fatigue"] = EXERCISE_SPECS["rdl"]

MIXED_POOL: tuple[str, ...] = ("rdl", "good_morning", "kb_swing", "long_hold", "wall_hinge")
"""Exercises a ``mixed`` session draws its sets from."""


def uniform(rng: np.random.Generator, span: tuple[float, float]) -> float:
    """One draw from U(span[0], span[1])."""
    return float(rng.uniform(span[0], span[1])) if span[1] > span[0] else float(span[0])


def set_exercises(cfg: SimConfig, rng: np.random.Generator) -> list[str]:
    """The exercise of each set: ``cfg.exercise`` throughout, or a fresh draw per set for ``mixed``."""
    if cfg.exercise != "mixed":
        return [cfg.exercise] * cfg.n_sets
    picks = list(rng.permutation(len(MIXED_POOL)))
    while len(picks) < cfg.n_sets:
        picks += list(rng.permutation(len(MIXED_POOL)))
    return [MIXED_POOL[int(i)] for i in picks[:cfg.n_sets]]


def fault_plan(cfg: SimConfig, n_reps: int, rng: np.random.Generator) -> list[set[str]]:
    """Which reps of a set carry which faults: ``round(frac * n)`` reps per fault, placed at random."""
    plan: list[set[str]] = [set() for _ in range(n_reps)]
    for fault, frac in (("rounding", cfg.rounding_frac), ("back_first", cfg.back_first_frac),
                        ("lockout_arch", cfg.lockout_arch_frac)):
        exact = frac * n_reps
        count = int(np.floor(exact)) + int(rng.random() < exact - np.floor(exact))
        for i in rng.choice(n_reps, size=min(count, n_reps), replace=False) if n_reps else []:
            plan[int(i)].add(fault)
    return plan


def lumbar_peaks(cfg: SimConfig, faults: list[set[str]], fatigue: bool,
                 rng: np.random.Generator) -> list[float]:
    """Planned peak lumbar flexion (deg) of each rep of a set.

    Clean reps stay in ``cfg.clean_lumbar_deg`` (well below the 16..24 deg borderline),
    rounding reps in ``cfg.rounding_lumbar_deg``; back-first reps flex the lumbar spine
    early by 14..30 deg. A fatigue set creeps linearly by ``fatigue_creep_deg`` (22 deg when
    the exercise is ``fatigue`` and no creep is given) from a low start.
    """
    n = len(faults)
    creep = cfg.fatigue_creep_deg or (22.0 if fatigue else 0.0)
    base_deg = uniform(rng, (3.0, 6.0))
    out = []
    for i, rep_faults in enumerate(faults):
        if creep > 0:
            value = base_deg + creep * i / max(n - 1, 1) + rng.normal(0.0, 0.7)
            if "rounding" in rep_faults:
                value = max(value, uniform(rng, cfg.rounding_lumbar_deg))
        elif "rounding" in rep_faults:
            value = uniform(rng, cfg.rounding_lumbar_deg)
        elif "back_first" in rep_faults:
            value = uniform(rng, (14.0, 30.0))
        else:
            value = uniform(rng, cfg.clean_lumbar_deg)
        out.append(float(value))
    return out
