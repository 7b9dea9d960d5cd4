"""Calibration of a whole recording: find the stance wherever the person stood (or sat) still.

A live session asks the lifter to stand still first (:class:`~.stance.StanceDetector`). A
recording may not start that way: real people start moving at once, sway, sit, and the first
still moment can be the bottom of a hinge. Here the recording is looked through first:

1. **Quiet stretches**: both sensors still (smoothed gyro rate and |acc| near their quiet levels)
   for at least ``min_stand_s``; standing sway of a few degrees still counts as quiet, and so does a short gap of
   lost samples with the same quiet posture on both sides (``quiet_gap_s``). A slow bend stays
   under the quiet rate too: where the posture changes within a quiet stretch (the trunk's tilt relative to
   the pelvis' by ``steady_lumbar_deg`` within ``steady_window_s``, or a segment's by ``steady_segment_deg``;
   not a sway, which leans both alike), the stretch is cut there into parts, each one posture.
2. **Upright**: the posture at the start of the recording (the person stands or sits upright
   when the recording starts, and may be moving already a fraction of a second later) is the
   reference; the stance is the first quiet stretch in that posture (both sensors' gravity
   within ``match_deg``). A held hinge bottom is quiet but not that posture and is skipped. Of the
   parts of a cut stretch in that posture, the stance is the one the quiet stretches hold again the
   longest (within ``same_posture_deg``): the person comes back to standing, not to a posture on the way.
3. **No such stretch** (the recording starts mid-movement, e.g. a lift set up at the bar): the
   quiet posture held longest in all serves when it clearly dominates (people stand between reps
   and sets; a held bottom is shorter and its depth varies), with a warning. Else the stillest
   moments near the start serve, with a warning that says which zero was used and how uncertain
   it is. Never still at all: refused, saying why.
4. **A seat taken for the zero** (a moment's stand, then sitting down: the seat is the first quiet posture;
   or a recording that starts seated): once the forward directions are known, the analysis asks
   :func:`standing_after_seat` whether later quiet stretches hold the pelvis well forward of the zero with the
   trunk as upright (standing, seen from a seat) and, if so, takes the longest such stand as the zero instead,
   with a warning.
5. **An arched lockout taken for the zero** (a moment's stand, then the first rep, whose lockout is held arched and
   is the first quiet posture within ``match_deg`` of the start's): :func:`standing_after_arch` asks whether the
   stands, and the start, hold the trunk well forward of the pelvis relative to it and, if so, takes the longest
   stand as the zero instead, with a warning.

The gyro bias comes from the stance, corrected for sway by the accelerometer
(:func:`~.stance.sway_corrected_bias`); when the stance is short, a longer quiet stretch in any
posture gives it (bias does not depend on posture). The forward direction of each segment is
the direction of the segment's large tilts over the whole recording (:func:`forward_directions`):
hinges tip forward again and again, side bends go both ways and cancel, twists do not tip.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np

from imu_hinge.analysis.stance import StanceEstimate, StanceResult, sway_corrected_bias
from imu_hinge.analysis.stance_params import ForwardParams, StanceSearchParams
from imu_hinge.errors import CalibrationError
from imu_hinge.samples import SENSOR_ROLES, STANDARD_GRAVITY_M_S2, Recording, SensorStream, row_norms
from imu_hinge.sensor_threads import per_role

GAP_FILL = 1e6
"""Stillness measures across a gap: never quiet (finite, so moving averages stay defined)."""




@dataclass(frozen=True)
class StanceChoice:
    """What the search chose: the stance, and a warning when it is a fallback."""

    result: StanceResult
    warnings: tuple[str, ...] = ()
    how: str = "quiet"
    """``"quiet"`` (a quiet upright stretch), ``"held"`` (the posture held longest), ``"end"`` (the one quiet
    posture, at the end of a recording moving from its start), ``"start"`` (fallback: the posture at the start)
    or ``"standing"`` (a stretch the caller chose: :func:`standing_after_seat`)."""
    stretches: tuple[tuple[float, float], ...] = ()
    """Every quiet stretch of the recording (s, both sensors still)."""


def _smooth(x: np.ndarray, n: int) -> np.ndarray:
    """Centred moving average over ``n`` rows of (N, k) ``x`` (shorter at the ends). Memory: the
    running sum and the result only (ten hours of samples make these arrays large). ``n`` >= 1; always a
    new array (n = 1 and no rows included: callers may scale it in place)."""
    m, h = len(x), n // 2
    c = np.empty((m + 1, x.shape[1]))
    c[0] = 0.0
    np.cumsum(x, axis=0, out=c[1:])
    out = np.empty((m, x.shape[1]))
    k = max(0, m - n + 1)  # rows whose whole window lies inside (sums over n rows): h .. h + k - 1
    mid = slice(h, h + k)
    np.subtract(c[n:n + k], c[:k], out=out[mid])
    out[mid] /= float(n)
    ends = np.r_[0:min(h, m), min(m, h + k):m]  # the shorter windows at both ends
    lo = np.clip(ends - h, 0, m)
    hi = np.minimum(ends - h + n, m)  # ends - h + n >= n - h >= 1: only the top can overrun
    out[ends] = (c[hi] - c[lo]) / (hi - lo)[:, None]
    return out


def _stillness(s: SensorStream, params: StanceSearchParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per sample: smoothed gyro rate (rad/s, rough bias removed) and smoothed | |acc| - g | (m/s^2); and the
    rough bias (rad/s, 3)."""
    n = max(1, int(round(params.smooth_s * s.nominal_rate_hz)))
    gyr = s.gyr_rad_s
    # the slow samples around zero, or around the median rate when more are slow there and it can be a bias: a
    # gyro whose bias is beyond 0.2 rad/s (11.5 deg/s) is never slow around zero, its bias taken for motion
    slow = row_norms(gyr) < 0.2
    center = np.array([np.median(gyr[:, j]) for j in range(3)]) if len(gyr) else np.zeros(3)
    slow_c = row_norms(gyr, center) < 0.2
    if slow_c.sum() > slow.sum() and np.linalg.norm(center) <= params.max_gyro_bias_rad_s:
        slow = slow_c
    # a column at a time: (N,) temporaries, not (N, 3) ones (the same numbers)
    rough_bias = (np.array([np.median(gyr[slow, j]) for j in range(3)]) if slow.sum() > 10 else np.zeros(3))
    rate = np.zeros(len(gyr))
    for j in range(3):
        smooth_j = _smooth((gyr[:, j] - rough_bias[j])[:, None], n)[:, 0]
        smooth_j *= smooth_j  # in place: the two sensors' searches run side by side on ten hours too
        rate += smooth_j
    np.sqrt(rate, out=rate)
    accn = _smooth(row_norms(s.acc_m_s2)[:, None], n)[:, 0]
    return rate, np.abs(accn - STANDARD_GRAVITY_M_S2), rough_bias


