"""Exercise scripts -> planned sagittal angle trajectories (pelvis ``P``, lumbar ``L``) and hip gains.

The plan is noise-free and exactly zero while standing; :mod:`.simulator` adds postural
sway, out-of-plane wobble and walking on top. Trunk flexion is ``T = P + L``.
Each hinge rep is a chain of minimum-jerk moves (quintic knots); kettlebell swings are
continuous quintic arcs with non-zero acceleration at the top and bottom (no pause).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from imu_hinge.simulation.config import SimConfig
from imu_hinge.simulation.exercise_styles import (
    EXERCISE_SPECS,
    ExerciseSpec,
    fault_plan,
    lumbar_peaks,
    set_exercises,
    uniform,
)
from imu_hinge.simulation.moves import MoveCurves, add_move
from imu_hinge.simulation.trajectory import KnotCurve, min_jerk_fraction

Knot = tuple[float, float, float, float]
"""(time_s, value, rate per s, acceleration per s^2)."""


@dataclass
class RepPlan:
    """One planned rep: which exercise, which faults, and a time window that contains it (s)."""

    index: int
    set_index: int
    exercise: str
    kind: str
    faults: tuple[str, ...]
    window_s: tuple[float, float]
    planned_lumbar_peak_deg: float
    planned_trunk_peak_deg: float


@dataclass
class Script:
    """The planned session: angle curves in deg, hip gains in m, reps, walking and stair bouts
    (start_s, end_s), and the non-hinge movements (:class:`~.moves.MoveCurves`)."""

    duration_s: float
    stand_start_s: float
    pelvis_deg: KnotCurve = field(default_factory=KnotCurve)
    lumbar_deg: KnotCurve = field(default_factory=KnotCurve)
    hip_back_m: KnotCurve = field(default_factory=KnotCurve)
    hip_down_m: KnotCurve = field(default_factory=KnotCurve)
    reps: list[RepPlan] = field(default_factory=list)
    walks: list[tuple[float, float]] = field(default_factory=list)
    stairs: list[tuple[float, float]] = field(default_factory=list)
    moves: MoveCurves = field(default_factory=MoveCurves)

    def move(self, kind: str, t0: float, seated: bool, rng: np.random.Generator) -> float:
        """Plan the non-hinge movement ``kind`` at ``t0``; returns its end time (s)."""
        return add_move(self.moves, self.walks, self.stairs, kind, t0, seated, rng)


@dataclass
class _Rep:
    start_s: float
    pelvis: list[Knot]
    lumbar: list[Knot]
    end_s: float
    trunk_peak_deg: float
    lumbar_peak_deg: float
    faults: tuple[str, ...]


def _hinge_rep(spec: ExerciseSpec, cfg: SimConfig, rng: np.random.Generator, t0: float, lumbar_peak: float,
               faults: set[str], tempo: float) -> _Rep:
    """Knots of one discrete hinge rep starting (trunk leaving standing) at ``t0``."""
    trunk_pk = uniform(rng, cfg.peak_trunk_deg or spec.peak_trunk_deg)
    seated = spec.pelvis_peak_deg is not None
    if seated:  # a bend over a still pelvis: the lumbar spine takes nearly all of it; no injected faults
        faults = set()
        pel_pk = uniform(rng, spec.pelvis_peak_deg or (0.0, 0.0))
        lum_pk = trunk_pk - pel_pk
    else:
        lum_pk = min(lumbar_peak, trunk_pk - 15.0)
        if "back_first" in faults:
            lum_pk = max(lum_pk, 14.0)
        pel_pk = trunk_pk - lum_pk
    descent, ascent = uniform(rng, spec.descent_s) * tempo, uniform(rng, spec.ascent_s) * tempo
    hold = uniform(rng, spec.hold_s) * (tempo if spec.hold_s[1] < 3 else 1.0)
    hold = hold if hold >= 0.05 else 0.0
    creep = uniform(rng, spec.hold_creep_deg) if hold > 3 else 0.0
    lum_bottom = max(lum_pk - creep, 0.6 * lum_pk)
    pel: list[Knot] = []
    lum: list[Knot] = []
    if "back_first" in faults:
        rise = descent * uniform(rng, (0.45, 0.65))
        t_l10 = t0 + rise * min_jerk_fraction(10.0 / lum_bottom)
        pel_on = t_l10 + uniform(rng, (0.15, 0.35))
        t_bottom = max(t0 + descent, pel_on + 0.6)
        lum += [(t0, 0, 0, 0), (t0 + rise, lum_bottom, 0, 0), (t_bottom, lum_bottom, 0, 0)]
        pel += [(pel_on, 0, 0, 0), (t_bottom, pel_pk, 0, 0)]
    else:
        t_bottom = t0 + descent
        lum_on = t0 + descent * uniform(rng, (0.1, 0.4))
        if seated:
            lum_on = t0
        elif lum_bottom >= 10.0:  # make "pelvis reaches 10 deg first" unambiguous (>= 0.2 s)
            t_p10 = t0 + descent * min_jerk_fraction(10.0 / pel_pk)
            s = min_jerk_fraction(10.0 / lum_bottom)
            lum_on = min(max(lum_on, (t_p10 + 0.2 - t_bottom * s) / (1 - s)), t_bottom - 0.3)
        pel += [(t0, 0, 0, 0), (t_bottom, pel_pk, 0, 0)]
        lum += [(lum_on, 0, 0, 0), (t_bottom, lum_bottom, 0, 0)]
    t_hold = t_bottom + hold
    pel.append((t_hold, pel_pk, 0, 0))
    lum.append((t_hold, lum_pk, 0, 0))
    t_top = t_hold + ascent
    if "lockout_arch" in faults:
        lum_arch, trunk_arch = -uniform(rng, (11.5, 18.0)), -uniform(rng, (4.0, 9.0))
        t_arch = t_top + uniform(rng, (0.15, 0.4))
        t_release = t_arch + uniform(rng, (0.3, 0.7))
        end = t_release + uniform(rng, (0.7, 1.1))
        pel_arch = trunk_arch - lum_arch
        pel += [(t_top, pel_arch, 0, 0), (t_release, pel_arch, 0, 0), (end, 0, 0, 0)]
        lum += [(t_arch, lum_arch, 0, 0), (t_release, lum_arch, 0, 0), (end, 0, 0, 0)]
    elif rng.random() < 0.4:  # a mild, harmless lumbar extension at lockout
        end = t_top + uniform(rng, (0.6, 1.0))
        pel.append((t_top, 0, 0, 0))
        lum += [(t_top, -uniform(rng, (1.0, 3.5)), 0, 0), (end, 0, 0, 0)]
    else:
        end = t_top
        pel.append((t_top, 0, 0, 0))
        lum.append((t_top - ascent * uniform(rng, (0.0, 0.25)), 0, 0, 0))
    return _Rep(t0, pel, lum, end, trunk_pk, lum_pk, tuple(sorted(faults)))


def _swing_set(spec: ExerciseSpec, cfg: SimConfig, rng: np.random.Generator, t0: float, peaks: list[float],
               faults: list[set[str]], limit_s: float) -> list[_Rep]:
    """Continuous kettlebell swings: quintic arcs top -> bottom -> top, accelerations matched at the knots.

    Each top is a slight lean back (T -1..-4 deg) passed without a pause; the last swing parks at standing.
    The knot accelerations are those of half-cosine arcs, averaged over the two arcs meeting at a knot.
    """
    times, trunk, lum, lum_top, trunk_top = [t0], [], [], [], []
    for lum_pk in peaks:
        trunk_pk = uniform(rng, cfg.peak_trunk_deg or spec.peak_trunk_deg)
        down, up = uniform(rng, spec.descent_s), uniform(rng, spec.ascent_s)
        top_deg = -uniform(rng, (1.0, 4.0))
        lum_t = -uniform(rng, (0.0, min(2.0, -top_deg)))
        if times[-1] + down + up + 0.8 > limit_s:
            break
        times += [times[-1] + down, times[-1] + down + up]
        trunk.append(trunk_pk)
        lum.append(min(lum_pk, trunk_pk - 15.0))
        trunk_top.append(top_deg)
        lum_top.append(lum_t)
    n = len(trunk)
    if n == 0:
        return []
    trunk_top[-1], lum_top[-1] = 0.0, 0.0  # park the bell: back to standing, at rest
    knot_t = np.asarray(times)
    down_s, up_s = knot_t[1::2] - knot_t[0:-1:2], knot_t[2::2] - knot_t[1::2]
    lum_pk_a, lum_top_a = np.asarray(lum), np.asarray(lum_top)
    half_pi2 = math.pi**2 / 2
    knots: dict[str, list[Knot]] = {}
    for key, pk, top in (("pel", np.asarray(trunk) - lum_pk_a, np.asarray(trunk_top) - lum_top_a),
                         ("lum", lum_pk_a, lum_top_a)):
        prev_top = np.concatenate([[0.0], top[:-1]])
        bottom_acc = -half_pi2 * ((pk - prev_top) / down_s**2 + (pk - top) / up_s**2) / 2
        top_acc = np.zeros(n)
        top_acc[:-1] = half_pi2 * ((pk[:-1] - top[:-1]) / up_s[:-1] ** 2 + (pk[1:] - top[:-1]) / down_s[1:] ** 2) / 2
        seq: list[Knot] = [(t0, 0.0, 0.0, 0.0)]
        for i in range(n):
            seq += [(float(knot_t[2 * i + 1]), float(pk[i]), 0.0, float(bottom_acc[i])),
                    (float(knot_t[2 * i + 2]), float(top[i]), 0.0, float(top_acc[i]))]
        knots[key] = seq
    reps = []
    for i in range(n):
        first = 0 if i == 0 else 1
        pel_k, lum_k = knots["pel"][2 * i + first:2 * i + 3], knots["lum"][2 * i + first:2 * i + 3]
        reps.append(_Rep(float(knot_t[2 * i]), pel_k, lum_k, float(knot_t[2 * i + 2]), trunk[i], lum[i],
                         tuple(sorted(faults[i]))))
    return reps


def _commit(curve: KnotCurve, knots: list[Knot]) -> None:
    for k in knots:
        if abs(k[0] - curve.last_time_s) < 1e-6 and k[1:] == (curve.last_value, 0.0, 0.0):
            continue
        curve.add(*k)


def build_script(cfg: SimConfig, rng: np.random.Generator, move_rng: np.random.Generator | None = None) -> Script:
    """Plan the whole session: quiet standing, sets of reps with rests or walks, quiet standing.

    ``cfg.first_moves`` come right after the first stance, ``cfg.between_moves`` after reps;
    they draw from ``move_rng`` only, so a session without them is the same as before.
    """
    script = Script(duration_s=0.0, stand_start_s=cfg.stand_start_s)
    limit = (cfg.duration_s - cfg.stand_end_s) if cfg.duration_s else math.inf
    move_rng = move_rng if move_rng is not None else np.random.default_rng(0)
    t = cfg.stand_start_s
    for kind in cfg.first_moves:
        t = script.move(kind, t, cfg.seated, move_rng) + uniform(move_rng, (1.0, 2.0))
    n_between = 0
    exercises = set_exercises(cfg, rng) if cfg.exercise != "walk" else []
    for set_index, exercise in enumerate(exercises):
        spec = EXERCISE_SPECS[exercise]
        back, down = uniform(rng, spec.hip_back_m), uniform(rng, spec.hip_down_m)
        if set_index == 0:
            script.hip_back_m = KnotCurve(back)
            script.hip_down_m = KnotCurve(down)
        else:  # rest between sets, hip gains change while standing (pelvis plan exactly zero)
            if t + cfg.rest_s + 1.0 > limit:
                break
            script.hip_back_m.hold(t + 0.3).add(t + 0.8, back)
            script.hip_down_m.hold(t + 0.3).add(t + 0.8, down)
            if cfg.between_sets_moves:
                kind = cfg.between_sets_moves[(set_index - 1) % len(cfg.between_sets_moves)]
                t = max(t + cfg.rest_s, script.move(kind, t + 1.0, cfg.seated, move_rng) + 1.5)
            else:
                if cfg.walk_between_sets and cfg.rest_s >= 4.0:
                    script.walks.append((t + 1.0, t + cfg.rest_s - 2.5))
                t += cfg.rest_s
        faults = fault_plan(cfg, cfg.n_reps, rng)
        if spec.continuous:  # swings: no back-first, no arch (the next swing falls in its 1.2 s lockout
            # window); rounded swings come first, from the hike pass, so none directly follows a clean one
            n_round = sum("rounding" in f for f in faults)
            faults = [{"rounding"} if i < n_round else set() for i in range(len(faults))]
        peaks = lumbar_peaks(cfg, faults, exercise == "fatigue", rng)
        if spec.continuous:
            reps = _swing_set(spec, cfg, rng, t, peaks, faults, limit)
        else:
            reps = []
            for i, (lum_pk, f) in enumerate(zip(peaks, faults, strict=True)):
                tiring = 0.3 * i / max(len(peaks) - 1, 1) if exercise == "fatigue" else 0.0
                slow = cfg.tempo_scale * (1.0 + tiring)
                rep = _hinge_rep(spec, cfg, rng, t, lum_pk, f, slow)
                if rep.end_s > limit:
                    break
                reps.append(rep)
                t = rep.end_s + uniform(rng, spec.pause_s) * cfg.tempo_scale
                if cfg.between_moves and i < len(peaks) - 1:  # clear of the rep's lockout window (1.2 s)
                    kind = cfg.between_moves[n_between % len(cfg.between_moves)]
                    n_between += 1
                    t = script.move(kind, max(t, rep.end_s + 1.3), cfg.seated, move_rng)
                    t += uniform(move_rng, (1.0, 1.8))
        for rep in reps:
            _commit(script.pelvis_deg, rep.pelvis)
            _commit(script.lumbar_deg, rep.lumbar)
            window = (rep.start_s, rep.end_s)
            script.reps.append(RepPlan(len(script.reps) + 1, set_index + 1, exercise, spec.kind, rep.faults,
                                       window, rep.lumbar_peak_deg, rep.trunk_peak_deg))
        if reps:
            t = max(t, reps[-1].end_s + (1.0 if spec.continuous else 0.0))
        if len(reps) < cfg.n_reps:
            break
    walk_s = cfg.walk_after_s or (20.0 if cfg.exercise == "walk" else 0.0)
    if walk_s > 0 and t + walk_s + 3.5 <= limit:
        script.walks.append((t + 1.0, t + 1.0 + walk_s))
        t += walk_s + 3.5
    script.duration_s = cfg.duration_s if cfg.duration_s else t + cfg.stand_end_s
    return script
