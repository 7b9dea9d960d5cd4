"""Ground truth: segment angle traces on a uniform grid and per-rep boundaries, peaks and labels.

Angles are in deg relative to the standing posture at the start (contracts section 3):
pelvic tilt ``P`` and trunk flexion ``T`` are the segments' true sagittal inclination
changes, lumbar flexion is ``L = T - P``. A rep starts when the planned trunk trajectory
leaves standing, its bottom is the peak of the true ``T``, and it ends when the planned
trunk returns to standing (crosses zero). Labels follow the detector's default rules:
``lumbar_flexion`` peak L > 24 (False < 16), ``lockout_hyperextension`` min L < -11 from
0.2 s before to 1.2 s after the end (False > -5), ``lumbar_led`` L reaches 10 deg more than
0.08 s before P does in the descent (False when more than 0.08 s after); ``None`` is borderline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from imu_hinge.simulation.motion_plan import RepPlan

STANDING_EPS_DEG = 1e-6
"""The planned trunk angle counts as 'standing' at or below this value."""


def resample(grid_t: np.ndarray, values: np.ndarray, rate_hz: float, duration_s: float) -> tuple[np.ndarray,
                                                                                                  np.ndarray]:
    """Uniform grid ``0, 1/rate, ... <= duration`` (M,) and ``values`` (N,) interpolated onto it."""
    t = np.arange(0.0, duration_s + 1e-9, 1.0 / rate_hz)
    return t, np.interp(t, grid_t, values)


def _first_cross(t: np.ndarray, x: np.ndarray, level: float) -> float:
    i = np.flatnonzero(x >= level)
    return float(t[i[0]]) if len(i) else float("inf")


def _labels(t: np.ndarray, pelvic: np.ndarray, lumbar: np.ndarray, start: float, bottom: float,
            end: float) -> tuple[dict[str, bool | None], float]:
    rep = (t >= start) & (t <= end)
    peak = float(lumbar[rep].max())
    late = (t >= end - 0.2) & (t <= end + 1.2)
    low = float(lumbar[late].min()) if late.any() else 0.0
    down = (t >= start) & (t <= bottom)
    t_l, t_p = _first_cross(t[down], lumbar[down], 10.0), _first_cross(t[down], pelvic[down], 10.0)
    led: bool | None
    if np.isinf(t_l):
        led = False
    elif np.isinf(t_p):
        led = True
    else:
        led = True if t_p - t_l > 0.08 else False if t_p - t_l < -0.08 else None
    labels = {
        "lumbar_flexion": True if peak > 24 else False if peak < 16 else None,
        "lockout_hyperextension": True if low < -11 else False if low > -5 else None,
        "lumbar_led": led,
    }
    return labels, low


def rep_truth(grid_t: np.ndarray, trunk_plan_deg: np.ndarray, plans: list[RepPlan], truth_t: np.ndarray,
              pelvic: np.ndarray, trunk: np.ndarray, lumbar: np.ndarray) -> list[dict]:
    """Truth record of every planned rep.

    ``grid_t``/``trunk_plan_deg`` (N,): the fine grid and the planned (sway-free) trunk angle,
    used for the boundaries; ``truth_t`` and the angle traces (M,): the written truth grid,
    used for bottoms, peaks and labels (as an independent scorer sees them).
    """
    out = []
    for plan in plans:
        w0, w1 = plan.window_s
        inside = (grid_t >= w0 - 0.05) & (grid_t <= w1 + 0.05)
        idx = np.flatnonzero(inside)
        standing = trunk_plan_deg[idx] <= STANDING_EPS_DEG
        peak_i = idx[int(np.argmax(trunk_plan_deg[idx]))]
        before = idx[(idx <= peak_i) & standing]
        after = idx[(idx >= peak_i) & standing]
        start = float(grid_t[before[-1]]) if len(before) else float(w0)
        end = float(grid_t[after[0]]) if len(after) else float(w1)
        rep = (truth_t >= start) & (truth_t <= end)
        ti, pi, tr, lu = truth_t[rep], pelvic[rep], trunk[rep], lumbar[rep]
        b = int(np.argmax(tr))
        bottom = float(ti[b])
        labels, low = _labels(truth_t, pelvic, lumbar, start, bottom, end)
        t5_l = _first_cross(ti[:b + 1], lu[:b + 1], 5.0)
        t5_p = _first_cross(ti[:b + 1], pi[:b + 1], 5.0)
        lag = t5_l - t5_p if np.isfinite(t5_l) and np.isfinite(t5_p) else None
        out.append({
            "index": plan.index,
            "kind": plan.kind,
            "start_s": round(start, 4),
            "bottom_s": round(bottom, 4),
            "end_s": round(end, 4),
            "peak_pelvic_tilt_deg": round(float(pi.max()), 4),
            "peak_lumbar_flexion_deg": round(float(lu.max()), 4),
            "peak_trunk_flexion_deg": round(float(tr.max()), 4),
            "lockout_extension_deg": round(max(0.0, -low), 4),
            "min_lumbar_flexion_deg": round(float(lu.min()), 4),
            "hinge_share": round(float(pi[b] / tr[b]), 4) if tr[b] > 1 else None,
            "onset_lag_s": None if lag is None else round(float(lag), 4),
            "exercise": plan.exercise,
            "set": plan.set_index,
            "injected_faults": list(plan.faults),
            "labels": labels,
        })
    return out


class _FoundRep(Protocol):
    @property
    def bottom_s(self) -> float: ...


def match_reps(truth: Sequence[Mapping[str, Any]], found: Sequence[_FoundRep]) -> list[int | None]:
    """Which found rep is which true one: for each true rep (its ``start_s`` and ``end_s``), the index in ``found``
    of the first rep not matched already whose bottom lies inside it, else None (missed). Found reps matched by no
    true rep are extra ones."""
    used: set[int] = set()
    out: list[int | None] = []
    for tr in truth:
        i = next((i for i, r in enumerate(found) if i not in used and tr["start_s"] <= r.bottom_s <= tr["end_s"]), None)
        if i is not None:
            used.add(i)
        out.append(i)
    return out