def _quiet(gyr_still: np.ndarray, acc_still: np.ndarray, p: StanceSearchParams) -> np.ndarray:
    """The quiet test on stillness measures (:func:`_stillness`, per sample or on the grid)."""
    return (gyr_still < p.quiet_gyr_rad_s) & (acc_still < p.quiet_acc_m_s2)


def _tilt_times(streams: dict[str, SensorStream], rough_bias: dict[str, np.ndarray], a: float, b: float,
                p: StanceSearchParams) -> np.ndarray:
    """Sample times (s, sorted) within the quiet stretch ``a..b`` around which a segment tilts by ``steady_deg`` or
    more between ``steady_window_s / 2`` before and after (within the stretch: the movements around it do not
    count): the gyro's turn (``rough_bias`` removed) across gravity's direction (the acceleration smoothed over
    ``smooth_s``; a turn about it tilts nothing). A slow bend, 10-15 deg at up to 16 deg/s, stays under the quiet
    rate; so does a wide sway."""
    found: list[np.ndarray] = []
    for role, s in streams.items():
        sl = _span(s, a, b)
        t = s.time_s[sl]
        if len(t) < 3:
            continue
        turned = np.cumsum((s.gyr_rad_s[sl] - rough_bias[role]) * np.gradient(t)[:, None], axis=0)
        h = max(1, int(round(p.steady_window_s / 2 * s.nominal_rate_hz)))
        idx = np.arange(len(t))
        turn = turned[np.minimum(idx + h, len(t) - 1)] - turned[np.maximum(idx - h, 0)]
        up = _smooth(s.acc_m_s2[sl], max(1, int(round(p.smooth_s * s.nominal_rate_hz))))
        up /= np.maximum(row_norms(up), 1e-12)[:, None]
        found.append(t[row_norms(np.cross(turn, up)) >= math.radians(p.steady_deg)])
    return np.sort(np.concatenate(found)) if found else np.zeros(0)


def _posture_changes(streams: dict[str, SensorStream], up: dict[str, np.ndarray],
                     forwards: dict[str, np.ndarray | None], a: float, b: float, candidates: np.ndarray,
                     p: StanceSearchParams) -> list[float]:
    """Of the ``candidates`` (:func:`_tilt_times`), the times where the posture changes: the trunk's forward tilt
    relative to the pelvis' (lumbar flexion, near enough) by ``steady_lumbar_deg`` or more across
    ``steady_window_s``, or either segment's by ``steady_segment_deg``; each in its sagittal plane (``forwards``,
    ``up``: the start's gravity), from the acceleration smoothed over ``smooth_s``. A sway leans the whole body
    (both segments alike, a few degrees) and is no change of posture. Without forward directions every
    candidate counts."""
    if not len(candidates) or any(forwards[r] is None for r in SENSOR_ROLES):
        return candidates.tolist()
    half = p.steady_window_s / 2
    lo, hi = np.maximum(candidates - half, a), np.minimum(candidates + half, b)
    change: dict[str, np.ndarray] = {}
    for role, s in streams.items():
        sl = _span(s, a, b)
        t = s.time_s[sl]
        fwd = forwards[role]
        if len(t) < 2 or fwd is None:
            return candidates.tolist()
        tilt = _sagittal_tilts_deg(s, sl, _unit(np.asarray(up[role], dtype=float)), fwd, p.smooth_s)
        change[role] = np.interp(hi, t, tilt) - np.interp(lo, t, tilt)
    pelvis, trunk = (change[r] for r in SENSOR_ROLES)
    keep = ((np.abs(trunk - pelvis) >= p.steady_lumbar_deg)
            | (np.maximum(np.abs(trunk), np.abs(pelvis)) >= p.steady_segment_deg))
    return candidates[keep].tolist()


def _held_s(streams: dict[str, SensorStream], stretches: list[tuple[float, float]], ab: tuple[float, float],
            within_deg: float) -> float:
    """How long (s) the quiet ``stretches`` hold the posture of ``ab`` (both sensors' gravity within ``within_deg``)."""
    dirs = {r: _mean_dir(streams[r], *ab) for r in SENSOR_ROLES}
    return sum(b - a for a, b in stretches
               if all(_upright(_mean_dir(streams[r], a, b), dirs[r], within_deg) for r in SENSOR_ROLES))


