"""A sensor moved on the body mid-session? Told from the standing posture at the reps' ends.

Every angle is relative to the stance the session was calibrated on, so a lifter standing tall
reads ``L`` (lumbar flexion) near zero. A hinge rep starts and ends upright: just before a rep
starts and just after it ends the lifter stands, and there the standing ``L`` of a set stays
within a few degrees (our simulator and the shared dev cases: within ±1.7 deg; a slow posture
drift moves it gradually). A sensor that slips on the skin or is knocked turns on its segment:
from then on every standing ``L`` sits off by the slip's angle, a *step* that stays. Standing
``T`` (thoracic sensor slipped) or ``P`` (sacrum sensor) steps with it. Nothing in the angles can
undo a slip with certainty (a changed posture looks the same), so live this only tells: the reps after the
step are offset by about its size, and the fix is to re-strap the sensor and calibrate again. Offline,
``analyze`` takes the step out of the moved sensor's segment angle (:func:`take_out_moves`) and says so: a
step this size that stays is far likelier a slip (standing keeps within ±1.7 deg) than a new posture.

The rule (all thresholds in :class:`MountCheckParams`): collect the standing ``L`` (median over
still, upright samples) just before each rep's start and just after its end (where a sensor was lost there:
the still samples nearest the rep, up to ``reach_s`` out), in time order, with the calibration stance as a first
value of 0. Still and upright is not always standing: a lockout
held arched (the pelvis tipped forward, the trunk back) or a slow hinge begun within the window passes
too; such a value, its pelvis ``pelvis_forward_deg`` more forward than the most upright of the
``neighbours`` values before it and than the most upright of those after it, is left out (arched lockouts
among the values hid a slip in 7 of 8 simulated sets with half the reps arched). A move is a split of that
sequence where the values before agree (``agree_share`` of them within ``spread_deg`` of their median), the
values after agree, both sides hold enough values (after: from at least ``min_reps_after`` reps), and their medians
differ by at least ``min_shift_deg``; up to ``max_transition`` values in between may be left out (the
filter settling on the new inclination); of several such splits the one fitting best (least absolute deviation
from the two medians) places the step. The sensor named is the one whose standing angle stepped
more (``T`` for the thoracic sensor, ``P`` for the sacrum); its segment's step is taken as ``L``'s (the pelvis's
with the sign turned): a lean that differs between the two sides moves ``T`` and ``P`` alike and leaves ``L``, so
``L`` holds the slip alone (840 random sessions of benchmarks/real_world_mix.py: 41 better, 9 worse than with the
segment's own median step; lumbar RMSE mean 1.029 -> 1.014 deg).
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right, insort
from dataclasses import dataclass
from typing import Any

import numpy as np

from imu_hinge.samples import SENSOR_ROLES

PELVIS, TRUNK = SENSOR_ROLES


@dataclass(frozen=True)
class MountCheckParams:
    window_s: float = 1.0
    """Standing is looked for within this long before a rep's start and after its end, s."""
    guard_s: float = 0.15
    """Samples this close to a rep's start or end are left out (the motion begins or settles), s."""
    max_rate_deg_s: float = 8.0
    """A sample counts as still when T and P change slower than this, deg/s."""
    max_upright_deg: float = 12.0
    """... and as upright when |T| and |P| stay below this, deg (the detector's rep ends at T < 10)."""
    min_samples: int = 10
    """A standing value needs at least this many still, upright samples."""
    spread_deg: float = 1.5
    """Values on each side of the step lie within this of their side's median, deg."""
    agree_share: float = 0.7
    """Share of each side's values that must lie within ``spread_deg`` (a stray value, e.g. the lifter still
    settling after the last rep, does not hide a step)."""
    min_shift_deg: float = 3.5
    """The medians of the two sides differ by at least this, deg (posture keeps within ±1.7)."""
    max_transition: int = 2
    """Standing values between the two sides that may be left out: the fusion filter can take a rep or two to
    settle on a slipped sensor's new inclination (measured: 2.4 then 2.9 deg before 4.8 after a 5 deg slip)."""
    min_reps_after: int = 2
    """The values after the step come from at least this many reps (a slip stays)."""
    pelvis_forward_deg: float = 4.0
    """A standing value whose pelvis tilt ``P`` lies more than this above the lowest of its ``neighbours`` on each
    side is no stand, deg: an arched lockout (the pelvis tipped forward, the trunk back: the simulator's 5-10 deg)
    or a slow hinge begun within the window. Standing keeps within about ±1.5 deg, but a session with side bends
    and twists between the reps read its stands' P scattered over -4.4..+2.3 deg (at 3, one of them was left
    out and the step of a sacrum slip misplaced: lumbar RMSE 1.13 -> 1.90 deg)."""
    neighbours: int = 4
    """How many standing values on each side make that reference (a few arched lockouts in a row still leave one
    stand among them)."""
    own_segment_steps: bool = True
    """Where ``L`` shows no step, look for one in each sensor's own segment angle (``P``, ``T``) too; False: ``L``
    only (the rule before 2026-12-07's fifteenth sitting)."""
    other_share: float = 0.3
    """... which counts while the other segment's standing angle moves by at most this share of it across the same
    split: a slip turns one sensor; a change of stance (a lean) moves both segments alike."""
    swing_tops: bool = True
    """A rep followed within ``window_s`` by the next with no still standing between (kettlebell swings: each swing
    goes on from the top) gives the posture at the most upright trunk between the two instead: the swing's standing
    plank, where the trunk turns back (a slip mid-set otherwise had only the set's first and last stands to show
    in). A rest, still or not, gives no such value."""
    top_half_s: float = 0.05
    """... the angles' medians over this long either side of that moment, s."""
    reach_s: float = 3.0
    """Where the ``window_s`` beside a rep holds too few still, upright samples (a sensor lost there, or the lifter
    still moving), its standing is looked for up to this far from the rep instead, no further than the rep before or
    after: the ``window_s`` of still samples nearest the rep, s."""


