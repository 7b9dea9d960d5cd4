"""Offline: the rate across each bridged gap, chosen by how well each way of bridging predicts samples nearby.

Live, a filter bridges a gap (a few samples lost over BLE) on a rate taken as linear from the sample before the
gap to the one ending it (:func:`~.base.gap_rate`): all it has. In a smooth hinge that is close; on a body that
wobbles (soft tissue rings at 100-200 deg/s after each swing's turn) the two edge samples are two draws of the
wobble and a 0.1 s hole costs degrees, which the filter forgets only with its accelerometer time constant (3 s).
On simulated sets with 3-6 % of the samples lost in bursts the error the bridges left grew to 20 deg.

Offline the samples after the gap are there too, and other rate models can be read from both sides:
``means`` (the means of as many samples each side as the gap is long, up to :data:`MAX_MEAN_SAMPLES`: the wobble
averaged out), ``quadratic`` (a least-squares parabola through ``bridge_window_s`` each side: a turn's curve) and
``wide`` (a parabola through twice the gap's length each side). None is best everywhere: the means smear a
smooth turn, the parabolas follow the wobble. So each gap takes the model that best predicts held-out samples
next to it: a stretch as long as the gap, with the samples around it, on either side (the ``bridge_checks``
nearest without a gap of their own within ``bridge_search_s``); the summed error of each model's predicted turn
over those held-out stretches picks it. Where no such stretch exists the linear bridge stays.

Measured per gap against the simulator's orientation (``benchmarks/gap_bridges.py``: 31,344 bridged gaps of the
127 lossy sessions among 400 random ones, seeds 30000-30399, drawn after this was built): the summed error of the
turn across the gaps 3,137 deg linear -> 2,575 chosen (0.82; a perfect choice among the four: 1,964); worse than
the linear bridge by over 1 deg at 19 gaps, better at 95. The choice costs 29 ms CPU per lossy recording (0.39 of
its analysis); a recording without gaps pays nothing. Over 840 random sessions (``benchmarks/real_world_mix.py``'s
generator, seeds 4000-24039) analyze's lumbar RMSE: mean 1.014 -> 0.986 deg, p90 1.73 -> 1.64, 56 sessions better
by over 0.1 deg, 18 worse (the worst of them a slip the mount check no longer tells); kettlebell sets with 6 % lost
6.07 -> 2.48, 6.40 -> 3.42.

Used by :meth:`imu_hinge.analysis.pipeline.HingePipeline.analyze` for the angles and reps it reports (the filters
take the rates as ``gap_gyr_rad_s``); its alerts stay the causal pipeline's (contracts.md).
"""

from __future__ import annotations

import numpy as np

from imu_hinge.fusion.base import GAP_FACTOR, gap_rate
from imu_hinge.fusion.gap_repair_params import GapRepairParams

MAX_MEAN_SAMPLES = 10
"""The ``means`` model averages at most this many samples each side of a gap."""
MODELS = ("linear", "means", "quadratic", "wide")
"""The ways of bridging a gap, in the order a tie goes (the live bridge first)."""
ALIKE_RAD = 1e-3
"""Where every model turns the gap within this of the linear bridge (0.06 deg: still, or a slow steady turn),
the linear bridge stays without a check."""


def _parabola_mean(x: np.ndarray, gyr: np.ndarray, missing_s: float) -> np.ndarray:
    """Mean over ``[0, missing_s]`` of the least-squares parabola (a line through two samples) through the rates
    ``gyr`` (K, 3) at times ``x`` (K,) s."""
    deg = min(2, len(x) - 1)
    a = np.vander(x, deg + 1, increasing=True)
    coef = np.linalg.solve(a.T @ a, a.T @ gyr)  # (deg + 1, 3)
    powers = np.arange(1, deg + 2)
    return (missing_s ** (powers - 1) / powers) @ coef  # the integral over [0, missing_s] / missing_s