def _span(s: SensorStream, t0: float, t1: float) -> slice:
    """The samples of ``s`` with ``t0 <= time_s <= t1`` (a slice: no pass over the whole stream)."""
    return slice(int(np.searchsorted(s.time_s, t0, side="left")), int(np.searchsorted(s.time_s, t1, side="right")))


def _grid_rows(t: np.ndarray, grid: np.ndarray, max_gap_s: float, bridged: np.ndarray | None = None) -> np.ndarray:
    """For each grid time, the index of the latest sample at or before it; -1 before the first
    sample and across a gap (more than ``max_gap_s`` since that sample), unless ``bridged`` (per sample: the
    gap after it is bridged, :func:`_quiet_gaps`)."""
    i = np.searchsorted(t, grid, side="right") - 1
    inside = np.clip(i, 0, None)
    far = (i >= 0) & (grid - t[inside] > max_gap_s)
    if bridged is not None:
        far &= ~bridged[inside]
    i[far] = -1
    return i


def _quiet_gaps(s: SensorStream, gyr_still: np.ndarray, acc_still: np.ndarray, max_gap_s: float,
                p: StanceSearchParams) -> np.ndarray:
    """Per sample: is the gap after it (longer than ``max_gap_s``) one a quiet stretch goes on across? Up to
    ``quiet_gap_s`` long, both its edge samples quiet (``gyr_still``, ``acc_still``: :func:`_stillness`) and the
    acceleration over ``smooth_s`` before it and after it within ``same_posture_deg`` of each other."""
    t = s.time_s
    dt = np.diff(t)
    gap = np.flatnonzero((dt > max_gap_s) & (dt <= p.quiet_gap_s))
    quiet = _quiet(gyr_still, acc_still, p)
    gap = gap[quiet[gap] & quiet[gap + 1]]
    n = max(1, int(round(p.smooth_s * s.nominal_rate_hz)))
    summed = np.concatenate([np.zeros((1, 3)), np.cumsum(s.acc_m_s2, axis=0)])
    lo, hi = np.maximum(gap + 1 - n, 0), np.minimum(gap + 1 + n, len(t))
    before = summed[gap + 1] - summed[lo]  # the sums of up to n samples each side (their directions only)
    after = summed[hi] - summed[gap + 1]
    cos = np.sum(before * after, axis=1) / np.maximum(row_norms(before) * row_norms(after), 1e-300)
    bridged = np.zeros(len(t), dtype=bool)
    bridged[gap] = cos >= math.cos(math.radians(p.same_posture_deg))
    return bridged


def _on_grid(rows: np.ndarray, values: np.ndarray, fill: float) -> np.ndarray:
    """``values`` at the grid's sample ``rows`` (:func:`_grid_rows`), ``fill`` where there is none."""
    ok = rows >= 0
    out = np.full(len(rows), fill)
    out[ok] = values[rows[ok]]
    return out


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) index pairs of the True runs of ``mask``."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d > 0).tolist(), np.flatnonzero(d < 0).tolist(), strict=True))


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _mean_dir(s: SensorStream, t0: float, t1: float) -> np.ndarray | None:
    acc = s.acc_m_s2[_span(s, t0, t1)]
    if not len(acc):
        return None
    a = acc.mean(axis=0)
    return _unit(a) if np.any(a) else None  # no direction in a zero mean


def _angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    return math.degrees(math.acos(max(-1.0, min(1.0, float(a @ b)))))


def _bias_pool(stretches: list[tuple[float, float]], zero_s: float,
               p: StanceSearchParams) -> list[tuple[float, float]]:
    """The quiet stretches that join the gyro bias of a zero at ``zero_s``: those starting up to ``pool_s``
    after it, each cut to its first ``max_stand_s`` (as the stance itself is)."""
    return [(c, min(d, c + p.max_stand_s)) for c, d in stretches if 0 <= c - zero_s <= p.pool_s]


def _pooled_bias(s: SensorStream, spans: list[tuple[float, float]], own: np.ndarray) -> np.ndarray:
    """Gyro bias from several quiet stretches in any posture, by least squares.

    Each stretch measures the bias across its gravity direction (sway-corrected mean gyro), with a
    weight of its duration squared (its sway error falls as 1/duration); along gravity a stretch
    sees nothing of the bias but any slow turn of the body, so that part of each is left out. A
    stretch in another posture (a held hinge) measures what the upright ones cannot; the stance's
    own estimate ``own`` (3,) holds the rest, weakly.
    """
    a_mat = 0.1 * np.eye(3)
    rhs = 0.1 * own
    for a, b in spans:
        m = _span(s, a, b)
        if m.stop - m.start < 5:
            continue
        g = _unit(s.acc_m_s2[m].mean(axis=0))
        across = (np.eye(3) - np.outer(g, g)) * (b - a) ** 2
        a_mat += across
        rhs += across @ sway_corrected_bias(s.time_s[m], s.acc_m_s2[m], s.gyr_rad_s[m])
    return np.linalg.solve(a_mat, rhs)


def _upright(direction: np.ndarray | None, start: np.ndarray | None, match_deg: float) -> bool:
    """Is gravity ``direction`` within ``match_deg`` of the start posture's?"""
    return direction is not None and start is not None and _angle_deg(direction, start) <= match_deg