@dataclass(frozen=True)
class SensorMove:
    """A step in the standing posture: ``role``'s sensor moved on the body between ``after_s`` and ``before_s``."""

    role: str
    after_s: float
    """Time of the last standing value before the step, s."""
    before_s: float
    """Time of the first standing value after it, s."""
    shift_deg: float
    """How much the standing lumbar flexion changed, deg: the offset of L from then on."""
    segment_shift_deg: float
    """How much the moved sensor's segment angle (T or P) changed standing, deg: a step found in ``L`` is the
    slip's whole size (L = T - P: the trunk's step is L's, the pelvis's minus it), one found in the segment's own
    angle that angle's step."""
    zero_after: bool = False
    """The zero (the calibration stance) lies after the step (a recording calibrated on a later stand): the angles
    before the step are the ones off, by minus the shift."""

    def message(self, corrected: bool = False) -> str:
        """One line; ``corrected``: the step was taken out of the angles (:func:`take_out_moves`)."""
        head = (f"the {self.role} sensor seems to have moved on the body between {self.after_s:.1f} s and "
                f"{self.before_s:.1f} s: standing lumbar flexion stepped by {self.shift_deg:+.1f} deg and stayed, ")
        until = "until then (the zero was taken after it)" if self.zero_after else "from then on"
        if corrected:
            return head + (f"taken out of the {self.role} angle {until} (offline; a real change of posture would "
                           f"be taken out too); strap the sensor firmly and calibrate again (record a new set)")
        offset = "before it (the zero was taken after it)" if self.zero_after else "after it"
        return head + (f"so lumbar angles {offset} are offset by about that much; strap the sensor firmly and "
                       "calibrate again (record a new set)")


def take_out_moves(time_s: np.ndarray, pelvic_tilt_deg: np.ndarray, trunk_flexion_deg: np.ndarray,
                   moves: list[SensorMove]) -> tuple[np.ndarray, np.ndarray]:
    """Pelvic tilt and trunk flexion (deg, new arrays) with each move's step taken out of its segment's angle: from
    none of the moved sensor's ``segment_shift_deg`` at ``after_s`` to all of it at ``before_s`` (the slip happened
    in between, unseen; the filter settles on the new inclination within a rep or two), all of it after; or, with
    the zero after the step (``zero_after``), the angles before it brought to the zero's side: all of the shift
    added before ``after_s``, none of it from ``before_s`` on."""
    out = {PELVIS: np.array(pelvic_tilt_deg, dtype=float), TRUNK: np.array(trunk_flexion_deg, dtype=float)}
    for m in moves:
        span = max(m.before_s - m.after_s, 1e-9)
        out[m.role] -= m.segment_shift_deg * (np.clip((time_s - m.after_s) / span, 0.0, 1.0) - float(m.zero_after))
    return out[PELVIS], out[TRUNK]


