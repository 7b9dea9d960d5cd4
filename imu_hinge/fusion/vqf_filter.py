"""VQF (Laidig & Seel, Information Fusion 91, 2023) behind :class:`OrientationFilter`.

:class:`VqfFilter` runs VQF's C++ (the ``vqf`` package's own sources, compiled into
``_fusion_loops`` with the core's loops): the per-sample :meth:`VqfFilter.update` for live use and
:meth:`VqfFilter.update_batch`, which runs a block in one C call (about 0.3 us/sample) and gives results
identical to the per-sample calls. :class:`OfflineVqf` wraps the non-causal ``vqf.offlineVQF`` for a research
mode (batch only).

vqf's sample time is fixed at construction. A gap (``dt_s`` > 1.5 nominal periods) is
bridged by gyro integration: the gyro-strapdown quaternion ``gyrQuat`` in vqf's state is
rotated by the bias-corrected rate over the missing time ``dt_s - Ts`` (the rate taken as
linear from the sample before the gap to the one ending it, :func:`~imu_hinge.fusion.base.gap_rate`),
then the sample ending the gap gets the normal update. No accelerometer sample is invented.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from imu_hinge.errors import UsageError
from imu_hinge.fusion import _fusion_loops
from imu_hinge.fusion.base import (
    GAP_FACTOR,
    OrientationFilter,
    batch_intervals,
    bridge_rate,
    gap_rows,
    quat_from_gravity,
    quat_from_rate,
    rows_between,
    step_interval,
)
from imu_hinge.fusion.quiet_bias import (
    PLAN_ENDS,
    QuietBiasEstimator,
    QuietBiasParams,
    QuietWindowPlanner,
)
from imu_hinge.fusion.reanchor_params import ReanchorParams


@dataclass(frozen=True)
class VqfParams:
    """Tuning of :class:`VqfFilter`; vqf 2.1.2 defaults.

    The defaults are kept because nothing measured better: ``tau_acc_s`` on the six BROAD trials
    (started from the first 0.5 s at rest), inclination RMSE mean over trials: 1 s -> 1.41 deg,
    2 -> 0.64, **3 -> 0.55**, 4 -> 0.55, 6 -> 0.59; ``bias_sigma_known_deg_s`` 0.03-0.5 made no
    difference there.
    """

    tau_acc_s: float = 3.0
    """Time constant of the accelerometer low-pass / inclination correction, s."""
    motion_bias_est_enabled: bool = True
    """Estimate gyro bias during motion."""
    rest_bias_est_enabled: bool = True
    """Detect rest and estimate gyro bias at rest."""
    bias_sigma_init_deg_s: float = 0.5
    """Std. dev. of the initial bias estimate when no bias is given to :meth:`VqfFilter.reset`, deg/s."""
    bias_sigma_known_deg_s: float = 0.1
    """Std. dev. given to a bias passed to :meth:`VqfFilter.reset` (a static calibration), deg/s."""
    bias_clip_deg_s: float = 2.0
    """vqf's bound on its bias estimate, each axis, deg/s (vqf's default: an uncalibrated gyro's bias)."""
    known_bias_drift_deg_s: float = 1.0
    """How far a bias given to :meth:`VqfFilter.reset` may drift over a session (warm-up, temperature), deg/s:
    vqf's bound becomes the larger of ``bias_clip_deg_s`` and that bias's largest axis plus this. Without it
    vqf cut a known 3 deg/s bias to 2 and drifted at the rest (MEMS gyros are specified at up to 3-20 deg/s
    zero-rate offset)."""
    bias_forgetting_time_s: float = 100.0
    """Time in which the bias uncertainty grows back to ``bias_sigma_motion``, s."""
    rest_min_s: float = 1.5
    """Minimum duration of rest before it is detected, s."""
    rest_th_gyr_deg_s: float = 2.0
    """Rest detection: gyro deviation threshold, deg/s."""
    rest_th_acc_m_s2: float = 0.5
    """Rest detection: accelerometer deviation threshold, m/s^2."""
    quiet_bias_est_enabled: bool = False
    """Ours, not vqf's: learn the gyro bias from gravity in quiet windows
    (:mod:`imu_hinge.fusion.quiet_bias`). Replaces vqf's rest detection (``rest_bias_est_enabled=True`` named
    beside it is refused, not ignored); vqf's motion bias estimation (if enabled) keeps working between windows."""
    quiet_bias_walk_deg_s_rt_s: float = QuietBiasParams.walk_deg_s_rt_s
    """Quiet-window estimator: assumed random walk of the gyro bias, deg/s per sqrt(s)."""
    quiet_window_noise_deg: float = QuietBiasParams.window_noise_deg
    """Quiet-window estimator: error of gravity's direction from one window, deg."""
    quiet_gap_turn_err_frac: float = QuietBiasParams.gap_turn_err_frac
    """:attr:`QuietBiasParams.gap_turn_err_frac` (0: the turns bridged across gaps taken as exact)."""

    def quiet_params(self) -> QuietBiasParams:
        """The quiet-window estimator's parameters."""
        return QuietBiasParams(walk_deg_s_rt_s=self.quiet_bias_walk_deg_s_rt_s,
                               window_noise_deg=self.quiet_window_noise_deg,
                               gap_turn_err_frac=self.quiet_gap_turn_err_frac)

    def to_vqf(self) -> dict[str, Any]:
        """The same parameters under vqf's own keyword names."""
        return {
            "tauAcc": float(self.tau_acc_s),
            "motionBiasEstEnabled": bool(self.motion_bias_est_enabled),
            "restBiasEstEnabled": bool(self.rest_bias_est_enabled) and not self.quiet_bias_est_enabled,
            "biasSigmaInit": float(self.bias_sigma_init_deg_s),
            "biasForgettingTime": float(self.bias_forgetting_time_s),
            "biasClip": float(self.bias_clip_deg_s),
            "restMinT": float(self.rest_min_s),
            "restThGyr": float(self.rest_th_gyr_deg_s),
            "restThAcc": float(self.rest_th_acc_m_s2),
        }