def _estimate(s: SensorStream, t0: float, t1: float, bias_from: tuple[float, float],
              first_acc: np.ndarray) -> StanceEstimate:
    m = _span(s, t0, t1)
    if m.stop - m.start < 5:
        raise CalibrationError(f"the {s.sensor} sensor has too few samples in the stance "
                               f"({t0:.2f}-{t1:.2f} s): check the recording for a gap there")
    b = _span(s, *bias_from)
    bias = sway_corrected_bias(s.time_s[b], s.acc_m_s2[b], s.gyr_rad_s[b])
    return StanceEstimate(s.sensor, s.acc_m_s2[m].mean(axis=0), bias, first_acc, m.stop - m.start, s.nominal_rate_hz)


def choose_stance(recording: Recording, params: StanceSearchParams | None = None, threads: int = 1,
                  stance_at: tuple[float, float] | None = None) -> StanceChoice:
    """The stance of ``recording`` (both sensors), found anywhere in it; see the module docstring. ``threads``: each
    sensor's stillness on a thread of its own (:func:`~imu_hinge.sensor_threads.per_role`) or in turn (the same
    result). ``stance_at``: one of the quiet stretches (:attr:`StanceChoice.stretches`), the stance the caller chose
    (:func:`standing_after_seat`; no warning here)."""
    p = params or StanceSearchParams()
    streams = {r: recording[r] for r in SENSOR_ROLES}
    for role, s in streams.items():
        if len(s) < 5:
            raise CalibrationError(f"the {role} sensor has {len(s)} samples: too short to analyse")
    t_start = max(float(s.time_s[0]) for s in streams.values())
    t_end = min(float(s.time_s[-1]) for s in streams.values())
    if t_end - t_start < p.min_stand_s:
        raise CalibrationError(f"the two sensors overlap for {max(0.0, t_end - t_start):.2f} s: too short to "
                               f"calibrate (need at least {p.min_stand_s:.1f} s of both)")
    step = 0.01
    grid = np.arange(t_start, t_end, step)

    def still_on_grid(role: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        s = streams[role]
        gyr_still, acc_still, bias = _stillness(s, p)
        max_gap_s = 1.5 / s.nominal_rate_hz + step
        bridged = _quiet_gaps(s, gyr_still, acc_still, max_gap_s, p)
        rows = _grid_rows(s.time_s, grid, max_gap_s, bridged)  # one search for both
        return _on_grid(rows, gyr_still, GAP_FILL), _on_grid(rows, acc_still, GAP_FILL), bias

    rate = np.zeros(len(grid))
    accdev = np.zeros(len(grid))
    rough_bias: dict[str, np.ndarray] = {}
    for role, (gyr_on_grid, acc_on_grid, bias) in per_role(still_on_grid, threads).items():  # in role order
        rate = np.maximum(rate, gyr_on_grid)
        accdev = np.maximum(accdev, acc_on_grid)
        rough_bias[role] = bias
    quiet = _quiet(rate, accdev, p)
    start_dir = {r: _mean_dir(s, float(s.time_s[0]), float(s.time_s[0]) + p.start_s) for r, s in streams.items()}
    first_acc = {r: s.acc_m_s2[s.time_s <= s.time_s[0] + p.start_s].mean(axis=0) for r, s in streams.items()}
    settle, margin = int(round(p.settle_s / step)), int(round(p.margin_s / step))
    min_n = int(round(p.min_stand_s / step))
    runs: list[tuple[float, float]] = []
    # a tilt of steady_deg within steady_window_s needs the rate summed over that long to reach it (a fifth of margin:
    # the rate on the grid is smoothed over smooth_s); most stretches never come near, and are not looked into
    may_tilt: list[bool] = []
    swept = np.concatenate([[0.0], np.cumsum(np.where(quiet, rate, 0.0)) * step])
    w = max(1, int(round(p.steady_window_s / step)))
    for i0, i1 in _runs(quiet):
        j0 = i0 if i0 == 0 else i0 + settle  # a stretch from the very start has no movement before it
        j1 = i1 if i1 == len(grid) else i1 - margin
        if j1 - j0 >= min_n:
            runs.append((float(grid[j0]), float(grid[j1 - 1])))
            k = np.arange(j0, max(j0 + 1, j1 - w + 1))
            may_tilt.append(bool((swept[np.minimum(k + w, j1)] - swept[k]).max() >= 0.8 * math.radians(p.steady_deg)))
    stretches: list[tuple[float, float]] = []
    siblings: dict[tuple[float, float], list[tuple[float, float]]] = {}  # the parts of a stretch cut in two or more
    tilting = [(ab, _tilt_times(streams, rough_bias, *ab, p) if tilts else np.zeros(0))
               for ab, tilts in zip(runs, may_tilt, strict=True)]
    forwards = (forward_directions(recording, first_acc, threads=threads) if any(len(c) for _, c in tilting)
                else dict.fromkeys(SENSOR_ROLES))
    for (a, b), candidates in tilting:
        cuts = _posture_changes(streams, first_acc, forwards, a, b, candidates, p)
        edges = [a, *cuts, b]
        parts = ([(x, y) for x, y in zip(edges[:-1], edges[1:], strict=True) if y - x >= p.min_stand_s] if cuts
                 else [(a, b)])  # (a stretch of min_n grid points spans a step less than min_stand_s)
        stretches += parts
        if len(parts) > 1:
            siblings.update({part: parts for part in parts})
    bias_span = next(((a, b) for a, b in stretches if b - a >= p.bias_min_s), None)

    def matches_start(a: float, b: float) -> bool:
        return all(_upright(_mean_dir(streams[r], a, b), start_dir[r], p.match_deg) for r in SENSOR_ROLES)

    def stance_from(a: float, b: float) -> StanceResult:
        end = min(b, a + p.max_stand_s)
        bias_from = (a, end) if end - a >= p.bias_min_s or bias_span is None else bias_span
        sensors = {r: _estimate(s, a, end, bias_from, first_acc[r]) for r, s in streams.items()}
        if a > t_start or end - a < p.bias_min_s:  # a later stance is often short, and its sway error in the gyro bias
            # falls only as 1/duration: the quiet stretches within pool_s after it (any posture) join in; so for a
            # stance at the start shorter than bias_min_s (its bias from one stretch alone was 2 deg/s off in a
            # simulated session whose first long stretch drifted 3 deg)
            quiet_pool = _bias_pool(stretches, a, p)
            sensors = {r: replace(e, gyr_bias_rad_s=_pooled_bias(streams[r], quiet_pool, e.gyr_bias_rad_s))
                       for r, e in sensors.items()}
        return StanceResult(a, end, end, sensors)

    def done(choice: StanceChoice) -> StanceChoice:
        return replace(choice, stretches=tuple(stretches))

    if stance_at is not None:
        return done(StanceChoice(stance_from(*stance_at), (), "standing"))
    # the first stretch in the start's posture (its directions only, when the start is quiet: an hour has hundreds)
    first = next(((a, b) for a, b in stretches if matches_start(a, b)), None)
    if first in siblings:  # a quiet stretch holding two postures: the one the person comes back to
        first = max((ab for ab in siblings[first] if matches_start(*ab)),
                    key=lambda ab: _held_s(streams, stretches, ab, p.same_posture_deg))
    moving_start = not stretches or stretches[0][0] > t_start
    if first is not None and not moving_start:
        return done(StanceChoice(stance_from(*first)))
    held = _held_posture(streams, stretches, p)
    if first is not None:
        # a start that is not itself quiet may be the bottom of a rep whose posture a later bottom pause
        # matches: the posture held far longer in all (standing between reps and sets) wins then (held
        # override_ratio times as long as every stretch matching the start together: another posture)
        matched_s = sum(b - a for a, b in stretches if matches_start(a, b))
        if not (held is not None and held[1] >= p.override_ratio * matched_s):
            return done(StanceChoice(stance_from(*first)))
    if held is not None:  # the recording starts mid-movement (a lift set up at the bar): the zero is the
        # posture the person came back to and held, far longer than any other
        (a, b), total_s, count = held
        warning = (f"the recording does not start standing still: angles are relative to the posture held "
                   f"longest, {total_s:.1f} s over {count} quiet stretch(es) (the zero: {a:.2f}-{b:.2f} s); start "
                   "recordings standing or sitting still for a second")
        return done(StanceChoice(stance_from(a, b), (warning,), "held"))
    # no quiet upright stretch: the zero is the posture the recording starts in, over its first
    # still moments (the person is upright when the recording starts and moves a moment later)
    n = max(1, min_n)
    score = _smooth(rate[:, None], n)[:, 0]  # mean smoothed rate over the window centred there
    near = grid <= t_start + max(p.fallback_within_s, p.min_stand_s)
    # one quiet posture held at the end (people finish a set standing): the zero when the start is never still, or
    # when its posture wanders by more than end_over_start_deg (moving from the first sample)
    ending = [(a, b) for a, b in stretches if b >= t_end - p.end_stand_within_s and b - a >= p.held_min_s]
    if not near.any() or not np.isfinite(score[near]).any() or float(np.nanmin(score[near])) > p.still_gyr_rad_s:
        if ending:
            return done(_end_stance(stance_from(*ending[-1])))
        raise CalibrationError(
            "the sensors are never still near the start (smoothed rotation above "
            f"{p.still_gyr_rad_s:.1f} rad/s throughout): nothing can serve as the upright zero; record "
            "standing or sitting upright and still for a moment, then move")
    still_run = int(np.argmin(quiet)) if not quiet.all() else len(quiet)  # quiet samples from the start
    z0 = t_start
    z1 = min(t_end, t_start + min(p.start_s, max(p.fallback_min_s, still_run * step)))
    # at least five samples of each sensor: a gap at a low rate can leave the still start with fewer
    z1 = min(t_end, max(z1, *(float(s.time_s[min(_span(s, z0, t_end).start + 4, len(s) - 1)])
                              for s in streams.values())))
    spread = max(_tilt_spread_deg(s, z0, z1) for s in streams.values())
    if ending and spread > p.end_over_start_deg:
        return done(_end_stance(stance_from(*ending[-1])))
    quiet_pool = _bias_pool(stretches, z0, p)
    sensors = {r: _estimate(s, z0, z1, (z0, z1), s.acc_m_s2[_span(s, z0, z1)].mean(axis=0))
               for r, s in streams.items()}
    sensors = {r: replace(e, gyr_bias_rad_s=_pooled_bias(streams[r], quiet_pool, e.gyr_bias_rad_s))
               for r, e in sensors.items()}
    warning = (f"no quiet upright stretch of {p.min_stand_s:.1f} s: angles are relative to the posture at "
               f"{z0:.2f}-{z1:.2f} s (the start of the recording), uncertain by about {spread:.0f} deg; "
               "start recordings standing or sitting still for a second")
    return done(StanceChoice(StanceResult(z0, z1, z1, sensors), (warning,), "start"))


def _end_stance(stance: StanceResult) -> StanceChoice:
    """The zero taken from the one quiet posture, at the end of a recording moving from its start."""
    warning = (f"the recording does not start still and holds one quiet posture only at its end: angles are "
               f"relative to it ({stance.start_s:.2f}-{stance.end_s:.2f} s); start recordings standing or sitting "
               "still for a second")
    return StanceChoice(stance, (warning,), "end")


def _held_posture(streams: dict[str, SensorStream], stretches: list[tuple[float, float]],
                  p: StanceSearchParams) -> tuple[tuple[float, float], float, int] | None:
    """The quiet posture held longest in all (both sensors' gravity within ``match_deg``), when it clearly
    dominates: ``(its longest stretch, total quiet s, number of stretches)``, or None. Between reps and
    sets people stand, again and again; a held hinge bottom is rarely as long in all, and its depth varies
    from rep to rep."""
    groups: list[tuple[dict[str, np.ndarray], list[tuple[float, float]]]] = []
    for a, b in stretches:
        dirs = {r: _mean_dir(streams[r], a, b) for r in SENSOR_ROLES}
        if any(d is None for d in dirs.values()):
            continue
        home = next((g for g in groups if all(_upright(dirs[r], g[0][r], p.match_deg) for r in SENSOR_ROLES)), None)
        if home is None:
            groups.append(({r: d for r, d in dirs.items() if d is not None}, [(a, b)]))
        else:
            home[1].append((a, b))
    totals = sorted(((sum(b - a for a, b in g[1]), g[1]) for g in groups), key=lambda x: -x[0])
    if (not totals or totals[0][0] < p.held_min_s or len(totals[0][1]) < p.held_min_count
            or (len(totals) > 1 and totals[0][0] < p.held_ratio * totals[1][0])):
        return None
    total_s, spans = totals[0]
    return max(spans, key=lambda ab: ab[1] - ab[0]), total_s, len(spans)  # its longest: a real stand, not a pause


Seat = tuple[tuple[float, float], float, float, int, float]
"""What :func:`standing_after_seat` found: (the stretch to stand on, its pelvic tilt and trunk flexion relative to
the zero (deg), how many quiet stretches and how long (s) in all held such a posture)."""


def standing_after_seat(recording: Recording, choice: StanceChoice, forwards: dict[str, np.ndarray | None],
                        params: StanceSearchParams | None = None) -> Seat | None:
    """A zero taken on a seat: the standing posture the person comes back to, or None.

    Sitting tilts the pelvis back by 10-20 deg while the trunk stays about upright (the lumbar spine flexes
    to keep it so). Relative to a seated zero, standing then holds the pelvis that far forward with the trunk
    where it was; relative to a standing zero no quiet posture does (sitting tilts the pelvis the other way,
    a hinge tips the trunk, swaying standing moves both alike). Over the quiet stretches other than the zero,
    tilts in each segment's sagittal plane (``forwards``, from the hinges; None: no check): when those with the
    pelvis ``seat_pelvis_deg`` or more forward and the trunk within ``seat_trunk_deg`` add up to ``seat_min_s``,
    the longest of them is the standing posture (the longest: the one most forward, 11 deg where most stands read
    7-9, is no more standing than they), unless the person stood in the zero's posture, a hinge away from it,
    before the first of them (:func:`_back_at_zero`): a sensor that slipped forward later looks the same from
    then on (two of 80 random real-world combinations, slips of 5.7 and 7.9 deg at 13 s, read as 5-8 deg
    forward; a simulated RDL set with the sacrum slipping 7 deg at 8 s, its zero the stand after the first rep,
    in 9 of 12 seeds). Nor when, after the first of them, quiet stretches in the zero's posture (the pelvis within half
    ``seat_pelvis_deg``, the trunk within ``seat_trunk_deg``) add up to as long as they: the person stands in the
    zero's posture, and the others are lockouts held arched (the pelvis forward, the trunk a little back), laid bare
    by cutting quiet stretches at changes of posture (a random real-world session, seed 12022, took three for a
    seat: 14.6 deg of lumbar RMSE).
    """
    p = params or StanceSearchParams()
    frame = _zero_frame(choice, forwards)
    if frame is None:
        return None
    up, fwd = frame
    zero = choice.result
    found: list[tuple[tuple[float, float], float, float]] = []
    at_zero: list[tuple[float, float]] = []  # quiet stretches in the zero's posture
    for (a, b), pelvis_deg, trunk_deg in _stretch_tilts(recording, choice.stretches, up, fwd):
        # (the zero's own, tilted by nothing, is neither)
        if not abs(trunk_deg) <= p.seat_trunk_deg:  # (NaN: a stretch without samples, none in practice)
            continue
        if pelvis_deg >= p.seat_pelvis_deg:
            found.append(((a, b), pelvis_deg, trunk_deg))
        elif abs(pelvis_deg) <= 0.5 * p.seat_pelvis_deg:
            at_zero.append((a, b))
    total_s = sum(b - a for (a, b), _, _ in found)
    if total_s < p.seat_min_s or _back_at_zero(recording, zero, found[0][0][0], up, fwd, p):
        return None
    # after the first of them, the zero's posture held again as long in all: the person stands there (the stretches
    # with the pelvis forward are arched lockouts held, which the cut of quiet stretches lays bare)
    if sum(b - a for a, b in at_zero if a > found[0][0][0]) >= total_s:
        return None
    span, pelvis_deg, trunk_deg = max(found, key=lambda x: x[0][1] - x[0][0])  # a real stand, not the most forward
    return span, pelvis_deg, trunk_deg, len(found), total_s


def standing_after_arch(recording: Recording, choice: StanceChoice, forwards: dict[str, np.ndarray | None],
                        params: StanceSearchParams | None = None) -> Seat | None:
    """A zero taken on a lockout held arched: the standing posture the person comes back to, or None.

    A recording that starts moving (a moment's stand, then the first rep) takes the first quiet stretch in the start's
    posture for its zero; an arched lockout (the pelvis tipped forward, the trunk leaning back: 10-20 deg of lumbar
    extension) is within ``match_deg`` of standing, and when the first rep ends in one held half a second, that became
    the zero: every stand after it read the lumbar spine flexed by the arch (a random real-world session, seed 48007:
    17 deg of lumbar RMSE, no warning). Relative to such a zero, the stands hold the trunk tilted forward of the pelvis
    by ``arch_lumbar_deg`` or more, the trunk within ``arch_trunk_deg`` of upright, and so does the moment's stand the
    recording started in (the start of one whose zero is its quiet start is the zero's posture). Asked only of a zero
    that is no fallback; the stands must add up to ``seat_min_s`` and to longer than the quiet stretches in the zero's
    posture (the lumbar angle within half ``arch_lumbar_deg``, the zero's own included). The longest of the
    stands is the zero instead (as for a seat: :func:`standing_after_seat`). Returns what that one returns.
    """
    p = params or StanceSearchParams()
    frame = _zero_frame(choice, forwards)
    if frame is None or choice.how != "quiet":
        return None
    up, fwd = frame
    pelvis, trunk = SENSOR_ROLES
    t_start = max(float(recording[r].time_s[0]) for r in SENSOR_ROLES)
    start = {r: _sagittal_deg(recording[r], t_start, t_start + p.start_s, up[r], fwd[r]) for r in SENSOR_ROLES}
    if not start[trunk] - start[pelvis] >= 0.5 * p.arch_lumbar_deg:  # the recording started in the zero's posture
        return None  # (as one whose zero is its quiet start does)
    found: list[tuple[tuple[float, float], float, float]] = []
    at_zero_s = 0.0  # quiet in the zero's posture (its own stretch too)
    for (a, b), pelvis_deg, trunk_deg in _stretch_tilts(recording, choice.stretches, up, fwd):
        if not abs(trunk_deg) <= p.arch_trunk_deg:
            continue
        if trunk_deg - pelvis_deg >= p.arch_lumbar_deg:
            found.append(((a, b), pelvis_deg, trunk_deg))
        elif abs(trunk_deg - pelvis_deg) <= 0.5 * p.arch_lumbar_deg:
            at_zero_s += b - a
    total_s = sum(b - a for (a, b), _, _ in found)
    if total_s < p.seat_min_s or at_zero_s >= total_s:
        return None
    span, pelvis_deg, trunk_deg = max(found, key=lambda x: x[0][1] - x[0][0])  # a real stand: the longest
    return span, pelvis_deg, trunk_deg, len(found), total_s


def _zero_frame(choice: StanceChoice, forwards: dict[str, np.ndarray | None]
                ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]] | None:
    """Each segment's up (its gravity at the zero, unit) and forward, or None without a forward direction for both."""
    fwd = {r: forwards.get(r) for r in SENSOR_ROLES}
    if any(f is None for f in fwd.values()):
        return None
    up = {r: _unit(np.asarray(choice.result.sensors[r].acc_mean_m_s2, dtype=float)) for r in SENSOR_ROLES}
    return up, {r: f for r, f in fwd.items() if f is not None}