def _median_sorted(xs: list[float]) -> float:
    """``np.median`` of finite values already sorted (the same float: the middle one, or the two middle ones'
    sum halved)."""
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def _column_medians(rows: np.ndarray) -> list[float]:
    """``np.median`` of each column of a small (n, k) array of finite values, one sort for all of them (thousands
    of calls: numpy's per-call overhead): the middle row, or the two middle rows' sum halved (the same floats)."""
    rows.sort(axis=0)
    n = len(rows)
    mid = rows[n // 2] if n % 2 else (rows[n // 2 - 1] + rows[n // 2]) / 2
    return mid.tolist()


def _count_within(xs: list[float], m: float, spread: float) -> int:
    """How many of the sorted ``xs`` have ``abs(x - m) <= spread``: ``x - m`` rounds monotonically in ``x``, so
    they are one run of the sorted list, found by bisection on that very expression."""
    return bisect_right(xs, spread, key=lambda x: x - m) - bisect_left(xs, -spread, key=lambda x: x - m)


def _suffix_stats(values: list[float], spread: float) -> tuple[list[float], list[float]]:
    """``[j]``: the median of ``values[j:]`` and the share of them within ``spread`` of it."""
    medians, shares = [math.nan] * len(values), [math.nan] * len(values)
    suffix: list[float] = []
    for j in range(len(values) - 1, -1, -1):
        insort(suffix, values[j])
        medians[j] = _median_sorted(suffix)
        shares[j] = _count_within(suffix, medians[j], spread) / len(suffix)
    return medians, shares


def _distinct_after(reps: list[int]) -> list[int]:
    """``[k]``: how many different reps the values from ``k`` on come from."""
    out, seen = [0] * len(reps), set()
    for k in range(len(reps) - 1, -1, -1):
        seen.add(reps[k])
        out[k] = len(seen)
    return out


def _standing_values(result: Any, params: MountCheckParams) -> list[tuple[float, float, float, float, int]]:
    """(time s, L, T, P, rep index) medians of standing just before each rep's start and after its end."""
    t = np.asarray(result.time_s, dtype=float)
    p = np.asarray(result.pelvic_tilt_deg, dtype=float)
    tr = np.asarray(result.trunk_flexion_deg, dtype=float)
    lum = np.asarray(result.lumbar_flexion_deg, dtype=float)
    if t.size < 3:
        return []
    with np.errstate(invalid="ignore", divide="ignore"):
        dt = np.gradient(t)
        still = ((np.abs(np.gradient(tr) / dt) < params.max_rate_deg_s)
                 & (np.abs(np.gradient(p) / dt) < params.max_rate_deg_s)
                 & (np.abs(tr) < params.max_upright_deg) & (np.abs(p) < params.max_upright_deg)
                 & np.isfinite(lum))
    values = []
    bounds = [(rep.start_s - params.window_s, rep.start_s - params.guard_s, rep.end_s + params.guard_s,
               rep.end_s + params.window_s) for rep in result.reps]
    at = np.searchsorted(t, np.array(bounds, dtype=float).reshape(-1, 2)).reshape(-1, 2, 2).tolist()  # one call
    next_starts = [r.start_s for r in result.reps[1:]] + [math.inf] * bool(result.reps)  # the last: none
    prev_ends = [-math.inf] * bool(result.reps) + [r.end_s for r in result.reps[:-1]]  # the first: none
    for rep, sides, next_start, prev_end in zip(result.reps, at, next_starts, prev_ends, strict=True):
        for side, (i, j) in enumerate(sides):
            m = still[i:j]
            if int(m.sum()) >= params.min_samples:
                mt, ml, mtr, mp = _column_medians(np.column_stack([t[i:j], lum[i:j], tr[i:j], p[i:j]])[m])
                values.append((mt, ml, mtr, mp, rep.index))
            elif side and params.swing_tops and next_start - rep.end_s < params.window_s:  # swung straight on
                top = _swing_top(t, lum, tr, p, int(np.searchsorted(t, rep.end_s)),
                                 int(np.searchsorted(t, next_start)), params)
                if top is not None:
                    values.append((*top, rep.index))
            else:  # (a reach no longer than the window finds nothing more in it)
                near = _nearest_still(t, still, rep, side, (prev_end, next_start)[side], params)
                if near is not None:
                    mt, ml, mtr, mp = _column_medians(np.column_stack([t[near], lum[near], tr[near], p[near]]))
                    values.append((mt, ml, mtr, mp, rep.index))
    values.sort()
    return values


def _nearest_still(t: np.ndarray, still: np.ndarray, rep: Any, side: int, other_rep_s: float,
                   params: MountCheckParams) -> np.ndarray | None:
    """Indices of the still, upright samples within ``window_s`` of the one nearest the rep, looked for up to
    ``reach_s`` before its start (``side`` 0) or after its end (1), not past the rep before or after (its time
    ``other_rep_s``, with ``guard_s``); None where there are fewer than ``min_samples``."""
    if side:
        lo, hi = rep.end_s + params.guard_s, min(rep.end_s + params.reach_s, other_rep_s - params.guard_s)
    else:
        lo, hi = max(rep.start_s - params.reach_s, other_rep_s + params.guard_s), rep.start_s - params.guard_s
    i, j = np.searchsorted(t, [lo, hi])
    idx = i + np.flatnonzero(still[i:j])
    if len(idx) < params.min_samples:
        return None
    idx = idx[t[idx] <= t[idx[0]] + params.window_s] if side else idx[t[idx] >= t[idx[-1]] - params.window_s]
    return idx if len(idx) >= params.min_samples else None


def _swing_top(t: np.ndarray, lum: np.ndarray, tr: np.ndarray, p: np.ndarray, i: int, j: int,
               params: MountCheckParams) -> tuple[float, float, float, float] | None:
    """(time s, L, T, P) at the most upright trunk of samples ``i..j`` (from a rep's end to the next rep's start),
    medians over ``top_half_s`` either side; None where the trunk is not upright there or the angles are missing."""
    seg = tr[i:j]
    if not np.isfinite(seg).any():  # none there (or nothing at all)
        return None
    k = i + int(np.nanargmin(seg))
    a, b = np.searchsorted(t, [t[k] - params.top_half_s, t[k] + params.top_half_s + 1e-9])
    rows = np.column_stack([t[a:b], lum[a:b], tr[a:b], p[a:b]])
    rows = rows[np.isfinite(rows).all(axis=1)]
    if len(rows) == 0:
        return None
    mt, ml, mtr, mp = _column_medians(rows)
    if abs(mtr) >= params.max_upright_deg or abs(mp) >= params.max_upright_deg:
        return None
    return mt, ml, mtr, mp


def _without_pelvis_forward(values: list[tuple[float, float, float, float, int]],
                            params: MountCheckParams) -> list[tuple[float, float, float, float, int]]:
    """``values`` without those whose pelvis stood ``pelvis_forward_deg`` more forward than the most upright of the
    ``neighbours`` before it and of those after it (a side without values does not count; a value with neither
    stays, as does the calibration stance, rep index -1). Arching back at the lockout and the start of a slow
    hinge both tip the pelvis forward; standing does not, and a sensor that slipped moves every value after it
    alike: a value after a step stays, the most upright of the next ones being on its level. (Near the end of
    the values, where only the side before counts, values after a sacrum step forward are left out once it
    spans the step: a slip in the last reps was not told anyway, too few values after it. Counting the side
    before alone as enough would keep two arched values at the end, which agree and make a step.)"""
    pelvis = [v[3] for v in values]
    k = params.neighbours
    kept = []
    for i, v in enumerate(values):
        sides = [min(side) for side in (pelvis[max(0, i - k):i], pelvis[i + 1:i + 1 + k]) if side]
        if v[4] < 0 or not sides or v[3] <= max(sides) + params.pelvis_forward_deg:
            kept.append(v)
    return kept


def _best_split(xs: list[float], params: MountCheckParams, splits_end: int) -> tuple[int, int, float, float] | None:
    """The split of the standing values ``xs`` (one angle, in time order) that fits a step best: ``(k, gap, median
    before, median after)``, the values before being ``xs[:k]`` and after ``xs[k + gap:]``; None without one (see
    the module docstring: both sides agree, the medians differ by ``min_shift_deg``, splits before ``splits_end``)."""
    best: tuple[int, int, float, float] | None = None
    best_cost = math.inf
    after_median, after_share = _suffix_stats(xs, params.spread_deg)
    before_sorted: list[float] = []
    for k in range(2, len(xs)):
        for x in xs[len(before_sorted):k]:
            insort(before_sorted, x)
        mb = _median_sorted(before_sorted)
        share_b = _count_within(before_sorted, mb, params.spread_deg) / k
        for j in range(k, min(k + params.max_transition + 1, splits_end)):  # values in between (j - k of them)
            gap = j - k  # may catch the segment settling
            ma = after_median[j]
            if (abs(ma - mb) < params.min_shift_deg or share_b < params.agree_share
                    or after_share[j] < params.agree_share):
                continue
            lb, la = np.array(xs[:k]), np.array(xs[k + gap:])
            # the split that fits a step best; a value left out costs as much as one at the spread's edge
            cost = float(np.abs(lb - mb).sum() + np.abs(la - ma).sum()) + gap * params.spread_deg
            if cost < best_cost:
                best, best_cost = (k, gap, mb, ma), cost
    return best


def _median_shift(values: list[tuple[float, float, float, float, int]], k: int, gap: int, col: int) -> float:
    """Median of column ``col`` of the values after a split less the median of those before it."""
    return float(np.median([v[col] for v in values[k + gap:]]) - np.median([v[col] for v in values[:k]]))


def sensor_moves(result: Any, params: MountCheckParams | None = None) -> list[SensorMove]:
    """Steps of the standing posture that stay (at most one: the split that fits a step best, least absolute
    deviation from each side's median); ``result`` is an analysis result
    (``time_s``, the three angles, ``reps``; its ``calibration`` gives the stance as a first value of 0).

    The step is looked for in the standing lumbar flexion ``L``; where ``L`` shows none, in each sensor's own
    segment angle (``P``, ``T``) when the other segment's standing angle does not step with it (by at most
    ``other_share`` of the step): a slip turns one sensor only, while a drifting or noisy other segment can scatter
    ``L`` beyond agreement (a 5.5 deg sacrum slip: standing ``P`` +6.1 +- 0.5 deg after it, ``L`` spread over 13
    deg by the trunk's drift)."""
    params = params or MountCheckParams()
    values = _standing_values(result, params)
    calibration = getattr(result, "calibration", None) or {}
    zero_s = float(calibration.get("stand_end_s", math.nan))
    if math.isfinite(zero_s):  # first, wherever it lies in time: a zero taken on a later stand (after a seat) is
        # preceded by the seat's "standing" values (a seated pelvis reads 5-8 deg of L), which would make a step
        values.insert(0, (zero_s, 0.0, 0.0, 0.0, -1))
    values = _without_pelvis_forward(values, params)
    reps_after = _distinct_after([v[4] for v in values])
    # the values after a split come from min_reps_after reps or more for the splits before this one (reps_after
    # only falls as the split moves on)
    splits_end = sum(1 for n in reps_after if n >= params.min_reps_after)

    def move(role: str, k: int, gap: int, shift_deg: float, segment_shift_deg: float) -> SensorMove:
        return SensorMove(role, values[k - 1][0], values[k + gap][0], shift_deg, segment_shift_deg,
                          zero_after=zero_s >= values[k + gap][0])

    step = _best_split([v[1] for v in values], params, splits_end)
    if step is not None:
        k, gap, mb, ma = step
        d_t, d_p = _median_shift(values, k, gap, 2), _median_shift(values, k, gap, 3)
        role, seg = (TRUNK, ma - mb) if abs(d_t) >= abs(d_p) else (PELVIS, mb - ma)
        return [move(role, k, gap, ma - mb, seg)]
    found: list[SensorMove] = []
    for role, own, other in ((PELVIS, 3, 2), (TRUNK, 2, 3)) if params.own_segment_steps else ():
        step = _best_split([v[own] for v in values], params, splits_end)
        if step is None:
            continue
        k, gap, mb, ma = step
        if abs(_median_shift(values, k, gap, other)) <= params.other_share * abs(ma - mb):
            found.append(move(role, k, gap, _median_shift(values, k, gap, 1), ma - mb))
    return [max(found, key=lambda m: abs(m.segment_shift_deg))] if found else []


__all__ = ["MountCheckParams", "SensorMove", "sensor_moves", "take_out_moves"]