def model_rates(t: np.ndarray, gyr: np.ndarray, i: int, ts_s: float, window_s: float, first: int = 0,
                stop: int | None = None) -> np.ndarray:
    """The mean rate (rad/s) over the missing part of the gap ending at sample ``i`` by each of :data:`MODELS`
    (4, 3); the models read samples ``first..stop-1`` at most (no other gap among them)."""
    stop = len(t) if stop is None else stop
    dt_s = float(t[i] - t[i - 1])
    missing_s = dt_s - ts_s
    m = max(1, round(missing_s / ts_s))
    out = np.empty((len(MODELS), 3))
    out[0] = gap_rate(gyr[i - 1], gyr[i], dt_s, ts_s)
    n = min(MAX_MEAN_SAMPLES, m)
    out[1] = 0.5 * (gyr[max(first, i - n):i].mean(axis=0) + gyr[i:min(stop, i + n)].mean(axis=0))
    # a rate sample is the mean over the period before its stamp: placed half a period earlier
    for row, n in ((2, max(2, round(window_s / ts_s))), (3, max(3, 2 * m))):
        lo, hi = max(first, i - n), min(stop, i + n)
        out[row] = _parabola_mean(t[lo:hi] - 0.5 * ts_s - t[i - 1], gyr[lo:hi], missing_s)
    return out


def check_errors(t: np.ndarray, gyr: np.ndarray, i: int, ts_s: float, params: GapRepairParams,
                 gaps_before: np.ndarray) -> np.ndarray | None:
    """Each model's summed error (rad, (4,)) in the turn over held-out stretches as long as the gap ending at
    ``i``, next to it on either side (``params.bridge_checks`` a side, within ``bridge_search_s``); None where
    there is none (gaps all around). ``gaps_before`` (N,): how many gaps end at or before each sample."""
    m = max(1, round((float(t[i] - t[i - 1]) - ts_s) / ts_s))
    reach = max(3, 2 * m, round(params.bridge_window_s / ts_s)) + 1  # the widest window any model reads
    far = round(params.bridge_search_s / ts_s)
    errors, used = np.zeros(len(MODELS)), 0
    for side in (-1, 1):
        found = 0
        for d in range(0, far, m):
            end = i - 1 - reach - d if side < 0 else i + m + reach + d  # the sample after the held-out ones
            a, b = end - m - reach, end + reach
            if a < 0 or b >= len(t):
                break
            if gaps_before[b] != gaps_before[a]:  # a gap ends within a + 1..b
                continue
            held = slice(end - m, end)
            keep_t = np.concatenate([t[a:held.start], t[end:b + 1]])
            keep_g = np.concatenate([gyr[a:held.start], gyr[end:b + 1]])
            rates = model_rates(keep_t, keep_g, end - m - a, ts_s, params.bridge_window_s)
            missing_s = float(t[end] - t[end - m - 1]) - ts_s
            errors += np.linalg.norm(rates * missing_s - gyr[held].sum(axis=0) * ts_s, axis=1)
            used += 1
            found += 1
            if found == params.bridge_checks:
                break
    return errors if used else None


def gap_rates(t: np.ndarray, gyr: np.ndarray, rate_hz: float, params: GapRepairParams,
              max_gap_s: float) -> np.ndarray | None:
    """The chosen mean rate (N, 3) rad/s over the missing part of each gap ending at a sample (longer than
    :data:`~.base.GAP_FACTOR` periods, up to ``max_gap_s``: the filters bridge those), NaN rows where none
    ends or the linear bridge was chosen; None when every gap keeps the linear bridge (or there is none)."""
    ts_s = 1.0 / rate_hz
    gap_dt_s = GAP_FACTOR * ts_s
    if not params.bridge_choice or len(t) < 3:
        return None
    dt = np.diff(t)
    gap = dt > gap_dt_s
    gaps_before = np.concatenate([[0], np.cumsum(gap)])
    all_ends = np.flatnonzero(gap) + 1
    out: np.ndarray | None = None
    for k, i in enumerate(all_ends.tolist()):
        dt_s = float(dt[i - 1])
        if dt_s > max_gap_s:
            continue
        first = int(all_ends[k - 1]) if k else 0
        stop = int(all_ends[k + 1]) if k + 1 < len(all_ends) else len(t)
        rates = model_rates(t, gyr, i, ts_s, params.bridge_window_s, first, stop)
        if float(np.abs(rates[1:] - rates[0]).max()) * (dt_s - ts_s) < ALIKE_RAD:
            continue
        errors = check_errors(t, gyr, i, ts_s, params, gaps_before)
        if errors is None:
            continue
        pick = int(np.argmin(errors))
        if pick == 0:
            continue
        if out is None:
            out = np.full((len(t), 3), np.nan)
        out[i] = rates[pick]
    return out


__all__ = ["MODELS", "check_errors", "gap_rates", "model_rates"]