def _stretch_tilts(recording: Recording, stretches: Sequence[tuple[float, float]], up: dict[str, np.ndarray],
                   forwards: dict[str, np.ndarray]) -> Iterator[tuple[tuple[float, float], float, float]]:
    """Per quiet stretch: ``(stretch, pelvic tilt, trunk tilt)``, forward of the zero in each sagittal plane (deg)."""
    pelvis, trunk = SENSOR_ROLES
    for a, b in stretches:
        tilt = {r: _sagittal_deg(recording[r], a, b, up[r], forwards[r]) for r in SENSOR_ROLES}
        yield (a, b), tilt[pelvis], tilt[trunk]


def _sagittal_tilts_deg(s: SensorStream, sl: slice, up: np.ndarray, forward: np.ndarray, smooth_s: float) -> np.ndarray:
    """Per sample of ``s[sl]``: the segment's forward tilt (deg) in its sagittal plane from the posture whose gravity
    is ``up`` (unit), the acceleration smoothed over ``smooth_s`` first (as :func:`_sagittal_deg`, sample by sample)."""
    g = _smooth(s.acc_m_s2[sl], max(1, int(round(smooth_s * s.nominal_rate_hz))))
    return np.degrees(np.arctan2(-(g @ forward), g @ up))


def _sagittal_deg(s: SensorStream, a: float, b: float, up: np.ndarray, forward: np.ndarray) -> float:
    """The segment's forward tilt (deg) over ``a..b`` from the posture whose gravity is ``up`` (NaN: no samples)."""
    g = _mean_dir(s, a, b)
    return math.nan if g is None else math.degrees(math.atan2(-float(g @ forward), float(g @ up)))