def _params(kwargs: dict[str, Any]) -> VqfParams:
    known = set(asdict(VqfParams()))
    unknown = sorted(set(kwargs) - known)
    if unknown:
        raise TypeError(f"unknown vqf parameter(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    params = VqfParams(**kwargs)
    if "rest_bias_est_enabled" in kwargs and bool(kwargs["rest_bias_est_enabled"]) and params.quiet_bias_est_enabled:
        # asked for by name, it would be switched off without a word (the pipeline's vqf runs the quiet windows)
        raise TypeError("rest_bias_est_enabled=true has no effect while quiet_bias_est_enabled is on (the quiet-window "
                        "estimator replaces vqf's rest detection; the analysis turns it on for vqf): set "
                        "quiet_bias_est_enabled=false as well to use vqf's rest detection")
    return params


def _as_samples(x: np.ndarray, name: str) -> np.ndarray:
    arr = np.ascontiguousarray(x, dtype=np.float64)
    if arr.shape[-1:] != (3,) or arr.ndim != 2:
        raise ValueError(f"{name} must have shape (N, 3), got {arr.shape}")
    return arr


# vqf's parameters given to its C++ constructor, in the order of the VQFC_* enum of _vqf_shim.h
_VQF_PARAM_KEYS = ("tauAcc", "motionBiasEstEnabled", "restBiasEstEnabled", "biasSigmaInit", "biasForgettingTime",
                   "biasClip", "restMinT", "restThGyr", "restThAcc")
# vqf_state's fields (_fusion_loops.c): gyrQuat (4), accQuat (4), accLpState (6), lastAccLp (3)
_STATE_GYR_QUAT, _STATE_ACC_QUAT, _STATE_ACC_LP, _STATE_LAST_ACC_LP, _STATE_LEN = 0, 4, 8, 14, 17


class VqfFilter(OrientationFilter):
    """Causal VQF, 6D (gyro + accelerometer); bias estimated at rest and in motion.

    Parameters: ``rate_hz`` (nominal sample rate, Hz) and the fields of :class:`VqfParams`
    as keywords. State lives in VQF's C++ object (compiled into ``_fusion_loops`` from the same sources as the
    ``vqf`` package; :attr:`vqf_params` its parameters, :meth:`vqf_state` part of its state).
    """

    name = "vqf"

    def __init__(self, rate_hz: float, **params: Any) -> None:
        super().__init__(rate_hz)
        self.params = _params(params)
        self._gap_dt_s = GAP_FACTOR * self.ts_s
        self._clip_deg_s = math.nan
        self.reset()

    @property
    def vqf_params(self) -> dict[str, Any]:
        """The parameters VQF was built with, under vqf's names (the rest are vqf's defaults)."""
        return {**self.params.to_vqf(), "biasClip": self._clip_deg_s}

    def vqf_state(self) -> dict[str, np.ndarray]:
        """Part of VQF's state, under vqf's names: ``gyrQuat``, ``accQuat``, ``accLpState``, ``lastAccLp``."""
        st = np.empty(_STATE_LEN)
        _fusion_loops.vqf_state(self._vqf, st)
        return {"gyrQuat": st[:_STATE_ACC_QUAT], "accQuat": st[_STATE_ACC_QUAT:_STATE_ACC_LP],
                "accLpState": st[_STATE_ACC_LP:_STATE_LAST_ACC_LP], "lastAccLp": st[_STATE_LAST_ACC_LP:]}

    def reset(self, acc_m_s2: np.ndarray | None = None, gyr_bias_rad_s: np.ndarray | None = None) -> None:
        """Start over.

        ``acc_m_s2`` (3,): mean accelerometer at rest; the filter starts aligned with it
        (``accQuat`` and the low-pass state of the inclination correction set to steady state),
        so there is no convergence transient. ``gyr_bias_rad_s`` (3,): a known gyro bias
        (static calibration), given the uncertainty ``bias_sigma_known_deg_s``.
        """
        bias = np.zeros(3)
        if gyr_bias_rad_s is not None:
            bias = np.ascontiguousarray(gyr_bias_rad_s, dtype=np.float64).reshape(3)
        clip_deg_s = max(self.params.bias_clip_deg_s,
                         float(np.degrees(np.abs(bias).max())) + self.params.known_bias_drift_deg_s)
        if clip_deg_s != self._clip_deg_s:
            # vqf fixes the bound when built: a new one around the known bias, or back to bias_clip_deg_s without one
            self._clip_deg_s = clip_deg_s
            kw = self.vqf_params
            self._vqf = _fusion_loops.vqf_new(self.ts_s, np.array([float(kw[k]) for k in _VQF_PARAM_KEYS]))
        v = self._vqf
        _fusion_loops.vqf_reset(v)
        self._last_gyr: np.ndarray | None = None
        if acc_m_s2 is not None:
            acc0 = np.asarray(acc_m_s2, dtype=float).reshape(3)
            if not (np.all(np.isfinite(acc0)) and np.linalg.norm(acc0) > 0):
                raise ValueError(f"acc_m_s2 for the initial orientation must be finite, non-zero, got {acc0}")
            coeffs = np.empty(5)
            _fusion_loops.vqf_acc_lp_coeffs(v, coeffs)
            b, a = coeffs[:3], coeffs[3:]
            lp = []
            for x0 in acc0:  # steady state of vqf's 2nd-order low-pass for a constant input x0
                lp += [x0 * (1 - b[0]), x0 * (b[2] - a[1])]
            _fusion_loops.vqf_set_state(v, np.array([1.0, 0.0, 0.0, 0.0, *quat_from_gravity(acc0), *lp, *acc0]))
        if gyr_bias_rad_s is not None:
            _fusion_loops.vqf_set_bias(v, bias, float(np.deg2rad(self.params.bias_sigma_known_deg_s)))
        self._quiet: QuietBiasEstimator | None = None
        if self.params.quiet_bias_est_enabled:
            gravity = float(np.linalg.norm(acc_m_s2)) if acc_m_s2 is not None else 9.81
            qp = self.params.quiet_params()
            self._planner = QuietWindowPlanner(qp, self.rate_hz, bias, gravity, self._gap_dt_s)
            self._quiet = QuietBiasEstimator(qp, self.rate_hz, self.vqf_state()["accQuat"])

    @property
    def gyr_bias_rad_s(self) -> np.ndarray:
        """Current gyro bias estimate (3,), rad/s."""
        out = np.empty(3)
        _fusion_loops.vqf_bias(self._vqf, out)
        return out

    @property
    def gyr_bias_sigma_rad_s(self) -> float:
        """vqf's uncertainty of :attr:`gyr_bias_rad_s` (the largest axis's standard deviation, bounded by
        ``bias_sigma_init_deg_s``), rad/s."""
        return _fusion_loops.vqf_bias(self._vqf, np.empty(3))

    def _bridge_gap(self, gyr: np.ndarray, dt_s: float, given: np.ndarray | None = None) -> None:
        """Rotate ``gyrQuat`` by the bias-corrected rate over the missing time ``dt_s - Ts`` (``given``: that rate
        before the bias, when known: :func:`~.base.bridge_rate`)."""
        w = bridge_rate(self._last_gyr, gyr, dt_s, self.ts_s, given) - self.gyr_bias_rad_s
        step = quat_from_rate(w, dt_s - self.ts_s)
        if self._quiet is not None and self._last_gyr is not None:
            self._quiet.add_gap(float(np.linalg.norm(gyr - self._last_gyr)), dt_s - self.ts_s)
        st = np.empty(_STATE_LEN)
        _fusion_loops.vqf_state(self._vqf, st)
        q = np.empty(4)
        _fusion_loops.vqf_quat_multiply(st[:_STATE_ACC_QUAT].copy(), np.ascontiguousarray(step, dtype=np.float64), q)
        st[:_STATE_ACC_QUAT] = q / np.linalg.norm(q)
        _fusion_loops.vqf_set_state(self._vqf, st)

    def update(self, gyr_rad_s: np.ndarray, acc_m_s2: np.ndarray, dt_s: float | None = None,
               gap_gyr_rad_s: np.ndarray | None = None) -> np.ndarray:
        """One sample: gyro (3,) rad/s, acc (3,) m/s^2, ``dt_s`` since the previous one (s) -> quat (4,)
        (``gap_gyr_rad_s``: as :meth:`OrientationFilter.update`)."""
        dt_s = step_interval(dt_s)
        gyr = np.array(gyr_rad_s, dtype=np.float64).reshape(1, 3)  # a copy: kept as the last sample for gaps
        acc = np.ascontiguousarray(acc_m_s2, dtype=np.float64).reshape(1, 3)
        gap = None if gap_gyr_rad_s is None else np.asarray(gap_gyr_rad_s, dtype=np.float64).reshape(1, 3)
        if self._quiet is not None:
            return self._run_quiet(gyr, acc, None if dt_s is None else np.array([dt_s], dtype=np.float64), gap)[0]
        if dt_s is not None and dt_s > self._gap_dt_s:
            self._bridge_gap(gyr[0], float(dt_s), None if gap is None else gap[0])
        out = np.empty((1, 4))
        _fusion_loops.vqf_run(self._vqf, gyr, acc, out)
        self._last_gyr = gyr[0]
        return out[0]

    def update_batch(self, gyr_rad_s: np.ndarray, acc_m_s2: np.ndarray,
                     dt_s: np.ndarray | None = None, gap_gyr_rad_s: np.ndarray | None = None) -> np.ndarray:
        """N samples (N, 3) rad/s and m/s^2, optional ``dt_s`` (N,) s and ``gap_gyr_rad_s`` (N, 3) rad/s (as
        :meth:`OrientationFilter.update`) -> quats (N, 4).

        Runs without gaps go to VQF's C++ update in one call (the GIL released); each gap sample is bridged as in
        :meth:`update`. Identical to N calls of :meth:`update`.
        """
        gyr = _as_samples(gyr_rad_s, "gyr_rad_s")
        acc = _as_samples(acc_m_s2, "acc_m_s2")
        n = gyr.shape[0]
        dt = batch_intervals(dt_s, n, acc.shape[0])
        gap = gap_rows(gap_gyr_rad_s, n)
        if self._quiet is not None:
            return self._run_quiet(gyr, acc, dt, gap)
        out = np.empty((n, 4))
        gaps = [] if dt is None else np.flatnonzero(dt > self._gap_dt_s).tolist()
        start = 0
        for i in gaps:  # the stretch before each gap in one batch, the sample ending the gap on its own
            self._batch(gyr, acc, start, i, out)
            assert dt is not None
            out[i] = self.update(gyr[i], acc[i], float(dt[i]), None if gap is None else gap[i])
            start = i + 1
        self._batch(gyr, acc, start, n, out)
        return out

    def _batch(self, gyr: np.ndarray, acc: np.ndarray, start: int, stop: int, out: np.ndarray) -> None:
        """VQF over the samples ``start:stop`` (none: nothing), into ``out``."""
        if stop > start:
            _fusion_loops.vqf_run(self._vqf, gyr[start:stop], acc[start:stop], out[start:stop])
            self._last_gyr = gyr[stop - 1].copy()

    def _run_quiet(self, gyr: np.ndarray, acc: np.ndarray, dt_s: np.ndarray | None,
                   gap: np.ndarray | None = None) -> np.ndarray:
        """:meth:`update_batch` with the quiet-window bias estimator, over a block of any length
        (live: one sample): the one implementation of both paths.

        The planner cuts the block into stretches where a quiet window starts, ends or closes and at gaps
        (:meth:`QuietWindowPlanner.run`); one C loop (``quiet_run`` in _fusion_loops.c) runs vqf and the estimator
        over them and stops before each gap, which is bridged here.
        """
        assert self._quiet is not None
        n = gyr.shape[0]
        dt = np.full(n, self.ts_s) if dt_s is None else np.ascontiguousarray(dt_s, dtype=np.float64)
        plan, n_ends = self._planner.run(gyr, acc, dt)
        out = np.empty((n, 4))
        j, bridged, state = 0, False, self._quiet.run_args()
        while (j := _fusion_loops.quiet_run(self._vqf, gyr, acc, plan, out, n_ends, j, bridged, *state)) >= 0:
            s = int(plan[j - 1, PLAN_ENDS]) if j else 0  # the gap's sample
            if s > 0:
                self._last_gyr = gyr[s - 1].copy()  # the sample before the gap (from an earlier block: kept)
            self._bridge_gap(gyr[s].copy(), float(dt[s]), None if gap is None else gap[s])
            bridged = True
        if n:
            self._last_gyr = gyr[n - 1].copy()
        return out


class OfflineVqf(OrientationFilter):
    """Non-causal VQF (``vqf.offlineVQF``: forward-backward, uses future samples). Batch only.

    For research-grade angles after the fact; never for live feedback. Parameters as
    :class:`VqfParams`. ``offlineVQF`` has no notion of time steps: across a gap of up to
    :data:`OFFLINE_BRIDGE_S` the missing steps are filled with the rate taken as linear from the sample
    before the gap to the one ending it (as the causal filter bridges) and an accelerometer of zeros, which
    VQF skips (no acceleration is invented; those steps are not output). A longer gap splits the recording,
    each part filtered on its own (inclination is observable in each; heading is arbitrary anyway). Split
    at every gap instead, a few samples between two holes in a fast swing were a part of their own, its
    filter started mid-swing: lockout extension 200 deg on a simulated kettlebell set with 5 % losses
    (tests/test_fusion.py: a swing with a sample lost every 8, 14.9 deg off split, 1.25 bridged as without).
    """

    name = "vqf_offline"

    def __init__(self, rate_hz: float, **params: Any) -> None:
        super().__init__(rate_hz)
        self.params = _params(params)
        self.reset()

    def reset(self, acc_m_s2: np.ndarray | None = None, gyr_bias_rad_s: np.ndarray | None = None) -> None:
        """Forget the previous batch; ``gyr_bias_rad_s`` (3,) rad/s is subtracted before filtering.

        ``acc_m_s2`` is accepted for interface compatibility; the offline filter initialises
        itself from the whole recording.
        """
        self._bias = np.zeros(3) if gyr_bias_rad_s is None else np.asarray(gyr_bias_rad_s, float).reshape(3)
        self._bias_est = self._bias.copy()

    @property
    def gyr_bias_rad_s(self) -> np.ndarray:
        """Bias estimate (3,) rad/s at the end of the last batch (plus any known bias)."""
        return self._bias_est.copy()

    def update(self, gyr_rad_s: np.ndarray, acc_m_s2: np.ndarray, dt_s: float | None = None,
               gap_gyr_rad_s: np.ndarray | None = None) -> np.ndarray:
        raise UsageError("method 'vqf_offline' is non-causal and batch-only: use update_batch() "
                         "or estimate_orientation(), or a causal method such as 'vqf' for live use")

    def update_batch(self, gyr_rad_s: np.ndarray, acc_m_s2: np.ndarray,
                     dt_s: np.ndarray | None = None, gap_gyr_rad_s: np.ndarray | None = None) -> np.ndarray:
        """N samples (N, 3) rad/s and m/s^2, optional ``dt_s`` (N,) s and ``gap_gyr_rad_s`` (N, 3) rad/s (where known,
        the mean rate over the missing part of the gap each sample ends: its missing steps turn at that rate)
        -> quats (N, 4)."""
        from vqf import offlineVQF  # the vqf package's offline filter (loaded on first use: start-up)

        gyr = _as_samples(gyr_rad_s, "gyr_rad_s") - self._bias
        acc = _as_samples(acc_m_s2, "acc_m_s2")
        n = gyr.shape[0]
        dt = batch_intervals(dt_s, n, acc.shape[0])
        gap = gap_rows(gap_gyr_rad_s, n)
        given = None if gap is None else gap - self._bias
        splits: list[int] = []
        steps = np.ones(n, dtype=np.int64)  # filter steps each sample takes: 1, or 1 + the missing ones before it
        if dt is not None and n > 1:
            splits = [i for i in np.flatnonzero(dt > OFFLINE_BRIDGE_S).tolist() if i > 0]
            bridged = np.flatnonzero((dt > GAP_FACTOR * self.ts_s) & (dt <= OFFLINE_BRIDGE_S))
            steps[bridged] = np.maximum(np.rint(dt[bridged] / self.ts_s).astype(np.int64), 2)
        out = np.empty((n, 4))
        start = 0
        for stop in [*splits, n] if n else []:  # splits rise from 1: each run holds samples
            g, a, real = _bridged(gyr[start:stop], acc[start:stop], steps[start:stop], rows_between(given, start, stop))
            res = offlineVQF(g, a, None, self.ts_s, self.params.to_vqf())
            out[start:stop] = res["quat6D"][real]
            self._bias_est = self._bias + res["bias"][-1]
            start = stop
        return out


OFFLINE_BRIDGE_S = ReanchorParams().gap_s
"""The offline filter bridges gaps up to this long, s: the causal pipeline's default, after which it re-anchors
(inside the pipeline :class:`~.reanchor.Reanchor` splits a stream at its own ``gap_s`` before any filter sees it)."""


def _bridged(gyr: np.ndarray, acc: np.ndarray, steps: np.ndarray,
             given: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One run's samples with the missing steps of each bridged gap put in before the sample ending it: the rate
    linear from the sample before to that one (or ``given``'s row of that sample where finite: the mean over the
    missing steps), the accelerometer zeros. Returns gyro, accelerometer (M, 3) and the real samples' indices
    among the M steps."""
    steps = steps.copy()
    steps[0] = 1  # nothing before the run's first sample to bridge from (a block may start after a gap)
    real = np.cumsum(steps) - 1
    m = int(real[-1]) + 1 if len(real) else 0
    g = np.empty((m, 3))
    a = np.zeros((m, 3))
    g[real], a[real] = gyr, acc
    for i in np.flatnonzero(steps > 1).tolist():
        k = steps[i]
        frac = (np.arange(1, k) / k)[:, None]  # the missing steps between sample i - 1 and sample i
        if given is not None and bool(np.isfinite(given[i]).all()):
            g[real[i] - k + 1:real[i]] = given[i]
        else:
            g[real[i] - k + 1:real[i]] = gyr[i - 1] + frac * (gyr[i] - gyr[i - 1])
    return np.ascontiguousarray(g), np.ascontiguousarray(a), real