def _back_at_zero(recording: Recording, zero: StanceResult, t1: float, up: dict[str, np.ndarray],
                  forwards: dict[str, np.ndarray], p: StanceSearchParams) -> bool:
    """Did the person stand in the zero's posture (trunk within ``seat_trunk_deg``, pelvis within half
    ``seat_pelvis_deg``) for ``seat_back_s`` anywhere before ``t1`` (s), with a hinge (the trunk tipped past
    ``seat_excursion_deg``) between that and the zero? The accelerometers' tilts, smoothed over ``seat_smooth_s``,
    on a 20 ms grid."""
    pelvis, trunk = SENSOR_ROLES
    t0 = max(float(recording[r].time_s[0]) for r in SENSOR_ROLES)
    grid = np.arange(t0, t1, 0.02)
    tilt: dict[str, np.ndarray] = {}
    for r in SENSOR_ROLES:  # (the zero lies before t1: samples in every sensor)
        s, m = recording[r], _span(recording[r], t0, t1)
        tilt[r] = np.interp(grid, s.time_s[m], np.abs(_sagittal_tilts_deg(s, m, up[r], forwards[r],
                                                                          p.seat_smooth_s)))  # either way
    tipped = np.flatnonzero(tilt[trunk] > p.seat_excursion_deg)
    at_zero = (tilt[trunk] <= p.seat_trunk_deg) & (tilt[pelvis] < 0.5 * p.seat_pelvis_deg)
    z0, z1 = np.searchsorted(grid, zero.start_s), np.searchsorted(grid, zero.end_s)
    for a, b in _runs(at_zero):
        if b - a < p.seat_back_s / 0.02:
            continue
        between = (tipped >= b) & (tipped < z0) if b <= z0 else (tipped >= z1) & (tipped < a)
        if between.any():
            return True
    return False


def _tilt_spread_deg(s: SensorStream, t0: float, t1: float) -> float:
    """How far gravity wanders (deg, max from its mean) over ``t0..t1``: the zero's uncertainty."""
    u = s.acc_m_s2[_span(s, t0, t1)]  # at least one sample: the span is the first still moments
    u = u / np.linalg.norm(u, axis=1)[:, None]
    wander = np.degrees(np.arccos(np.clip(u @ _unit(u.mean(axis=0)), -1, 1)))
    return float(wander.max(initial=2.0))  # sway: at least ~2 deg (one sample alone shows no wander)


def forward_directions(recording: Recording, up: dict[str, np.ndarray], params: ForwardParams | None = None,
                       threads: int = 1) -> dict[str, np.ndarray | None]:
    """Each segment's forward direction (sensor frame, unit, orthogonal to ``up[role]``) or None.

    A forward tip moves "up" towards -forward. Over the trunk's samples tilted beyond
    ``min_tilt_deg``, the principal axis of the tilt vectors is the sagittal one: hinges tip far
    along it, side bends only across it, twists and walking hardly tilt; its sign is the side the
    tilts mostly go to. The pelvis' tilt vectors count over the moments the trunk is tipped
    forward, so its own side tilts do not count. ``threads``: each sensor's tilts on a thread of its own or in turn
    (the same result).
    """
    p = params or ForwardParams()

    def tilt(role: str) -> tuple[np.ndarray, np.ndarray]:
        s = recording[role]
        u0 = _unit(np.asarray(up[role], dtype=float))
        n = max(1, int(round(p.smooth_s * s.nominal_rate_hz)))
        v = _smooth(s.acc_m_s2, n)
        v /= row_norms(v)[:, None]
        along = v @ u0
        for j in range(3):  # v -= along * u0, a column at a time (no (N, 3) temporaries)
            v[:, j] -= along * u0[j]
        return s.time_s, v  # sin(tilt) towards where "up" went, in the plane across u0

    tilts = per_role(tilt, threads)
    t_trunk, v_trunk = tilts[SENSOR_ROLES[1]]
    big = row_norms(v_trunk) > math.sin(math.radians(p.min_tilt_deg))
    out: dict[str, np.ndarray | None] = {r: None for r in SENSOR_ROLES}
    f_trunk = _principal_forward(v_trunk[big], p)
    if f_trunk is None:
        return out
    out[SENSOR_ROLES[1]] = f_trunk
    forward_tipped = -(v_trunk @ f_trunk) > math.sin(math.radians(p.min_tilt_deg))  # (all of them big ones)
    t_p, v_p = tilts[SENSOR_ROLES[0]]
    i = np.minimum(np.searchsorted(t_p, t_trunk[forward_tipped]), len(t_p) - 1)  # the last sample at most
    out[SENSOR_ROLES[0]] = _principal_forward(v_p[i], p)
    return out


def _principal_forward(v: np.ndarray, p: ForwardParams) -> np.ndarray | None:
    """The axis along which tilt vectors ``v`` (N, 3) spread most, signed towards their mean
    (-forward): side bends to both sides only widen the spread across it, and do not turn it."""
    if len(v) < 3:
        return None
    w, vecs = np.linalg.eigh(v.T @ v)
    axis = vecs[:, -1]
    along = v @ axis
    if abs(float(along.mean())) < math.sin(math.radians(p.min_mean_deg)):
        return None  # no consistent direction: a segment that hardly tips
    return -axis if along.sum() > 0 else axis


__all__ = ["ForwardParams", "Seat", "StanceChoice", "StanceSearchParams", "choose_stance", "forward_directions",
           "standing_after_seat"]
